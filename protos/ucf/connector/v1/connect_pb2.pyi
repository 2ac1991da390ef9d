import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EndUser(_message.Message):
    __slots__ = ("id", "email", "display_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    email: str
    display_name: str
    def __init__(self, id: _Optional[str] = ..., email: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class TenantSettings(_message.Message):
    __slots__ = ("name", "logo_url", "primary_color", "allowed_return_origins", "updated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOGO_URL_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_COLOR_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_RETURN_ORIGINS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    logo_url: str
    primary_color: str
    allowed_return_origins: _containers.RepeatedScalarFieldContainer[str]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., logo_url: _Optional[str] = ..., primary_color: _Optional[str] = ..., allowed_return_origins: _Optional[_Iterable[str]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateConnectSessionRequest(_message.Message):
    __slots__ = ("workspace_id", "allowed_connectors", "end_user", "return_url", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_CONNECTORS_FIELD_NUMBER: _ClassVar[int]
    END_USER_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    allowed_connectors: _containers.RepeatedScalarFieldContainer[str]
    end_user: EndUser
    return_url: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, workspace_id: _Optional[str] = ..., allowed_connectors: _Optional[_Iterable[str]] = ..., end_user: _Optional[_Union[EndUser, _Mapping]] = ..., return_url: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateConnectSessionResponse(_message.Message):
    __slots__ = ("token", "url", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    url: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., url: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetConnectSessionRequest(_message.Message):
    __slots__ = ("embed_origin",)
    EMBED_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    embed_origin: str
    def __init__(self, embed_origin: _Optional[str] = ...) -> None: ...

class ConnectSession(_message.Message):
    __slots__ = ("id", "tenant_id", "workspace_id", "allowed_connectors", "end_user", "return_url", "tags", "expires_at")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_CONNECTORS_FIELD_NUMBER: _ClassVar[int]
    END_USER_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    workspace_id: str
    allowed_connectors: _containers.RepeatedScalarFieldContainer[str]
    end_user: EndUser
    return_url: str
    tags: _containers.ScalarMap[str, str]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., allowed_connectors: _Optional[_Iterable[str]] = ..., end_user: _Optional[_Union[EndUser, _Mapping]] = ..., return_url: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetConnectSessionResponse(_message.Message):
    __slots__ = ("session", "tenant", "embed_origin_allowed")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    EMBED_ORIGIN_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    session: ConnectSession
    tenant: TenantSettings
    embed_origin_allowed: bool
    def __init__(self, session: _Optional[_Union[ConnectSession, _Mapping]] = ..., tenant: _Optional[_Union[TenantSettings, _Mapping]] = ..., embed_origin_allowed: _Optional[bool] = ...) -> None: ...

class GetTenantSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTenantSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: TenantSettings
    def __init__(self, settings: _Optional[_Union[TenantSettings, _Mapping]] = ...) -> None: ...

class UpdateTenantSettingsRequest(_message.Message):
    __slots__ = ("name", "logo_url", "primary_color", "allowed_return_origins", "set_allowed_return_origins")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOGO_URL_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_COLOR_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_RETURN_ORIGINS_FIELD_NUMBER: _ClassVar[int]
    SET_ALLOWED_RETURN_ORIGINS_FIELD_NUMBER: _ClassVar[int]
    name: str
    logo_url: str
    primary_color: str
    allowed_return_origins: _containers.RepeatedScalarFieldContainer[str]
    set_allowed_return_origins: bool
    def __init__(self, name: _Optional[str] = ..., logo_url: _Optional[str] = ..., primary_color: _Optional[str] = ..., allowed_return_origins: _Optional[_Iterable[str]] = ..., set_allowed_return_origins: _Optional[bool] = ...) -> None: ...

class UpdateTenantSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: TenantSettings
    def __init__(self, settings: _Optional[_Union[TenantSettings, _Mapping]] = ...) -> None: ...
