"""Typed failures of the OAuth2 layer, all `UcfError`s so the gRPC edge maps them as is.

Messages and details carry the provider's `error` code and a masked, shortened
`error_description`, never a token, code, verifier or client secret.
"""

from __future__ import annotations

import enum

from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import mask_secrets

_DESCRIPTION_LIMIT = 300

#: Provider error codes the user or operator can act on; anything else is the provider's problem.
_CODE_FOR_PROVIDER_ERROR = {
    "access_denied": ErrorCode.FORBIDDEN,
    "invalid_grant": ErrorCode.FAILED_PRECONDITION,
    "invalid_client": ErrorCode.FAILED_PRECONDITION,
    "unauthorized_client": ErrorCode.FAILED_PRECONDITION,
    "invalid_scope": ErrorCode.FAILED_PRECONDITION,
}


def _clean(text: str | None) -> str | None:
    if not text:
        return None
    return mask_secrets(str(text))[:_DESCRIPTION_LIMIT]


class OAuthProviderError(UcfError):
    """The provider answered with an RFC 6749 error (§4.1.2.1 authorization or §5.2 token
    response, or RFC 7009 §2.2.1). `error` is the provider's code, e.g. `invalid_grant`,
    which for a refresh means the refresh token is dead and the connection needs re-auth."""

    def __init__(
        self,
        error: str,
        error_description: str | None = None,
        *,
        error_uri: str | None = None,
        status_code: int | None = None,
        during: str = "token request",
    ):
        self.error = _clean(error) or "unknown_error"
        self.error_description = _clean(error_description)
        self.error_uri = _clean(error_uri)
        self.status_code = status_code
        reason = f"{self.error}: {self.error_description}" if self.error_description else self.error
        details: dict[str, str | int] = {"providerError": self.error}
        if self.error_description:
            details["providerErrorDescription"] = self.error_description
        if status_code is not None:
            details["providerStatus"] = status_code
        super().__init__(
            _CODE_FOR_PROVIDER_ERROR.get(self.error, ErrorCode.UPSTREAM_ERROR),
            f"provider rejected the {during} ({reason})",
            details,
        )


class OAuthUpstreamError(UcfError):
    """The provider could not be reached or answered with something that is not a valid
    OAuth2 response (5xx, HTML, bad JSON).

    `outcome_unknown` is True when the request may have reached the provider but no answer
    came back (read timeout, dropped connection): a refresh may then have rotated the
    refresh token without us seeing the new one.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, outcome_unknown: bool = False, timeout: bool = False
    ):
        self.status_code = status_code
        self.outcome_unknown = outcome_unknown
        details: dict[str, object] = {}
        if status_code is not None:
            details["providerStatus"] = status_code
        super().__init__(ErrorCode.TIMEOUT if timeout else ErrorCode.UPSTREAM_ERROR, message, details)


class RefreshFailureReason(enum.StrEnum):
    PROVIDER_REJECTED = "provider_rejected"  # invalid_grant: the refresh token is dead
    RESULT_LOST = "result_lost"  # a refresh may have rotated the token but its answer was lost
    NO_REFRESH_TOKEN = "no_refresh_token"


class RefreshFailed(UcfError):
    """The credential cannot be refreshed any more; the caller marks the connection
    `refresh_failed` and the user has to reconnect. Raised to every reader that asks for
    the same credential version, without another call to the provider."""

    def __init__(
        self,
        reason: RefreshFailureReason,
        message: str,
        *,
        provider_error: str | None = None,
        provider_error_description: str | None = None,
    ):
        self.reason = RefreshFailureReason(reason)
        self.provider_error = provider_error
        self.provider_error_description = provider_error_description
        details = {"reason": self.reason.value}
        if provider_error:
            details["providerError"] = provider_error
        if provider_error_description:
            details["providerErrorDescription"] = provider_error_description
        super().__init__(ErrorCode.FAILED_PRECONDITION, message, details)
