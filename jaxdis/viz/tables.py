"""Markdown tables for the reports that experiments write beside their figures."""

from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence],
                   align: str | None = None) -> list[str]:
    """A GitHub-flavoured markdown table as lines: ``| a | b |`` for the header and for each row
    (cells written with ``str``), with the separator line after the header. ``align``: one letter
    per column, "l" (``---``) or "r" (``---:``, right-aligned); None: all "l"."""
    align = "l" * len(header) if align is None else align
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align: expected one of 'l', 'r' per column ({len(header)}), got "
                         f"{align!r}")
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    for row in rows:
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"rows: expected {len(header)} cells per row, got {len(row)}: {row}")
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return lines
