"""The store's errors. Every provider raises these and nothing else.

    StoreError
    ├── StoreConnectionError     the database URL is malformed or the server unreachable
    ├── SchemaError              a schema that cannot be applied
    │   ├── UnknownTableError    a table the schema does not declare
    │   └── UnknownIndexError    an index the table does not declare
    ├── InvalidQueryError        a query shape the index cannot answer
    ├── InvalidValueError        a value that is not a Convex value
    │   └── VectorDimensionError a vector whose length differs from its index's dimension
    ├── InvalidIdError           a malformed id, or an id of another table
    ├── DocumentNotFoundError    a write to an id that does not exist
    └── ConflictError            a transaction still conflicting after its retries

Driver errors (sqlite3, psycopg, pymongo) are translated at the provider boundary and
chained with ``raise ... from``, so callers never need a driver import.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises."""


class StoreConnectionError(StoreError):
    pass


class SchemaError(StoreError):
    pass


class UnknownTableError(SchemaError):
    pass


class UnknownIndexError(SchemaError):
    pass


class InvalidQueryError(StoreError):
    pass


class InvalidValueError(StoreError):
    pass


class VectorDimensionError(InvalidValueError):
    pass


class InvalidIdError(StoreError):
    pass


class DocumentNotFoundError(StoreError):
    pass


class ConflictError(StoreError):
    pass
