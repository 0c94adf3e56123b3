"""Field rules for config dataclasses: each field states its rule (allowed values or range) once,
in its metadata, and ``validate_fields`` checks a whole dataclass tree against those rules.

    choice(default, allowed, doc)      one of a fixed set of values
    number(default, low=, high=, doc)  a number in a range (``low_open`` excludes ``low``)

Errors are ``ConfigError`` naming the dotted field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from emergence_jax.core.errors import ConfigError

__all__ = ["choice", "number", "describe", "describe_range", "field_names", "validate_fields"]


def choice(default: Any, allowed: tuple, doc: str = "") -> Any:
    """One of ``allowed``."""
    return dataclasses.field(default=default, metadata={"choices": allowed, "doc": doc})


def number(default: Any, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, doc: str = "") -> Any:
    """A number in [low, high] (or (low, high] when ``low_open``)."""
    return dataclasses.field(default=default, metadata={"low": low, "high": high,
                                                        "low_open": low_open, "doc": doc})


def describe_range(meta: dict) -> str:
    low, high = meta.get("low"), meta.get("high")
    left = "(" if meta.get("low_open") else "["
    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"
    lo = "-inf" if low is None else fmt(low)
    hi = "inf" if high is None else fmt(high)
    return f"a number in {left}{lo}, {hi}]"


def _check_type(path: str, value: Any, annotation: Any) -> Any:
    """Checks (and lightly coerces: int -> float, list -> tuple) a value against its annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(value, annotation):
            names = ", ".join(field_names(annotation))
            raise ConfigError(f"{path}: expected a {annotation.__name__} section (in --set, a "
                              f"dict of its fields: {names}), got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(path, value, arg)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{path}: got {value!r}")
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{path}: expected a tuple, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check_type(f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{path}: expected {len(args)} values, got {value!r}")
        return tuple(_check_type(f"{path}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a dict, got {value!r}")
        if not args:
            return dict(value)
        return {_check_type(path, k, args[0]): _check_type(f"{path}[{k!r}]", v, args[1])
                for k, v in value.items()}
    if annotation is tuple:
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{path}: expected a list of values, got {value!r}")
        return tuple(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    return value


def validate_fields(obj: Any, prefix: str = "") -> Any:
    """Returns a copy of dataclass ``obj`` with every field type-checked and range-checked."""
    hints = typing.get_type_hints(type(obj))
    updates = {}
    for f in dataclasses.fields(obj):
        path = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            updates[f.name] = validate_fields(value, path + ".")
            continue
        value = _check_type(path, value, hints[f.name])
        meta = f.metadata
        if "choices" in meta and value not in meta["choices"]:
            allowed = ", ".join(repr(c) for c in meta["choices"])
            raise ConfigError(f"{path}: got {value!r}; allowed values: {allowed}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                "low" in meta or "high" in meta):
            low, high = meta.get("low"), meta.get("high")
            bad = (not math.isfinite(value)
                   or (low is not None and (value <= low if meta.get("low_open") else value < low))
                   or (high is not None and value > high))
            if bad:
                raise ConfigError(f"{path}: got {value!r}; allowed: {describe_range(meta)}")
        updates[f.name] = value
    new = dataclasses.replace(obj, **updates)
    check = getattr(new, "check", None)
    if check is not None:
        check(prefix)
    return new


def field_names(obj: Any) -> list[str]:
    """Field names of a dataclass (class or instance), in declaration order."""
    return [f.name for f in dataclasses.fields(obj)]


def describe(cls_or_obj: Any, prefix: str = "") -> list[str]:
    """One line per field: dotted name, default and rule; used by ``emergence-jax config``."""
    lines = []
    obj = cls_or_obj if not isinstance(cls_or_obj, type) else cls_or_obj()
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            lines.extend(describe(value, f"{prefix}{f.name}."))
            continue
        rule = ""
        if "choices" in f.metadata:
            rule = "one of " + ", ".join(repr(c) for c in f.metadata["choices"])
        elif "low" in f.metadata:
            rule = describe_range(f.metadata)
        doc = f.metadata.get("doc", "")
        lines.append(f"{prefix}{f.name} = {value!r}" + (f"   # {rule}" if rule else "")
                     + (f"; {doc}" if doc else ""))
    return lines
