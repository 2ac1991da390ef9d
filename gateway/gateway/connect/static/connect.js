// UCF Connect embed script. Load it from the gateway and call
//   UcfConnect.open({ token: "<connect session token>" }).then(function (r) { r.connectionId; });
// It opens the hosted Connect page in a popup and resolves with the result the page posts back.
// Messages are accepted only from the gateway's origin and from that popup; the page posts only
// to the opener origin the tenant allows (allowedReturnOrigins).
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script ? script.src : "/connect/connect.js", window.location.href).origin;

  function failure(code, text) {
    var err = new Error(text || code);
    err.code = code;
    return err;
  }

  function open(options) {
    options = options || {};
    return new Promise(function (resolve, reject) {
      if (!options.token) { reject(failure("invalid_request", "a connect session token is required")); return; }
      var url = base + "/connect?session=" + encodeURIComponent(options.token) +
        "&origin=" + encodeURIComponent(window.location.origin);
      var popup = window.open(url, "ucf-connect", "popup,width=" + (options.width || 480) + ",height=" + (options.height || 720));
      if (!popup) { reject(failure("popup_blocked", "the browser blocked the Connect window")); return; }
      var timer = null;
      function finish() { window.removeEventListener("message", onMessage); if (timer) window.clearInterval(timer); }
      function onMessage(event) {
        if (event.origin !== base || event.source !== popup) return;
        var data = event.data || {};
        if (data.type !== "ucf-connect:result") return;
        finish();
        if (data.connectionId) {
          resolve({ connectionId: data.connectionId, connectorId: data.connectorId, status: data.status });
        } else {
          reject(failure(data.error || "unknown", data.errorDescription));
        }
      }
      window.addEventListener("message", onMessage);
      timer = window.setInterval(function () {
        if (popup.closed) { finish(); reject(failure("closed", "the Connect window was closed")); }
      }, 500);
    });
  }

  window.UcfConnect = { open: open };
})();
