"""jaxdis.viz.tables: markdown tables as lines."""

import pytest

from jaxdis.viz.tables import markdown_table


def test_markdown_table_lines_and_alignment():
    assert markdown_table(("a", "b"), [(1, "x"), (2.5, None)], align="lr") == [
        "| a | b |", "| --- | ---: |", "| 1 | x |", "| 2.5 | None |"]
    assert markdown_table(("a",), []) == ["| a |", "| --- |"]


def test_markdown_table_refuses_ragged_rows_and_bad_alignment():
    with pytest.raises(ValueError, match="rows"):
        markdown_table(("a", "b"), [(1,)])
    with pytest.raises(ValueError, match="align"):
        markdown_table(("a", "b"), [], align="lc")
