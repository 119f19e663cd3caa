"""Experiment configs: frozen dataclasses, overridden from the command line with ``key=value``.

A config is a frozen dataclass whose fields have simple types (bool, int, float, str, or tuples of
those). ``apply_overrides`` returns a new config; the original is never mutated.

Each field's meaning is written once, in the class docstring's ``Attributes:`` section (Google
style: ``name: one line``, continuation lines indented further). :func:`field_docs` reads it, so
``jaxdis run NAME --help`` and the printed config of a run say what every field means from the
same text; ``tests/test_cli.py`` checks that every field of every registered experiment has one.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any


def _field_types(config_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def _parse_scalar(text: str, kind: Any, key: str) -> Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {key}={text}: expected a boolean (true/false)")
    if kind in (int, float, str):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"--set {key}={text}: expected {kind.__name__}") from None
    raise ValueError(f"--set {key}: fields of type {kind!r} cannot be set from the command line")


def parse_value(text: str, kind: Any, key: str) -> Any:
    """Parses ``text`` as a value of the annotated type ``kind`` (tuples are comma separated)."""
    origin = typing.get_origin(kind)
    if origin is tuple:
        (item_kind, *rest) = typing.get_args(kind)
        parts = [p for p in text.split(",") if p.strip()]
        return tuple(_parse_scalar(p, item_kind, key) for p in parts)
    if origin is typing.Union or str(origin) == "types.UnionType":
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if text.strip().lower() == "none" and len(options) < len(typing.get_args(kind)):
            return None
        return parse_value(text, options[0], key)
    return _parse_scalar(text, kind, key)


def apply_overrides(config: Any, overrides: list[str] | dict[str, str]) -> Any:
    """Returns ``config`` with each ``key=value`` applied; unknown keys list the valid ones."""
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = []
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"--set {item!r}: expected key=value")
            key, value = item.split("=", 1)
            items.append((key.strip(), value))
    types = _field_types(type(config))
    changes = {}
    for key, value in items:
        if key not in types:
            valid = ", ".join(sorted(types))
            raise ValueError(f"--set {key}: unknown config key; valid keys are: {valid}")
        if isinstance(value, str):
            value = parse_value(value, types[key], key)
        elif isinstance(value, list):  # from JSON: tuples come back as lists
            value = tuple(value)
        changes[key] = value
    return dataclasses.replace(config, **changes)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def load_config(config: Any, path) -> Any:
    """Returns ``config`` with every field set from the JSON file ``path`` (a saved run's config)."""
    from pathlib import Path

    saved = json.loads(Path(path).read_text())
    return apply_overrides(config, saved)


def format_config(config: Any) -> str:
    return json.dumps(config_to_dict(config), indent=2, sort_keys=True)


def field_docs(config_cls: type) -> dict[str, str]:
    """{field: its meaning} from the ``Attributes:`` section of the class docstring.

    The section lists ``name: text`` lines at one indentation; lines indented further continue the
    entry before them; the section ends at a blank line followed by a less indented line, or at
    the end of the docstring. Fields without an entry are absent from the result.
    """
    doc = config_cls.__doc__ or ""
    lines = doc.expandtabs().splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    docs: dict[str, str] = {}
    indent, name = None, None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break
        text = line.strip()
        if depth == indent:
            name, _, rest = text.partition(":")
            name = name.strip()
            docs[name] = rest.strip()
        elif name is not None:
            docs[name] = f"{docs[name]} {text}".strip()
    return docs


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(_shown(v) for v in value) if value else "(empty)"
    if isinstance(value, str):
        return value if value else '""'
    return repr(value) if isinstance(value, float) else str(value)


def describe_fields(config: Any, width: int = 100, full: bool = False) -> str:
    """One line per field: ``name = value  meaning``, the meaning from :func:`field_docs`; cut to
    ``width`` characters with "...", or with ``full`` wrapped whole over several lines (as
    ``jaxdis run NAME --help`` shows it)."""
    import textwrap

    docs = field_docs(type(config))
    rows = [(f.name, _shown(getattr(config, f.name)), docs.get(f.name, "(undocumented)"))
            for f in dataclasses.fields(config)]
    left = min(40, max(len(f"  {name} = {value}") for name, value, _ in rows))
    lines = []
    for name, value, meaning in rows:
        head = f"  {name} = {value}"
        head = head.ljust(left + 2) if len(head) <= left else head + "  "
        room = max(30, width - len(head))
        if full:
            wrapped = textwrap.wrap(meaning, max(30, width - left - 2)) or [""]
            lines.append(head + wrapped[0])
            lines += [" " * (left + 2) + more for more in wrapped[1:]]
        else:
            if len(meaning) > room:
                meaning = meaning[: room - 3].rstrip() + "..."
            lines.append(head + meaning)
    return "\n".join(lines)


def config_differences(saved: dict[str, Any], config: Any) -> list[tuple[str, Any, Any]]:
    """``[(field, saved value, value in config)]`` for every field that differs between a saved
    config (a dict read from config.json) and ``config``; a field missing on one side shows as
    ``"(absent)"``. Values are compared as JSON gives them back (tuples as lists)."""
    current = json.loads(json.dumps(config_to_dict(config)))
    names = list(current) + [k for k in saved if k not in current]
    missing = "(absent)"
    return [(k, saved.get(k, missing), current.get(k, missing)) for k in names
            if saved.get(k, missing) != current.get(k, missing)]
