"""Plain data read from JavaScript and TypeScript modules without running them."""

import pytest

from smalltown.worlds.checkout.js_data import CheckoutError, Modules


def module(tmp_path, text, name="data.ts"):
    (tmp_path / name).write_text(text)
    return Modules(tmp_path), tmp_path / name


def test_literals_names_imports_and_casts(tmp_path):
    (tmp_path / "sheet.json").write_text('{"frames": {"a.png": {"frame": {"x": 1}}}}')
    (tmp_path / "parts.js").write_text("const hidden = 3;\nexport { hidden as shown };\n")
    modules, path = module(
        tmp_path,
        """import type { Shape } from './types';
import * as sheet from './sheet.json';
import { shown } from './parts';
interface Unused { x: number }
const grid = [[1, -2, 0x10, 1_000, 2.5e1], []] as const;
export const value: Shape = {
  'quoted key': "tab\\there \\u00e9",
  plain: `two
lines`,
  nested: { shown, first: grid[0][1], count: grid.length, deep: sheet.frames },
  ...{ spread: true },
  nothing: null,
  maybe: undefined,
  trailing: [1, 2, ],
} satisfies Shape;
export default grid[0];
""",
    )
    assert modules.export(path, "value") == {
        "quoted key": "tab\there é",
        "plain": "two\nlines",
        "nested": {"shown": 3, "first": -2, "count": 2, "deep": {"a.png": {"frame": {"x": 1}}}},
        "spread": True,
        "nothing": None,
        "maybe": None,
        "trailing": [1, 2],
    }
    assert modules.export(path, "default") == [1, -2, 16, 1000, 25.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("export const a = compute();", "data.ts: line 1: expected plain data"),
        ("export const a = `x${y}`;", "data.ts: line 1: expected a template string without"),
        ("export function f() {}", "data.ts: line 1: expected an exported constant"),
        ("export const a = b;", "data.ts: line 1: expected 'b' to be declared or imported"),
        ("export const a = a;", "data.ts: expected plain data, 'a' refers to itself"),
        ("import { x } from 'left-pad';\nexport const a = x;", "found an import from 'left-pad'"),
        ("import { x } from './nowhere';\nexport const a = x;", "expected a module at './nowhere'"),
        ("export const a = [1, 2][5];", "data.ts: line 1: expected 5 to be in [1, 2]"),
        ("export const a = {", "data.ts: line 1: expected JavaScript or TypeScript"),
    ],
)
def test_what_is_not_plain_data_is_one_line_naming_the_file(tmp_path, text, expected):
    modules, path = module(tmp_path, text)
    with pytest.raises(CheckoutError) as caught:
        modules.export(path, "a")
    assert expected in str(caught.value) and "\n" not in str(caught.value)
