"""A connect session as a caller: what it may call and with which arguments.

A session token authenticates like an API key (`authorization: Bearer ucfcs_...`) but its
principal has no scope: it may call only `SESSION_METHODS`, and only for its own tenant,
workspace and allowed connectors. `restrict` checks (and fills in) the request before the
handler sees it: an absent workspace becomes the session's, another one is refused, a
connector outside the session's list is refused, and an OAuth2 start returns to the hosted
page instead of any URL the caller names.
"""

from __future__ import annotations

from typing import Any

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connect.sessions import ConnectSession, ConnectSessionStore

_C = "/ucf.connector.v1."
CONNECT = _C + "ConnectorService/Connect"
CALLBACK = _C + "ConnectorService/ConnectCallback"
LIST_CONNECTORS = _C + "ConnectorService/ListConnectors"
GET_SESSION = _C + "ConnectSessionService/GetConnectSession"
SESSION_METHODS = frozenset({CONNECT, CALLBACK, LIST_CONNECTORS, GET_SESSION})


class SessionGuard:
    def __init__(self, sessions: ConnectSessionStore, public_url: str):
        self._sessions = sessions
        self.done_url = public_url.rstrip("/") + "/connect/done"

    async def check(self, token: str) -> ConnectSession | None:
        return await self._sessions.check(token)

    def restrict(self, session: ConnectSession, method: str, request: Any) -> None:
        if method not in SESSION_METHODS:
            raise UcfError(ErrorCode.FORBIDDEN, "a connect session token may only be used by the Connect page")
        if method not in (CONNECT, CALLBACK):
            return
        if not session.allows_connector(request.connector_id):
            raise UcfError(ErrorCode.FORBIDDEN, "this connect session does not allow that connector")
        if request.workspace_id and request.workspace_id != session.workspace_id:
            raise UcfError(ErrorCode.FORBIDDEN, "this connect session is for another workspace")
        request.workspace_id = session.workspace_id
        if method == CONNECT:
            request.return_url = self.done_url
            request.redirect_uri = ""
