"""The document store: Convex-shaped tables of JSON documents on SQLite, PostgreSQL or MongoDB.

Import from here; provider modules are loaded by ``open_store`` when their URL is used.
"""

from smalltown.store.errors import (
    ConflictError,
    DocumentNotFoundError,
    InvalidIdError,
    InvalidQueryError,
    InvalidValueError,
    SchemaError,
    StoreConnectionError,
    StoreError,
    UnknownIndexError,
    UnknownTableError,
    VectorDimensionError,
)
from smalltown.store.ids import decode_id, encode_id
from smalltown.store.ranges import KeyRange, Range, Write, overlaps
from smalltown.store.schema import Index, Schema, Table, VectorIndex
from smalltown.store.store import Committed, Store, open_store
from smalltown.store.transaction import AnyOf, Page, Transaction
from smalltown.store.urls import mask_password
from smalltown.store.values import UNDEFINED

__all__ = [
    "UNDEFINED",
    "AnyOf",
    "Committed",
    "ConflictError",
    "DocumentNotFoundError",
    "Index",
    "InvalidIdError",
    "InvalidQueryError",
    "InvalidValueError",
    "KeyRange",
    "Page",
    "Range",
    "Schema",
    "SchemaError",
    "Store",
    "StoreConnectionError",
    "StoreError",
    "Table",
    "Transaction",
    "UnknownIndexError",
    "UnknownTableError",
    "VectorDimensionError",
    "VectorIndex",
    "Write",
    "decode_id",
    "encode_id",
    "mask_password",
    "open_store",
    "overlaps",
]
