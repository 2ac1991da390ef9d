import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ucf.connector.v1 import connect_pb2 as _connect_pb2
from ucf.connector.v1 import connectors_pb2 as _connectors_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Connection(_message.Message):
    __slots__ = ("id", "tenant_id", "workspace_id", "connector_id", "name", "status", "auth_mode", "credential_set", "credential_expires_at", "scopes", "metadata", "status_reason", "last_validated_at", "last_refreshed_at", "created_at", "updated_at", "system_metadata", "end_user", "tags")
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
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AUTH_MODE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_SET_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_VALIDATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_REFRESHED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_METADATA_FIELD_NUMBER: _ClassVar[int]
    END_USER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    workspace_id: str
    connector_id: str
    name: str
    status: str
    auth_mode: _connectors_pb2.AuthMode
    credential_set: bool
    credential_expires_at: _timestamp_pb2.Timestamp
    scopes: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    status_reason: str
    last_validated_at: _timestamp_pb2.Timestamp
    last_refreshed_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    system_metadata: _struct_pb2.Struct
    end_user: _connect_pb2.EndUser
    tags: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., connector_id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., auth_mode: _Optional[_Union[_connectors_pb2.AuthMode, str]] = ..., credential_set: _Optional[bool] = ..., credential_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scopes: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status_reason: _Optional[str] = ..., last_validated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_refreshed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., system_metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., end_user: _Optional[_Union[_connect_pb2.EndUser, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListConnectionsRequest(_message.Message):
    __slots__ = ("workspace_id", "connector_id", "cursor", "limit")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    connector_id: str
    cursor: str
    limit: int
    def __init__(self, workspace_id: _Optional[str] = ..., connector_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListConnectionsResponse(_message.Message):
    __slots__ = ("items", "next")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Connection]
    next: str
    def __init__(self, items: _Optional[_Iterable[_Union[Connection, _Mapping]]] = ..., next: _Optional[str] = ...) -> None: ...

class GetConnectionRequest(_message.Message):
    __slots__ = ("connection_id",)
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class GetConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class UpsertConnectionRequest(_message.Message):
    __slots__ = ("connection_id", "connector_id", "workspace_id", "name", "metadata")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    connector_id: str
    workspace_id: str
    name: str
    metadata: _struct_pb2.Struct
    def __init__(self, connection_id: _Optional[str] = ..., connector_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class UpsertConnectionResponse(_message.Message):
    __slots__ = ("connection", "created")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    created: bool
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class DeleteConnectionRequest(_message.Message):
    __slots__ = ("connection_id",)
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class DeleteConnectionResponse(_message.Message):
    __slots__ = ("connection_id",)
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class TokenSet(_message.Message):
    __slots__ = ("access_token", "refresh_token", "expires_at", "token_type", "scope", "metadata")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    expires_at: _timestamp_pb2.Timestamp
    token_type: str
    scope: str
    metadata: _struct_pb2.Struct
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token_type: _Optional[str] = ..., scope: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StoreTokenRequest(_message.Message):
    __slots__ = ("connection_id", "connector_id", "workspace_id", "token_string", "token_set")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_STRING_FIELD_NUMBER: _ClassVar[int]
    TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    connector_id: str
    workspace_id: str
    token_string: str
    token_set: TokenSet
    def __init__(self, connection_id: _Optional[str] = ..., connector_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., token_string: _Optional[str] = ..., token_set: _Optional[_Union[TokenSet, _Mapping]] = ...) -> None: ...

class StoreTokenResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ...) -> None: ...

class GetTokenRequest(_message.Message):
    __slots__ = ("connection_id", "force_refresh")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_REFRESH_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    force_refresh: bool
    def __init__(self, connection_id: _Optional[str] = ..., force_refresh: _Optional[bool] = ...) -> None: ...

class Credential(_message.Message):
    __slots__ = ("connection_id", "kind", "access_token", "token_type", "expires_at", "scope", "fields", "refreshed")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    REFRESHED_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    kind: str
    access_token: str
    token_type: str
    expires_at: _timestamp_pb2.Timestamp
    scope: str
    fields: _struct_pb2.Struct
    refreshed: bool
    def __init__(self, connection_id: _Optional[str] = ..., kind: _Optional[str] = ..., access_token: _Optional[str] = ..., token_type: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scope: _Optional[str] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., refreshed: _Optional[bool] = ...) -> None: ...

class GetTokenResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class ValidateConnectionRequest(_message.Message):
    __slots__ = ("connection_id",)
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class ValidateConnectionResponse(_message.Message):
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

class RevokeConnectionRequest(_message.Message):
    __slots__ = ("connection_id",)
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    def __init__(self, connection_id: _Optional[str] = ...) -> None: ...

class RevokeConnectionResponse(_message.Message):
    __slots__ = ("connection_id", "status", "revoked_upstream")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    status: str
    revoked_upstream: bool
    def __init__(self, connection_id: _Optional[str] = ..., status: _Optional[str] = ..., revoked_upstream: _Optional[bool] = ...) -> None: ...

class SyncState(_message.Message):
    __slots__ = ("connection_id", "stream", "cursor", "version", "updated_at")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    stream: str
    cursor: _struct_pb2.Struct
    version: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, connection_id: _Optional[str] = ..., stream: _Optional[str] = ..., cursor: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., version: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSyncStateRequest(_message.Message):
    __slots__ = ("connection_id", "stream")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    stream: str
    def __init__(self, connection_id: _Optional[str] = ..., stream: _Optional[str] = ...) -> None: ...

class GetSyncStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: SyncState
    def __init__(self, state: _Optional[_Union[SyncState, _Mapping]] = ...) -> None: ...

class SetSyncStateRequest(_message.Message):
    __slots__ = ("connection_id", "stream", "cursor", "expected_version")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    stream: str
    cursor: _struct_pb2.Struct
    expected_version: int
    def __init__(self, connection_id: _Optional[str] = ..., stream: _Optional[str] = ..., cursor: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class SetSyncStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: SyncState
    def __init__(self, state: _Optional[_Union[SyncState, _Mapping]] = ...) -> None: ...

class AuditLog(_message.Message):
    __slots__ = ("id", "tenant_id", "action", "outcome", "actor", "request_id", "connection_id", "connector_id", "details", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    action: str
    outcome: str
    actor: str
    request_id: str
    connection_id: str
    connector_id: str
    details: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., action: _Optional[str] = ..., outcome: _Optional[str] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., connector_id: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAuditLogsRequest(_message.Message):
    __slots__ = ("connection_id", "cursor", "limit", "action")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    cursor: str
    limit: int
    action: str
    def __init__(self, connection_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ..., action: _Optional[str] = ...) -> None: ...

class ListAuditLogsResponse(_message.Message):
    __slots__ = ("items", "next")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AuditLog]
    next: str
    def __init__(self, items: _Optional[_Iterable[_Union[AuditLog, _Mapping]]] = ..., next: _Optional[str] = ...) -> None: ...
