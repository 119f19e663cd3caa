"""Experiment configs: frozen dataclasses, overridden from the command line with ``key=value``.

A config is a frozen dataclass whose fields have simple types (bool, int, float, str, or tuples of
those). ``apply_overrides`` returns a new config; the original is never mutated.

Each field's meaning is written once, in the ``Attributes:`` section of the docstring of the class
that declares it (Google style: ``name: one line``, continuation lines indented further; a config
that extends another documents the fields it adds). :func:`field_docs` reads them, so
``jaxdis run NAME --help`` and the printed config of a run say what every field means from the
same text; ``tests/test_cli.py`` checks that every field of every registered experiment has one.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Callable


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


def apply_preset(config: Any, presets: dict[str, dict[str, Any]],
                 make_config: Callable[[Any], Any]) -> Any:
    """``config`` with the values of its preset, ``presets[config.preset]``, set.

    A preset names a set of field values (say, smaller sizes for a smoke test). A field the user
    set as well, whose value differs both from the preset's and from the default config
    ``make_config(config.dataset)``, is a clash: it is refused rather than silently overridden.
    The result keeps the preset's name and resolves to itself.
    """
    if config.preset not in presets:
        raise ValueError(f"preset: expected {' or '.join(map(repr, presets))}, got "
                         f"{config.preset!r}")
    values = presets[config.preset]
    if not values:
        return config
    default = make_config(getattr(config, "dataset", None))
    clashes = [k for k, v in values.items() if getattr(config, k) not in (getattr(default, k), v)]
    if clashes:
        raise ValueError(f"preset={config.preset} sets {', '.join(clashes)}; drop those --set "
                         "options or the preset")
    return dataclasses.replace(config, **values)


def check_fields(config: Any, names, ok: Callable[[Any], bool], expected: str) -> None:
    """Raises ValueError ``"NAME: expected EXPECTED, got VALUE"`` for the first field of ``names``
    whose value fails ``ok``; e.g. ``check_fields(config, ("seeds",), lambda v: v >= 1, "an int
    >= 1")``. A NaN fails every comparison, so it is refused too."""
    for name in names:
        value = getattr(config, name)
        if not ok(value):
            raise ValueError(f"{name}: expected {expected}, got {value}")


def from_fields(cls: type, source: Any, **given: Any) -> Any:
    """An instance of the dataclass ``cls`` with each field taken by name from ``source``, or
    from ``given`` for the fields named there.

    This is how a training schedule or an architecture is built from an experiment's config,
    which holds their fields among others under the same names: values travel by name, never by
    position, so a field added to both needs no third edit in between. A field of ``cls`` that
    neither ``source`` nor ``given`` has is an error naming it, so a renamed field fails loudly
    instead of silently keeping the default of ``cls``.
    """
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"given: {', '.join(unknown)} is not a field of {cls.__name__}")
    missing = [name for name in names if name not in given and not hasattr(source, name)]
    if missing:
        raise ValueError(f"source: {type(source).__name__} has no field {', '.join(missing)} "
                         f"that {cls.__name__} needs")
    return cls(**{name: given[name] if name in given else getattr(source, name)
                  for name in names})


def set_options(config: Any, default: Any, skip=()) -> list[str]:
    """``["--set name=value", ...]`` for every field of ``config`` (but those in ``skip``) whose
    value differs from ``default``'s: with ``default``'s command, the command line that makes
    ``config`` (values written as :func:`apply_overrides` parses them back)."""
    def text(value):  # the inverse of parse_value
        if isinstance(value, tuple):
            return ",".join(text(v) for v in value)
        return str(value).lower() if isinstance(value, bool) else str(value)

    return [f"--set {f.name}={text(getattr(config, f.name))}" for f in dataclasses.fields(config)
            if f.name not in skip and getattr(config, f.name) != getattr(default, f.name)]


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
    """{field: its meaning} from the ``Attributes:`` sections of the class docstring and of its
    base classes' (a config that extends another documents the fields it adds).

    The section lists ``name: text`` lines at one indentation; lines indented further continue the
    entry before them; the section ends at a blank line followed by a less indented line, or at
    the end of the docstring. Fields without an entry are absent from the result.
    """
    docs: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__):
        docs.update(_attribute_docs(cls.__doc__ or ""))
    return docs


def _attribute_docs(doc: str) -> dict[str, str]:
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
