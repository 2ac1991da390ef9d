import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Body(_message.Message):
    __slots__ = ("text", "format")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    text: str
    format: str
    def __init__(self, text: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("id", "name", "email")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    email: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("id", "name", "key", "type", "url", "parent_id", "raw")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    key: str
    type: str
    url: str
    parent_id: str
    raw: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., key: _Optional[str] = ..., type: _Optional[str] = ..., url: _Optional[str] = ..., parent_id: _Optional[str] = ..., raw: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("id", "container_id", "title", "body", "status", "author", "assignees", "created_at", "updated_at", "url", "raw", "fields")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    container_id: str
    title: str
    body: Body
    status: str
    author: Person
    assignees: _containers.RepeatedCompositeFieldContainer[Person]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    url: str
    raw: _struct_pb2.Struct
    fields: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., container_id: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[_Union[Body, _Mapping]] = ..., status: _Optional[str] = ..., author: _Optional[_Union[Person, _Mapping]] = ..., assignees: _Optional[_Iterable[_Union[Person, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., url: _Optional[str] = ..., raw: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Comment(_message.Message):
    __slots__ = ("id", "item_id", "author", "body", "created_at", "updated_at", "raw")
    ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    id: str
    item_id: str
    author: Person
    body: Body
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    raw: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., item_id: _Optional[str] = ..., author: _Optional[_Union[Person, _Mapping]] = ..., body: _Optional[_Union[Body, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., raw: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListContainersRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id", "cursor", "limit", "parent_id")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    cursor: str
    limit: int
    parent_id: str
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ..., parent_id: _Optional[str] = ...) -> None: ...

class ListContainersResponse(_message.Message):
    __slots__ = ("items", "next")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Container]
    next: str
    def __init__(self, items: _Optional[_Iterable[_Union[Container, _Mapping]]] = ..., next: _Optional[str] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id", "container_id", "cursor", "limit", "updated_since")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_SINCE_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    container_id: str
    cursor: str
    limit: int
    updated_since: _timestamp_pb2.Timestamp
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., container_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ..., updated_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next", "items_json")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_JSON_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    next: str
    items_json: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., next: _Optional[str] = ..., items_json: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id", "container_id", "item_id")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    container_id: str
    item_id: str
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., container_id: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("item", "item_json")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ITEM_JSON_FIELD_NUMBER: _ClassVar[int]
    item: Item
    item_json: bytes
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ..., item_json: _Optional[bytes] = ...) -> None: ...

class ListCommentsRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id", "container_id", "item_id", "cursor", "limit")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    container_id: str
    item_id: str
    cursor: str
    limit: int
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., container_id: _Optional[str] = ..., item_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListCommentsResponse(_message.Message):
    __slots__ = ("items", "next")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Comment]
    next: str
    def __init__(self, items: _Optional[_Iterable[_Union[Comment, _Mapping]]] = ..., next: _Optional[str] = ...) -> None: ...

class CreateItemRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id", "container_id", "title", "body", "fields")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    container_id: str
    title: str
    body: Body
    fields: _struct_pb2.Struct
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., container_id: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[_Union[Body, _Mapping]] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CreateItemResponse(_message.Message):
    __slots__ = ("item", "item_json")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ITEM_JSON_FIELD_NUMBER: _ClassVar[int]
    item: Item
    item_json: bytes
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ..., item_json: _Optional[bytes] = ...) -> None: ...

class CreateCommentRequest(_message.Message):
    __slots__ = ("connector_id", "connection_id", "container_id", "item_id", "body")
    CONNECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    connector_id: str
    connection_id: str
    container_id: str
    item_id: str
    body: Body
    def __init__(self, connector_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., container_id: _Optional[str] = ..., item_id: _Optional[str] = ..., body: _Optional[_Union[Body, _Mapping]] = ...) -> None: ...

class CreateCommentResponse(_message.Message):
    __slots__ = ("comment",)
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    comment: Comment
    def __init__(self, comment: _Optional[_Union[Comment, _Mapping]] = ...) -> None: ...
