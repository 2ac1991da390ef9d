import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTH_MODE_UNSPECIFIED: _ClassVar[AuthMode]
    AUTH_MODE_OAUTH2: _ClassVar[AuthMode]
    AUTH_MODE_API_KEY: _ClassVar[AuthMode]
    AUTH_MODE_BASIC: _ClassVar[AuthMode]
    AUTH_MODE_CREDENTIALS: _ClassVar[AuthMode]
AUTH_MODE_UNSPECIFIED: AuthMode
AUTH_MODE_OAUTH2: AuthMode
AUTH_MODE_API_KEY: AuthMode
AUTH_MODE_BASIC: AuthMode
AUTH_MODE_CREDENTIALS: AuthMode

class CredentialField(_message.Message):
    __slots__ = ("name", "label", "type", "required", "secret", "description", "default_value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    type: str
    required: bool
    secret: bool
    description: str
    default_value: str
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., type: _Optional[str] = ..., required: _Optional[bool] = ..., secret: _Optional[bool] = ..., description: _Optional[str] = ..., default_value: _Optional[str] = ...) -> None: ...

class OAuthSettings(_message.Message):
    __slots__ = ("client_id", "client_secret", "client_secret_set", "scopes", "redirect_uri")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_SET_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    client_secret: str
    client_secret_set: bool
    scopes: _containers.RepeatedScalarFieldContainer[str]
    redirect_uri: str
    def __init__(self, client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., client_secret_set: _Optional[bool] = ..., scopes: _Optional[_Iterable[str]] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class Connector(_message.Message):
    __slots__ = ("id", "display_name", "auth_modes", "capabilities", "enabled", "extra_details", "oauth", "default_scopes", "pkce", "credential_fields", "base_url", "updated_at", "normalized", "docs_url", "connect_params")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    AUTH_MODES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    EXTRA_DETAILS_FIELD_NUMBER: _ClassVar[int]
    OAUTH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_SCOPES_FIELD_NUMBER: _ClassVar[int]
    PKCE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELDS_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_FIELD_NUMBER: _ClassVar[int]
    DOCS_URL_FIELD_NUMBER: _ClassVar[int]
    CONNECT_PARAMS_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    auth_modes: _containers.RepeatedScalarFieldContainer[AuthMode]
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    extra_details: bool
    oauth: OAuthSettings
    default_scopes: _containers.RepeatedScalarFieldContainer[str]
    pkce: bool
    credential_fields: _containers.RepeatedCompositeFieldContainer[CredentialField]
    base_url: str
    updated_at: _timestamp_pb2.Timestamp
    normalized: bool
    docs_url: str
    connect_params: _containers.RepeatedCompositeFieldContainer[CredentialField]
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., auth_modes: _Optional[_Iterable[_Union[AuthMode, str]]] = ..., capabilities: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., extra_details: _Optional[bool] = ..., oauth: _Optional[_Union[OAuthSettings, _Mapping]] = ..., default_scopes: _Optional[_Iterable[str]] = ..., pkce: _Optional[bool] = ..., credential_fields: _Optional[_Iterable[_Union[CredentialField, _Mapping]]] = ..., base_url: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., normalized: _Optional[bool] = ..., docs_url: _Optional[str] = ..., connect_params: _Optional[_Iterable[_Union[CredentialField, _Mapping]]] = ...) -> None: ...

class ListConnectorsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListConnectorsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Connector]
    def __init__(self, items: _Optional[_Iterable[_Union[Connector, _Mapping]]] = ...) -> None: ...

class GetConnectorRequest(_message.Message):
    __slots__ = ("connector_id",)
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    def __init__(self, connector_id: _Optional[str] = ...) -> None: ...

class GetConnectorResponse(_message.Message):
    __slots__ = ("connector",)
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    connector: Connector
    def __init__(self, connector: _Optional[_Union[Connector, _Mapping]] = ...) -> None: ...

class UpdateConnectorRequest(_message.Message):
    __slots__ = ("connector_id", "enabled", "extra_details", "oauth")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    EXTRA_DETAILS_FIELD_NUMBER: _ClassVar[int]
    OAUTH_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    enabled: bool
    extra_details: bool
    oauth: OAuthSettings
    def __init__(self, connector_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., extra_details: _Optional[bool] = ..., oauth: _Optional[_Union[OAuthSettings, _Mapping]] = ...) -> None: ...

class UpdateConnectorResponse(_message.Message):
    __slots__ = ("connector",)
    CONNECTOR_FIELD_NUMBER: _ClassVar[int]
    connector: Connector
    def __init__(self, connector: _Optional[_Union[Connector, _Mapping]] = ...) -> None: ...

class ProbeConnectorRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id", "config")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    config: _struct_pb2.Struct
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ProbeConnectorResponse(_message.Message):
    __slots__ = ("connector_id", "capabilities", "instance")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    instance: _struct_pb2.Struct
    def __init__(self, connector_id: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., instance: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("connector_id", "workspace_id", "method", "redirect_uri", "scopes", "return_url", "connect_params")
    class ConnectParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    CONNECT_PARAMS_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    workspace_id: str
    method: str
    redirect_uri: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    return_url: str
    connect_params: _containers.ScalarMap[str, str]
    def __init__(self, connector_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., method: _Optional[str] = ..., redirect_uri: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., return_url: _Optional[str] = ..., connect_params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("method", "auth_url", "state", "expires_at", "fields")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    AUTH_URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    method: str
    auth_url: str
    state: str
    expires_at: _timestamp_pb2.Timestamp
    fields: _containers.RepeatedCompositeFieldContainer[CredentialField]
    def __init__(self, method: _Optional[str] = ..., auth_url: _Optional[str] = ..., state: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fields: _Optional[_Iterable[_Union[CredentialField, _Mapping]]] = ...) -> None: ...

class ConnectCallbackRequest(_message.Message):
    __slots__ = ("connector_id", "workspace_id", "code", "state", "iss", "error", "error_description", "api_key", "api_secret", "credentials", "method", "name", "connect_params")
    class ConnectParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ISS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    API_SECRET_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONNECT_PARAMS_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    workspace_id: str
    code: str
    state: str
    iss: str
    error: str
    error_description: str
    api_key: str
    api_secret: str
    credentials: _struct_pb2.Struct
    method: str
    name: str
    connect_params: _containers.ScalarMap[str, str]
    def __init__(self, connector_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., code: _Optional[str] = ..., state: _Optional[str] = ..., iss: _Optional[str] = ..., error: _Optional[str] = ..., error_description: _Optional[str] = ..., api_key: _Optional[str] = ..., api_secret: _Optional[str] = ..., credentials: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., method: _Optional[str] = ..., name: _Optional[str] = ..., connect_params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ConnectCallbackResponse(_message.Message):
    __slots__ = ("connection_id", "status", "return_url")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    status: str
    return_url: str
    def __init__(self, connection_id: _Optional[str] = ..., status: _Optional[str] = ..., return_url: _Optional[str] = ...) -> None: ...

class CompleteOAuthRedirectRequest(_message.Message):
    __slots__ = ("code", "state", "iss", "error", "error_description")
    CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ISS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    code: str
    state: str
    iss: str
    error: str
    error_description: str
    def __init__(self, code: _Optional[str] = ..., state: _Optional[str] = ..., iss: _Optional[str] = ..., error: _Optional[str] = ..., error_description: _Optional[str] = ...) -> None: ...

class CompleteOAuthRedirectResponse(_message.Message):
    __slots__ = ("connection_id", "status", "return_url", "connector_id")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    status: str
    return_url: str
    connector_id: str
    def __init__(self, connection_id: _Optional[str] = ..., status: _Optional[str] = ..., return_url: _Optional[str] = ..., connector_id: _Optional[str] = ...) -> None: ...

class ValidateConnectorRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ...) -> None: ...

class ValidateConnectorResponse(_message.Message):
    __slots__ = ("connection_id", "valid", "status", "message", "validated_at")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_AT_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    valid: bool
    status: str
    message: str
    validated_at: _timestamp_pb2.Timestamp
    def __init__(self, connection_id: _Optional[str] = ..., valid: _Optional[bool] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., validated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeConnectorRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ...) -> None: ...

class RevokeConnectorResponse(_message.Message):
    __slots__ = ("connection_id", "status", "revoked_upstream")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    status: str
    revoked_upstream: bool
    def __init__(self, connection_id: _Optional[str] = ..., status: _Optional[str] = ..., revoked_upstream: _Optional[bool] = ...) -> None: ...
