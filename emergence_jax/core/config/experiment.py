"""The experiment config: the tree of sections, validation, ``--set`` overrides, experiment files
and (de)serialisation.

    ExperimentConfig
      name:       str                used for the default run directory runs/<name>
      model:      ModelConfig        transformer shape and numerics
      task:       a TaskConfig       subclass chosen by ``task.name`` (see ``config.tasks``)
      optimizer:  OptimizerConfig    AdamW + warmup/cosine schedule + clipping
      train:      TrainConfig        steps, batch size, evaluation interval, chunking
      population: PopulationConfig   how many seeds, and which init / data-order seeds
      sweep:      SweepConfig        the grid of scale points (empty grid = one point)
      analysis:   AnalysisConfig     the fit settings used once the sweep is done

``validate`` checks the whole tree and raises ``ConfigError`` naming the dotted field and what is
allowed, before any compute starts. ``apply_overrides(cfg, ["model.width=128", ...])`` applies
command-line ``--set`` overrides (a whole section takes a dict of its fields:
``--set 'model={"width": 128}'``); ``load_experiment(path, overrides)`` runs an experiment file's
``get_config()``. Whatever goes wrong in an experiment file — a syntax error, an exception while
importing it or inside ``get_config()``, a ``get_config`` that is not a function or returns
something else than an ``ExperimentConfig`` — is a ``ConfigError`` naming the file (and the line).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import re
import sys
import traceback
import typing
from pathlib import Path
from typing import Any, Callable

from emergence_jax.core.config.fields import field_names, validate_fields
from emergence_jax.core.config.sections import (AnalysisConfig, ModelConfig, OptimizerConfig,
                                                PopulationConfig, SweepConfig, TaskConfig,
                                                TrainConfig, task_config_class)
from emergence_jax.core.errors import ConfigError

__all__ = ["ExperimentConfig", "apply_overrides", "check_name", "from_dict", "get_field",
           "load_experiment", "parse_value", "set_field", "split_preset", "to_dict", "to_json",
           "validate", "validate_settings"]


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: every section of the config tree (see the module docstring)."""
    name: str = "experiment"
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    task: TaskConfig = dataclasses.field(default_factory=lambda: task_config_class("count")())
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    population: PopulationConfig = dataclasses.field(default_factory=PopulationConfig)
    sweep: SweepConfig = dataclasses.field(default_factory=SweepConfig)
    analysis: AnalysisConfig = dataclasses.field(default_factory=AnalysisConfig)

    def check(self, prefix: str) -> None:
        check_name(self.name, f"{prefix}name")
        for name in self.sweep.axes:
            try:
                get_field(self, name)
            except ConfigError as e:
                raise ConfigError(f"{prefix}sweep.axes: {e}") from None
        variable = self.analysis.scale_variable
        if "." in variable and variable not in self.sweep.axes:
            raise ConfigError(f"{prefix}analysis.scale_variable: {variable!r} is not swept; "
                              f"allowed: '', a derived size or one of the axes "
                              f"({', '.join(self.sweep.axes) or 'none'})")


_NAME_PART = re.compile(r"^[^\x00-\x1f/\\:*?\"<>|]+$")


def check_name(name: str, field: str = "name") -> None:
    """An experiment name is the run directory ``runs/<name>`` by default, so it must stay inside
    ``runs/``: parts separated by ``/``, none of them ``.`` or ``..``, no leading ``/`` or ``~``,
    and no characters that are not portable in file names."""
    parts = name.split("/")
    if (not name or name.startswith("~") or any(p in ("", ".", "..") for p in parts)
            or not all(_NAME_PART.match(p) for p in parts)):
        raise ConfigError(f"{field}: got {name!r}; allowed: a name for the run directory "
                          "runs/<name>, e.g. 'count' or 'width_sweep/v2' (no '..', '.', empty "
                          "parts, leading '/' or '~', nor the characters \\ : * ? \" < > |)")


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    """Checks every field; returns the config with values coerced to their declared types."""
    if not isinstance(cfg, ExperimentConfig):
        raise ConfigError(f"expected an ExperimentConfig, got {type(cfg).__name__}")
    if not isinstance(cfg.task, TaskConfig):
        raise ConfigError(f"task: expected a task config section (or, in --set, a dict of its "
                          f"fields such as {{'name': 'count'}}), got {cfg.task!r}")
    expected = task_config_class(cfg.task.name)  # raises ConfigError naming task.name
    if type(cfg.task) is not expected:
        raise ConfigError(f"task: config class {type(cfg.task).__name__} does not match "
                          f"task.name={cfg.task.name!r} (expected {expected.__name__})")
    return validate_fields(cfg)


def get_field(cfg: Any, dotted: str) -> Any:
    """The value of a dotted field (``"model.width"``); ``ConfigError`` naming the allowed fields
    when it does not exist."""
    node = cfg
    walked = []
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(node) or part not in field_names(node):
            where = ".".join(walked) or "the config"
            allowed = ", ".join(field_names(node)) if dataclasses.is_dataclass(node) else "none"
            raise ConfigError(f"{dotted}: {where} has no field {part!r}; allowed fields: {allowed}")
        node = getattr(node, part)
        walked.append(part)
    return node


def set_field(cfg: Any, dotted: str, value: Any) -> Any:
    """Returns a copy of ``cfg`` with the dotted field replaced. Setting ``task.name`` swaps in
    that task's default config (keeping shared fields such as ``eval_seed``). A whole section
    takes a section object or a dict of its fields (the fields it does not name keep their
    values); anything else is refused by ``validate``."""
    head, _, rest = dotted.partition(".")
    current = get_field(cfg, dotted)  # raises a clear error for unknown names
    if not rest:
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = _section_from_dict(current, value, f"{dotted}.")
        return dataclasses.replace(cfg, **{head: value})
    child = getattr(cfg, head)
    if isinstance(child, TaskConfig) and rest == "name" and value != child.name:
        new_cls = task_config_class(value)
        shared = {f.name: getattr(child, f.name) for f in dataclasses.fields(TaskConfig)
                  if f.name != "name"}
        return dataclasses.replace(cfg, **{head: new_cls(**shared)})
    return dataclasses.replace(cfg, **{head: set_field(child, rest, value)})


def _section_from_dict(current: Any, values: dict, prefix: str) -> Any:
    """The section ``current`` with the fields named in ``values`` replaced (a task section whose
    ``name`` changes starts from that task's defaults, keeping the shared fields)."""
    if any(not isinstance(k, str) for k in values):
        raise ConfigError(f"{prefix.rstrip('.')}: expected a dict of field names, got {values!r}")
    base = to_dict(current)
    if isinstance(current, TaskConfig) and values.get("name", current.name) != current.name:
        name = values["name"]
        if not isinstance(name, str):
            raise ConfigError(f"{prefix}name: expected a string, got {name!r}")
        shared = {f.name: base[f.name] for f in dataclasses.fields(TaskConfig)}
        base = {**to_dict(task_config_class(name)()), **shared, "name": name}
    merged = {**base, **values}
    cls = task_config_class(merged["name"]) if isinstance(current, TaskConfig) else type(current)
    return _build(cls, merged, prefix)


def parse_value(text: str) -> Any:
    """Parses an override value: Python/JSON literals (numbers, true/false, lists, dicts, quoted
    strings), falling back to the raw string."""
    lowered = {"true": True, "false": False, "null": None, "none": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(cfg: ExperimentConfig, overrides: list[str] | tuple[str, ...]) -> ExperimentConfig:
    """Applies ``key=value`` overrides (in order), then validates."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected the form field.name=value, "
                              "e.g. model.width=128")
        key, _, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        value = parse_value(raw)
        if isinstance(get_field(cfg, key), str) and not isinstance(value, str):
            value = raw  # a string field keeps the text as typed (e.g. name=123, pos_encoding=None)
        cfg = set_field(cfg, key, value)
    return validate(cfg)


def _user_code_error(path: Path, what: str, e: BaseException) -> ConfigError:
    """A ``ConfigError`` for an exception raised by the experiment file's own code, naming the
    file and the deepest line of it in the traceback."""
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__)
             if Path(f.filename).resolve() == path.resolve()]
    at = f", line {lines[-1]}" if lines else ""
    message = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    return ConfigError(f"experiment file {str(path)!r}{at}: {what} raised "
                       f"{type(e).__name__}{': ' + message if message else ''}")


def split_preset(path: str | Path) -> tuple[Path, str | None]:
    """``"experiments/x.py:paper"`` -> (``experiments/x.py``, ``"paper"``); a path without a
    ``:preset`` suffix (or an existing file whose name holds a colon) has no preset."""
    text = str(path)
    head, sep, tail = text.rpartition(":")
    if sep and head and tail and "/" not in tail and "\\" not in tail and not Path(text).is_file():
        return Path(head), tail
    return Path(text), None


def load_experiment(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Loads ``get_config()`` from an experiment file, applies overrides and validates.
    ``"file.py:name"`` picks a preset: the file's ``get_config(preset)`` is called with ``name``,
    which must be one of the file's ``PRESETS``."""
    path, preset = split_preset(path)
    if not path.is_file():
        raise ConfigError(f"experiment file {str(path)!r} does not exist"
                          + (" (it is a directory)" if path.is_dir() else ""))
    module_name = f"_emergence_experiment_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"experiment file {str(path)!r} is not a Python file (name it *.py)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ConfigError(f"experiment file {str(path)!r}, line {e.lineno}: syntax error: "
                          f"{e.msg}") from None
    except (UnicodeDecodeError, ValueError) as e:
        if isinstance(e, UnicodeDecodeError) or "source code" in str(e):
            raise ConfigError(f"experiment file {str(path)!r} is not readable Python source "
                              f"({type(e).__name__})") from None
        raise _user_code_error(path, "importing it", e) from None
    except Exception as e:  # noqa: BLE001 - the user's code: report it, never a traceback
        raise _user_code_error(path, "importing it", e) from None
    finally:
        sys.modules.pop(module_name, None)
    get_config: Callable[..., ExperimentConfig] | None = getattr(module, "get_config", None)
    if get_config is None:
        raise ConfigError(f"experiment file {str(path)!r} defines no get_config() function")
    if not callable(get_config):
        raise ConfigError(f"experiment file {str(path)!r}: get_config is a "
                          f"{type(get_config).__name__}, not a function; define "
                          "`def get_config(): return ExperimentConfig(...)`")
    if preset is not None:
        presets = tuple(getattr(module, "PRESETS", ()))
        if preset not in presets:
            allowed = ", ".join(repr(p) for p in presets) or "none (this file has no presets)"
            raise ConfigError(f"experiment {str(path)!r}: unknown preset {preset!r}; allowed: "
                              f"{allowed}")
    try:
        cfg = get_config() if preset is None else get_config(preset)
    except Exception as e:  # noqa: BLE001 - the user's code
        raise _user_code_error(path, "get_config()", e) from None
    if not isinstance(cfg, ExperimentConfig):
        raise ConfigError(f"experiment file {str(path)!r}: get_config() returned "
                          f"{type(cfg).__name__} {_short(cfg)}; it must return an "
                          "ExperimentConfig")
    return apply_overrides(cfg, overrides)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_dict(cfg: Any) -> dict:
    """A JSON-ready nested dict (tuples become lists)."""
    def convert(v):
        if dataclasses.is_dataclass(v):
            return {f.name: convert(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (tuple, list)):
            return [convert(x) for x in v]
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        return v
    return convert(cfg)


def _build(cls, values, prefix: str):
    """Builds dataclass ``cls`` from a JSON-like dict (nested sections too); unknown names raise
    ``ConfigError`` naming the dotted field."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected an object, got {values!r}")
    names = field_names(cls)
    unknown = sorted((str(k) for k in set(values) - set(names)))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field; allowed fields: "
                          f"{', '.join(names)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if hint is TaskConfig:
                task = value.get("name", "count") if isinstance(value, dict) else "count"
                if not isinstance(task, str):
                    raise ConfigError(f"{prefix}{name}.name: expected a string, got {task!r}")
                hint = task_config_class(task)
            value = _build(hint, value, f"{prefix}{name}.")
        elif name == "axes" and isinstance(value, dict):
            value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def from_dict(data: dict) -> ExperimentConfig:
    """Rebuilds (and validates) an ExperimentConfig from ``to_dict`` output."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a JSON object, got {type(data).__name__}")
    return validate(_build(ExperimentConfig, data, ""))


def validate_settings(settings: AnalysisConfig | dict) -> AnalysisConfig:
    """Fit settings (an ``AnalysisConfig`` or its dict) checked like the ``analysis`` section of
    an experiment: errors name the ``analysis.*`` field."""
    if isinstance(settings, dict):
        settings = _build(AnalysisConfig, settings, "analysis.")
    if not isinstance(settings, AnalysisConfig):
        raise ConfigError(f"analysis: expected fit settings (AnalysisConfig), got "
                          f"{type(settings).__name__}")
    return validate_fields(settings, "analysis.")


def to_json(cfg: ExperimentConfig) -> str:
    """The config as indented, key-sorted JSON."""
    return json.dumps(to_dict(cfg), indent=2, sort_keys=True)
