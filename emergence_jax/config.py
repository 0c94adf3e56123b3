"""Typed, validated configuration for experiments.

An experiment is a tree of frozen dataclasses:

    ExperimentConfig
      name:       str                used for the default run directory runs/<name>
      model:      ModelConfig        transformer shape and numerics
      task:       a TaskConfig       subclass chosen by ``task.name`` (see ``emergence_jax.tasks``)
      optimizer:  OptimizerConfig    AdamW + warmup/cosine schedule + clipping
      train:      TrainConfig        steps, batch size, evaluation interval, chunking
      population: PopulationConfig   how many seeds, and which init / data-order seeds
      sweep:      SweepConfig        the grid of scale points (empty grid = one point)
      analysis:   AnalysisConfig     what to fit and report once the sweep is done

Every field carries its own rule (type, allowed values, range). ``validate`` checks the whole tree
and raises ``ConfigError`` naming the dotted field and what is allowed, before any compute starts.
``apply_overrides(cfg, ["model.width=128", ...])`` applies command-line ``--set`` overrides.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable


from emergence_jax.errors import ConfigError

__all__ = ["AnalysisConfig", "ConfigError", "ExperimentConfig", "ModelConfig", "OptimizerConfig", "PopulationConfig",
           "SweepConfig", "TaskConfig", "TrainConfig", "apply_overrides", "from_dict",
           "load_experiment", "to_dict", "validate"]


# --------------------------------------------------------------------------------------------
# Field helpers: each field states its rule once, in its metadata.


def choice(default: Any, allowed: tuple, doc: str = "") -> Any:
    return dataclasses.field(default=default, metadata={"choices": allowed, "doc": doc})


def number(default: Any, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, doc: str = "") -> Any:
    """A number in [low, high] (or (low, high] when ``low_open``)."""
    return dataclasses.field(default=default, metadata={"low": low, "high": high,
                                                        "low_open": low_open, "doc": doc})


def _describe_range(meta: dict) -> str:
    low, high = meta.get("low"), meta.get("high")
    left = "(" if meta.get("low_open") else "["
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"a number in {left}{lo}, {hi}]"


def _check_type(path: str, value: Any, annotation: Any) -> Any:
    """Checks (and lightly coerces: int -> float, list -> tuple) a value against its annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
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


def _validate_fields(obj: Any, prefix: str) -> Any:
    """Returns a copy of dataclass ``obj`` with every field type-checked and range-checked."""
    hints = typing.get_type_hints(type(obj))
    updates = {}
    for f in dataclasses.fields(obj):
        path = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            updates[f.name] = _validate_fields(value, path + ".")
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
                raise ConfigError(f"{path}: got {value!r}; allowed: {_describe_range(meta)}")
        updates[f.name] = value
    new = dataclasses.replace(obj, **updates)
    check = getattr(new, "check", None)
    if check is not None:
        check(prefix)
    return new


# --------------------------------------------------------------------------------------------
# The configuration tree.


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Decoder-only transformer. ``width`` must be divisible by ``heads``."""
    depth: int = number(2, low=1, doc="number of transformer blocks")
    width: int = number(64, low=1, doc="residual stream width (d_model)")
    heads: int = number(4, low=1, doc="attention heads per block")
    mlp_ratio: int = number(4, low=1, doc="MLP hidden width / width")
    pos_encoding: str = choice("rope", ("learned", "rope", "none"),
                               doc="position encoding")
    attention_only: bool = dataclasses.field(default=False, metadata={
        "doc": "drop the MLP from every block (induction-head studies)"})
    dtype: str = choice("float32", ("float32", "bfloat16"), doc="compute dtype; params stay float32")

    def check(self, prefix: str) -> None:
        if self.width % self.heads:
            raise ConfigError(f"{prefix}width: got {self.width}, which is not divisible by "
                              f"{prefix}heads={self.heads}; allowed: a multiple of heads")
        if self.pos_encoding == "rope" and (self.width // self.heads) % 2:
            raise ConfigError(f"{prefix}heads: head size width/heads = {self.width // self.heads} "
                              "is odd; RoPE needs an even head size")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with linear warmup then cosine decay, and global-norm gradient clipping."""
    learning_rate: float = number(1e-3, low=0.0, low_open=True, doc="peak learning rate")
    warmup_steps: int = number(50, low=0, doc="linear warmup steps")
    end_lr_fraction: float = number(0.1, low=0.0, high=1.0, doc="final lr / peak lr")
    weight_decay: float = number(0.01, low=0.0)
    b1: float = number(0.9, low=0.0, high=1.0)
    b2: float = number(0.98, low=0.0, high=1.0)
    grad_clip: float = number(1.0, low=0.0, doc="max global grad norm; 0 disables clipping")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training length and evaluation cadence.

    Evaluation runs every ``eval_every`` steps inside the compiled loop. One host round-trip happens
    per chunk of ``evals_per_chunk`` evaluations (rounded down to a divisor of the number of
    evaluations, so every chunk is the same compiled program).
    """
    steps: int = number(1000, low=1, doc="optimizer steps per seed")
    batch_size: int = number(32, low=1, doc="training examples per step per seed")
    eval_every: int = number(100, low=1, doc="steps between evaluations; must divide steps")
    evals_per_chunk: int = number(5, low=1, doc="evaluations per compiled chunk")
    dataset_size: int = number(0, low=0, doc="distinct training examples per seed (a finite "
                               "dataset sampled with replacement); 0 = a fresh example every time")
    checkpoint_every_chunks: int = number(
        1, low=0, doc="sweeps save a population checkpoint every this many chunks and after the "
                      "last one; 0 saves none (an interrupted scale point then restarts from step 0)")

    def check(self, prefix: str) -> None:
        if self.steps % self.eval_every:
            raise ConfigError(f"{prefix}eval_every: got {self.eval_every}, which does not divide "
                              f"{prefix}steps={self.steps}; allowed: a divisor of steps")

    @property
    def num_evals(self) -> int:
        return self.steps // self.eval_every

    @property
    def chunk_evals(self) -> int:
        """Evaluations per chunk: the largest divisor of num_evals that is <= evals_per_chunk."""
        n = self.num_evals
        return max(d for d in range(1, min(n, self.evals_per_chunk) + 1) if n % d == 0)

    @property
    def eval_steps(self) -> tuple[int, ...]:
        return tuple(self.eval_every * (i + 1) for i in range(self.num_evals))


@dataclasses.dataclass(frozen=True)
class PopulationConfig:
    """Which seeds form the population.

    Seed ``i`` (for i in ``first_seed .. first_seed + num_seeds - 1``) gets init key
    ``fold_in(PRNGKey(init_seed), i)`` and data-order key ``fold_in(PRNGKey(data_seed), i)``, so a
    seed's numbers do not depend on how many other seeds share its population. ``vary`` picks what
    changes across seeds: both keys, only the data order (same init), or only the init (same data).
    """
    num_seeds: int = number(8, low=1, doc="seeds per population (per scale point)")
    first_seed: int = number(0, low=0)
    init_seed: int = number(0, low=0)
    data_seed: int = number(1, low=0)
    vary: str = choice("both", ("both", "init", "data"),
                       doc="what differs across seeds: both keys, only init, or only data order")
    seed_group: int = number(0, low=0, doc=(
        "seeds vectorised together on one device: 0 = all of the device's seeds at once (fastest on "
        "accelerators); k > 0 = groups of k run one after another inside the compiled chunk, which "
        "bounds memory per device and keeps CPU working sets in cache. Results do not change."))


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A grid of scale points. ``axes`` maps dotted config fields to the values they take, e.g.
    ``{"model.width": (32, 64, 128), "model.depth": (1, 2)}``. ``mode='product'`` takes every
    combination; ``mode='zip'`` pairs the i-th values of all axes (all the same length).
    An empty ``axes`` is a single scale point: the base config."""
    axes: dict[str, tuple] = dataclasses.field(default_factory=dict)
    mode: str = choice("product", ("product", "zip"))
    scale_variable: str = choice("params", ("params", "non_embedding_params", "tokens", "flops"),
                                 doc="the derived size that statistics use as the scale")

    def check(self, prefix: str) -> None:
        for name, values in self.axes.items():
            if not isinstance(values, (tuple, list)) or not values:
                raise ConfigError(f"{prefix}axes[{name!r}]: got {values!r}; allowed: a non-empty "
                                  "list of values")
        if self.mode == "zip" and len({len(v) for v in self.axes.values()}) > 1:
            raise ConfigError(f"{prefix}mode: 'zip' needs every axis to have the same number of "
                              f"values; got lengths { {k: len(v) for k, v in self.axes.items()} }")


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """What ``emergence-jax run`` fits and reports after the sweep (``emergence-jax fit`` takes the
    same settings as flags). Changing these never invalidates trained populations."""
    metric: str = dataclasses.field(default="", metadata={
        "doc": "metric to fit; empty = the task's success metric (e.g. ood/exact_match for count)"})
    threshold: float = number(0.2, low=0.0, high=1.0, doc="a seed succeeds when metric > threshold")
    model: str = choice("mixture", ("mixture", "unimodal"), doc="statistical model to fit")
    method: str = choice("nuts", ("nuts", "svi"), doc="NUTS (default) or SVI for huge populations")
    likelihood: str = choice("auto", ("auto", "betabinomial", "zoib"), doc=(
        "auto: BetaBinomial on counts for accuracy-type metrics (the run knows the number of "
        "evaluation examples), zoib (zero/one-inflated Beta) for continuous scores such as probes"))
    chains: int = number(4, low=1)
    warmup: int = number(500, low=0)
    samples: int = number(500, low=10)
    seed: int = number(0, low=0)


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Base class of task configs; each task module defines a subclass with its own fields.
    ``name`` picks the task from the registry in ``emergence_jax.tasks``."""
    name: str = "count"
    eval_seed: int = number(1234, low=0, doc="key of the fixed evaluation sets")
    eval_examples: int = number(256, low=1, doc="examples per evaluation set")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    task: TaskConfig = dataclasses.field(default_factory=lambda: _default_task_config("count"))
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    population: PopulationConfig = dataclasses.field(default_factory=PopulationConfig)
    sweep: SweepConfig = dataclasses.field(default_factory=SweepConfig)
    analysis: AnalysisConfig = dataclasses.field(default_factory=AnalysisConfig)

    def check(self, prefix: str) -> None:
        for name in self.sweep.axes:
            try:
                get_field(self, name)
            except ConfigError as e:
                raise ConfigError(f"{prefix}sweep.axes: {e}") from None


def _default_task_config(name: str) -> TaskConfig:
    from emergence_jax import tasks  # the registry lives with the tasks
    return tasks.config_class(name)()


# --------------------------------------------------------------------------------------------
# Validation, overrides, loading and (de)serialisation.


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    """Checks every field; returns the config with values coerced to their declared types."""
    if not isinstance(cfg, ExperimentConfig):
        raise ConfigError(f"expected an ExperimentConfig, got {type(cfg).__name__}")
    from emergence_jax import tasks
    expected = tasks.config_class(cfg.task.name)  # raises ConfigError naming task.name
    if type(cfg.task) is not expected:
        raise ConfigError(f"task: config class {type(cfg.task).__name__} does not match "
                          f"task.name={cfg.task.name!r} (expected {expected.__name__})")
    return _validate_fields(cfg, "")


def _field_names(obj: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(obj)]


def get_field(cfg: Any, dotted: str) -> Any:
    node = cfg
    walked = []
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(node) or part not in _field_names(node):
            where = ".".join(walked) or "the config"
            allowed = ", ".join(_field_names(node)) if dataclasses.is_dataclass(node) else "none"
            raise ConfigError(f"{dotted}: {where} has no field {part!r}; allowed fields: {allowed}")
        node = getattr(node, part)
        walked.append(part)
    return node


def set_field(cfg: Any, dotted: str, value: Any) -> Any:
    """Returns a copy of ``cfg`` with the dotted field replaced. Setting ``task.name`` swaps in
    that task's default config (keeping shared fields such as ``eval_seed``)."""
    head, _, rest = dotted.partition(".")
    get_field(cfg, dotted)  # raises a clear error for unknown names
    if not rest:
        return dataclasses.replace(cfg, **{head: value})
    child = getattr(cfg, head)
    if isinstance(child, TaskConfig) and rest == "name" and value != child.name:
        from emergence_jax import tasks
        new_cls = tasks.config_class(value)
        shared = {f.name: getattr(child, f.name) for f in dataclasses.fields(TaskConfig)
                  if f.name != "name"}
        return dataclasses.replace(cfg, **{head: new_cls(**shared)})
    return dataclasses.replace(cfg, **{head: set_field(child, rest, value)})


def parse_value(text: str) -> Any:
    """Parses an override value: Python/JSON literals (numbers, true/false, lists, dicts, quoted
    strings), falling back to the raw string."""
    lowered = {"true": True, "false": False, "null": None}
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


def load_experiment(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Loads ``get_config()`` from an experiment file, applies overrides and validates."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment file {str(path)!r} does not exist")
    module_name = f"_emergence_experiment_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    get_config: Callable[[], ExperimentConfig] | None = getattr(module, "get_config", None)
    if get_config is None:
        raise ConfigError(f"experiment file {str(path)!r} defines no get_config() function")
    return apply_overrides(get_config(), overrides)


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


def from_dict(data: dict) -> ExperimentConfig:
    """Rebuilds (and validates) an ExperimentConfig from ``to_dict`` output."""
    from emergence_jax import tasks
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a JSON object, got {type(data).__name__}")

    def build(cls, values, prefix):
        if not isinstance(values, dict):
            raise ConfigError(f"{prefix or 'config'}: expected an object, got {values!r}")
        names = _field_names(cls)
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(f"{prefix}{unknown[0]}: unknown field; allowed fields: "
                              f"{', '.join(names)}")
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for name, value in values.items():
            hint = hints[name]
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                if hint is TaskConfig:
                    hint = tasks.config_class(value.get("name", "count"))
                value = build(hint, value, f"{prefix}{name}.")
            elif name == "axes":
                value = {k: tuple(v) for k, v in value.items()}
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)

    return validate(build(ExperimentConfig, data, ""))


def to_json(cfg: ExperimentConfig) -> str:
    return json.dumps(to_dict(cfg), indent=2, sort_keys=True)


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
            rule = _describe_range(f.metadata)
        doc = f.metadata.get("doc", "")
        lines.append(f"{prefix}{f.name} = {value!r}" + (f"   # {rule}" if rule else "")
                     + (f"; {doc}" if doc else ""))
    return lines
