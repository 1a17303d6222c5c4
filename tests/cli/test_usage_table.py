"""Columns of figures (smalltown.cli.table), as ``smalltown usage`` prints them."""

from smalltown.cli.table import Column, blank, header, line
from smalltown.cli.usage import COLUMNS

COLUMNS_HERE = (Column("name", 6), Column("n", 4, right=True), Column("note", gap=2))


def test_cells_are_padded_to_their_columns_and_apart_by_their_gaps():
    assert header(COLUMNS_HERE) == "name      n  note"
    assert line(COLUMNS_HERE, ["ab", "12", "x"]) == "ab       12  x"
    assert line(COLUMNS_HERE, ["toolong", "12345", ""]) == "toolong 12345  "
    assert blank(COLUMNS_HERE[0]) + " n" == "       n"


def test_the_usage_header_is_unchanged():
    assert header(COLUMNS) == (
        f"{'world':<34} {'window':<6} {'calls':>7} {'failed':>6} {'tokens in':>11} "
        f"{'tokens out':>11} {'p50 ms':>8} {'p99 ms':>8}  cost"
    )
