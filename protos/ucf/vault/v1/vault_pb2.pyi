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

class SecretKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SECRET_KIND_UNSPECIFIED: _ClassVar[SecretKind]
    SECRET_KIND_OAUTH2_TOKENS: _ClassVar[SecretKind]
    SECRET_KIND_API_KEY: _ClassVar[SecretKind]
    SECRET_KIND_BASIC: _ClassVar[SecretKind]
    SECRET_KIND_CREDENTIALS: _ClassVar[SecretKind]
    SECRET_KIND_OAUTH_CLIENT_SECRET: _ClassVar[SecretKind]
    SECRET_KIND_WEBHOOK_SIGNING_SECRET: _ClassVar[SecretKind]
SECRET_KIND_UNSPECIFIED: SecretKind
SECRET_KIND_OAUTH2_TOKENS: SecretKind
SECRET_KIND_API_KEY: SecretKind
SECRET_KIND_BASIC: SecretKind
SECRET_KIND_CREDENTIALS: SecretKind
SECRET_KIND_OAUTH_CLIENT_SECRET: SecretKind
SECRET_KIND_WEBHOOK_SIGNING_SECRET: SecretKind

class SecretRef(_message.Message):
    __slots__ = ("tenant_id", "owner_id", "kind")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    owner_id: str
    kind: SecretKind
    def __init__(self, tenant_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., kind: _Optional[_Union[SecretKind, str]] = ...) -> None: ...

class SecretMetadata(_message.Message):
    __slots__ = ("ref", "version", "key_id", "created_at", "updated_at", "expires_at")
    REF_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ref: SecretRef
    version: int
    key_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, ref: _Optional[_Union[SecretRef, _Mapping]] = ..., version: _Optional[int] = ..., key_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutSecretRequest(_message.Message):
    __slots__ = ("ref", "payload", "expires_at", "expected_version")
    REF_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ref: SecretRef
    payload: _struct_pb2.Struct
    expires_at: _timestamp_pb2.Timestamp
    expected_version: int
    def __init__(self, ref: _Optional[_Union[SecretRef, _Mapping]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class PutSecretResponse(_message.Message):
    __slots__ = ("metadata",)
    METADATA_FIELD_NUMBER: _ClassVar[int]
    metadata: SecretMetadata
    def __init__(self, metadata: _Optional[_Union[SecretMetadata, _Mapping]] = ...) -> None: ...

class GetSecretRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: SecretRef
    def __init__(self, ref: _Optional[_Union[SecretRef, _Mapping]] = ...) -> None: ...

class GetSecretResponse(_message.Message):
    __slots__ = ("metadata", "payload")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    metadata: SecretMetadata
    payload: _struct_pb2.Struct
    def __init__(self, metadata: _Optional[_Union[SecretMetadata, _Mapping]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GetSecretMetadataRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: SecretRef
    def __init__(self, ref: _Optional[_Union[SecretRef, _Mapping]] = ...) -> None: ...

class GetSecretMetadataResponse(_message.Message):
    __slots__ = ("metadata",)
    METADATA_FIELD_NUMBER: _ClassVar[int]
    metadata: SecretMetadata
    def __init__(self, metadata: _Optional[_Union[SecretMetadata, _Mapping]] = ...) -> None: ...

class DeleteSecretRequest(_message.Message):
    __slots__ = ("ref", "expected_version")
    REF_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ref: SecretRef
    expected_version: int
    def __init__(self, ref: _Optional[_Union[SecretRef, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteSecretResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetKeyRingStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KeyStatus(_message.Message):
    __slots__ = ("key_id", "primary", "retired", "secret_count", "loaded")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    RETIRED_FIELD_NUMBER: _ClassVar[int]
    SECRET_COUNT_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    primary: bool
    retired: bool
    secret_count: int
    loaded: bool
    def __init__(self, key_id: _Optional[str] = ..., primary: _Optional[bool] = ..., retired: _Optional[bool] = ..., secret_count: _Optional[int] = ..., loaded: _Optional[bool] = ...) -> None: ...

class GetKeyRingStatusResponse(_message.Message):
    __slots__ = ("keys", "primary_key_id")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyStatus]
    primary_key_id: str
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyStatus, _Mapping]]] = ..., primary_key_id: _Optional[str] = ...) -> None: ...

class RewrapRequest(_message.Message):
    __slots__ = ("batch_size", "max_batches")
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCHES_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    max_batches: int
    def __init__(self, batch_size: _Optional[int] = ..., max_batches: _Optional[int] = ...) -> None: ...

class RewrapResponse(_message.Message):
    __slots__ = ("rewrapped", "remaining", "primary_key_id", "done", "failed")
    REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    rewrapped: int
    remaining: int
    primary_key_id: str
    done: bool
    failed: int
    def __init__(self, rewrapped: _Optional[int] = ..., remaining: _Optional[int] = ..., primary_key_id: _Optional[str] = ..., done: _Optional[bool] = ..., failed: _Optional[int] = ...) -> None: ...

class RetireKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RetireKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: KeyStatus
    def __init__(self, key: _Optional[_Union[KeyStatus, _Mapping]] = ...) -> None: ...
