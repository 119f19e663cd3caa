"""Experiment configs: frozen dataclasses, overridden from the command line with ``key=value``.

A config is a frozen dataclass whose fields have simple types (bool, int, float, str, or tuples of
those). ``apply_overrides`` returns a new config; the original is never mutated.
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
