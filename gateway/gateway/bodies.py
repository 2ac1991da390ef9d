"""Request bodies: lowerCamelCase JSON, validated once here and then copied into
the protobuf request with `json_format.ParseDict`, so field names match the
proto's JSON names one to one.

Unknown fields are refused (400). Fields that carry a secret are documented
as write-only passwords; error answers never repeat any submitted value.
Business rules (which method needs which field) stay in the connector service.

REST spellings that differ from the proto are translated here: `method` is an auth mode's
REST word (`gateway.enums`; the proto name is accepted, deprecated), and credential dicts
(`credentials`, probe `config`) use lowerCamelCase names that become the catalog's
(`gateway.naming`; the snake_case name is accepted, deprecated).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gateway import enums, naming

M = TypeVar("M", bound=Message)


def _auth_word(value: Any) -> Any:
    """The REST word for a deprecated proto name (`AUTH_MODE_API_KEY`); anything else as sent."""
    return (enums.from_rest(enums.AUTH_MODE, value) or value) if isinstance(value, str) else value


if TYPE_CHECKING:  # the Literal's values come from the proto at run time
    AuthMethod = str
else:
    AuthMethod = Annotated[
        Literal[enums.words(enums.AUTH_MODE)],
        BeforeValidator(_auth_word),
        Field(description="The auth mode's REST word. Deprecated: its proto name (`AUTH_MODE_OAUTH2`)."),
    ]
_FORM_NOTE = (
    " Field names as the connector's credentialFields list them (lowerCamelCase, e.g. `cursorColumn`, "
    "`sslMode`); deprecated: the snake_case spelling (`cursor_column`, `sslmode`)."
)


_CONNECT_PARAMS_NOTE = (
    "Values for the connector's connectParams (names as ListConnectors shows them, e.g. `domain`, `shop`);"
    " letters, digits, '.', '-' and '_' only. Stored as the connection's system metadata."
)


def _snake_connect_params(payload: dict[str, Any]) -> dict[str, Any]:
    if "connectParams" in payload:
        payload["connectParams"] = naming.snake_keys(payload["connectParams"])
    return payload


def _secret(description: str) -> Any:
    return Field(None, description=description, json_schema_extra={"format": "password", "writeOnly": True})


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)

    def proto_json(self) -> dict[str, Any]:
        """The body as protobuf JSON; override where the REST shape differs from the proto."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_proto(self, message: M, **path_fields: Any) -> M:
        """Fill `message` from the body, then from the URL's path fields."""
        json_format.ParseDict(self.proto_json(), message)
        for name, value in path_fields.items():
            setattr(message, name, value)
        return message


class OAuthSettingsBody(Body):
    client_id: str | None = None
    client_secret: str | None = _secret("Stored in the vault; answers only report clientSecretSet.")
    scopes: list[str] | None = None
    redirect_uri: str | None = None


class ConnectorSettingsBody(Body):
    enabled: bool | None = None
    extra_details: bool | None = Field(None, description="Include the provider's original document as `raw`.")
    oauth: OAuthSettingsBody | None = None


class ProbeBody(Body):
    connection_id: str | None = None
    config: dict[str, Any] | None = Field(
        None, description="Credentials form to probe without a connection (credentials mode)." + _FORM_NOTE
    )

    def proto_json(self) -> dict[str, Any]:
        payload = super().proto_json()
        if "config" in payload:
            payload["config"] = naming.snake_keys(payload["config"])
        return payload


class ConnectBody(Body):
    workspace_id: str
    method: AuthMethod | None = Field(None, description="Empty picks the connector's first auth mode.")
    redirect_uri: str | None = None
    scopes: list[str] | None = None
    return_url: str | None = Field(None, description="Where GET /api/oauth/callback sends the browser when done.")
    connect_params: dict[str, str] | None = Field(None, description=_CONNECT_PARAMS_NOTE)

    def proto_json(self) -> dict[str, Any]:
        return _snake_connect_params(super().proto_json())


class ConnectCallbackBody(Body):
    workspace_id: str | None = None
    method: AuthMethod | None = None
    code: str | None = _secret("OAuth2 authorization code.")
    state: str | None = None
    iss: str | None = Field(None, description="RFC 9207 issuer identifier, when the provider sent one.")
    error: str | None = None
    error_description: str | None = None
    api_key: str | None = _secret("API key (api_key/basic modes).")
    api_secret: str | None = _secret("API secret or password (basic mode).")
    credentials: dict[str, Any] | None = Field(
        None, description="Credentials form (credentials mode)." + _FORM_NOTE, json_schema_extra={"writeOnly": True}
    )
    name: str | None = None
    connect_params: dict[str, str] | None = Field(
        None,
        description=_CONNECT_PARAMS_NOTE + " For api_key, basic and credentials modes (OAuth2 takes them at connect).",
    )

    def proto_json(self) -> dict[str, Any]:
        payload = _snake_connect_params(super().proto_json())
        if "credentials" in payload:
            payload["credentials"] = naming.snake_keys(payload["credentials"])
        return payload


class ConnectionRefBody(Body):
    connection_id: str


class JobParamsBody(Body):
    containers: list[str] | None = None
    streams: list[Literal["containers", "items", "comments"]] | None = None
    full: bool | None = Field(None, description="Re-read everything and detect deletions.")


class JobBody(Body):
    type: Literal["sync", "import", "probe"]
    connection_id: str
    params: JobParamsBody | None = None


class TextBody(Body):
    text: str
    format: str | None = Field(None, description="plain | markdown | adf | storage | html")


class ItemBody(Body):
    connection_id: str
    container_id: str
    title: str
    body: TextBody | None = None
    fields: dict[str, Any] | None = Field(None, description="Provider-specific fields.")


class CommentBody(Body):
    connection_id: str
    container_id: str | None = None
    item_id: str
    body: TextBody


class WebhookBody(Body):
    connection_id: str
    events: list[str] = Field(default_factory=list)
    callback_url: str | None = Field(None, description="Where verified events are forwarded (Standard Webhooks).")
    container_id: str | None = Field(None, description="What to watch: the repository (owner/name) for GitHub.")


class WebhookRefBody(Body):
    webhook_id: str


class ConnectionBody(Body):
    connection_id: str | None = Field(
        None, description="Update this connection; otherwise upsert by connector + workspace."
    )
    connector_id: str | None = None
    workspace_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = Field(
        None,
        description="JSON merge patch (RFC 7396) of the connection's own metadata: absent keys are kept, "
        "null deletes a key. System metadata keys (instanceUrl-like facts set by onboarding) "
        "are refused.",
    )


class TokenSetBody(Body):
    access_token: str = Field(json_schema_extra={"format": "password", "writeOnly": True})
    refresh_token: str | None = _secret("OAuth2 refresh token.")
    expires_at: AwareDatetime | None = None
    token_type: str | None = None
    scope: str | None = None
    metadata: dict[str, Any] | None = Field(
        None, description="Non-secret token-response fields the provider keeps, e.g. Salesforce instance_url."
    )


class TokenBody(Body):
    connection_id: str | None = Field(None, description="Or connectorId + workspaceId (created if missing).")
    connector_id: str | None = None
    workspace_id: str | None = None
    token: str | TokenSetBody = Field(
        description="An access token or API key, or an OAuth2 token set.",
        json_schema_extra={"writeOnly": True},
    )

    def proto_json(self) -> dict[str, Any]:
        payload = super().proto_json()
        token = payload.pop("token")
        payload["tokenString" if isinstance(token, str) else "tokenSet"] = token
        return payload


class SyncStateBody(Body):
    stream: str | None = Field(None, description="Empty means the default stream.")
    cursor: dict[str, Any]
    expected_version: int | None = Field(
        None, ge=0, le=2**53 - 1, description="Compare-and-swap: 0 means no state may exist yet."
    )
