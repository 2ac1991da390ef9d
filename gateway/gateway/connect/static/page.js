// The hosted Connect page's only script: hands the result to the opener (connect.js) or the app.
(function () {
  "use strict";
  // After the connect-params form: on to the provider's sign-in page (a link, not a form redirect).
  var go = document.getElementById("continue");
  if (go && go.dataset.auto) { window.location.assign(go.href); return; }
  var result = document.getElementById("result");
  if (!result) return;
  var d = result.dataset;
  var message = d.connectionId
    ? { type: "ucf-connect:result", connectionId: d.connectionId, connectorId: d.connectorId, status: d.status }
    : { type: "ucf-connect:result", error: d.error, errorDescription: d.errorDescription };
  // Only to the origin the tenant allows (checked by the server when the page was opened).
  if (d.openerOrigin && window.opener && !window.opener.closed) {
    window.opener.postMessage(message, d.openerOrigin);
    window.setTimeout(function () { window.close(); }, 300);
    return;
  }
  if (d.returnTo) {
    window.setTimeout(function () { window.location.assign(d.returnTo); }, 1200);
  }
})();
