"""A ZIP entry's lines, read a block at a time, are numbered as a line reader numbers them."""

import io
import random

import pytest

from smalltown.migrate import snapshot
from smalltown.migrate.snapshot import _numbered_lines


def by_readline(data: bytes) -> list[tuple[int, bytes]]:
    return [(n, line.rstrip(b"\n")) for n, line in enumerate(io.BytesIO(data), 1) if line.strip()]


@pytest.mark.parametrize("block", [1, 2, 7, 64, 1 << 20])
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"a",
        b'{"a":1}\n{"b":2}\n',
        b'{"a":1}\n\n  \n\t\r\n{"b":2}',  # blank lines count, and are skipped
        b'{"a":1}\r\n{"b":2}\r\n',  # \r stays, as a line reader leaves it
        b"x" * 1000 + b"\n" + b"y" * 3 + b"\n\n" + b"z" * 200,  # longer than a block
        b"\n\n\nlast",
    ],
)
def test_the_same_lines_and_numbers_as_reading_line_by_line(monkeypatch, block, data):
    monkeypatch.setattr(snapshot, "READ_BLOCK", block)
    assert list(_numbered_lines(io.BytesIO(data))) == by_readline(data)


def test_random_text(monkeypatch):
    rng = random.Random(7)
    data = bytes(rng.choice(b"ab \n\r{}") for _ in range(20_000))
    for block in (3, 100, 4096):
        monkeypatch.setattr(snapshot, "READ_BLOCK", block)
        assert list(_numbered_lines(io.BytesIO(data))) == by_readline(data)
