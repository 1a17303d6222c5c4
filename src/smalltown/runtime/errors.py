"""Errors of the function runtime.

    FunctionError                  what a caller sees as a failed function call
    ├── FunctionNotFoundError      no such public function (or an internal one, from outside)
    ├── ArgumentValidationError    arguments that do not match the function's parameters
    ├── ConvexError                raised by a function on purpose, with data for the client
    └── UnauthorizedError          a caller without the identity the function needs

Store errors raised inside a function (a bad id, a wrong vector dimension) also reach the
caller with their message; any other exception is an internal error, reported to the
caller only by a request id and logged with its traceback.
"""

from __future__ import annotations

import json
from typing import Any


class FunctionError(Exception):
    """Base of the errors a function call reports to its caller."""


class FunctionNotFoundError(FunctionError):
    pass


class ArgumentValidationError(FunctionError):
    pass


class UnauthorizedError(FunctionError):
    pass


class ConvexError(FunctionError):
    """Raise in a function to fail it on purpose; ``data`` reaches the client as errorData."""

    def __init__(self, data: Any) -> None:
        self.data = data
        message = data if isinstance(data, str) else json.dumps(data, default=str)
        super().__init__(message)
