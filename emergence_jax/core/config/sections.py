"""The sections of an experiment config (model, optimizer, train, population, sweep, analysis) and
the base of task configs with its registry (``task.name`` -> config class).

Task config classes register themselves with ``@register_task`` (the built-in ones are in
``emergence_jax.core.config.tasks``); nothing here imports task code, so configs validate, print and
round-trip through JSON without JAX.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from emergence_jax.core.config.fields import choice, number
from emergence_jax.core.errors import ConfigError

__all__ = ["AnalysisConfig", "ModelConfig", "OptimizerConfig", "PopulationConfig", "SweepConfig",
           "TaskConfig", "TrainConfig", "register_task", "task_config_class", "task_names",
           "SCALE_VARIABLES", "EMERGENCE_TIME_MODELS", "FIT_MODELS", "FIT_CURVES",
           "check_scale_variable"]

SCALE_VARIABLES = ("params", "non_embedding_params", "tokens", "flops")
MAX_SEED_ID = 2**31 - 1   # seed ids are int32 in the population state
MAX_KEY_SEED = 2**32 - 1  # PRNG key seeds are uint32: a larger one would silently wrap


def check_scale_variable(value: str, path: str, *, allow_empty: bool = False) -> None:
    """A scale variable is a derived size (``SCALE_VARIABLES``) or a swept field
    (``section.field``, e.g. ``task.ones_per_row``); ``ConfigError`` naming ``path`` otherwise."""
    dotted = "." in value and all(part.isidentifier() for part in value.split("."))
    if value in SCALE_VARIABLES or dotted or (allow_empty and value == ""):
        return
    allowed = ", ".join(repr(v) for v in (("",) if allow_empty else ()) + SCALE_VARIABLES)
    raise ConfigError(f"{path}: got {value!r}; allowed: {allowed} or a swept field "
                      "(section.field, e.g. 'task.ones_per_row')")


# Models of when seeds emerge (per-seed emergence steps from the learning curves); the others
# model the final outcomes.
EMERGENCE_TIME_MODELS = ("emergence-time", "emergence-time-cure")
FIT_MODELS = ("hurdle", "mixture", "unimodal", "hierarchical",
              "hierarchical-unimodal") + EMERGENCE_TIME_MODELS
FIT_CURVES = ("auto", "logistic", "quadratic", "asymptotes", "monotone")


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
    num_seeds: int = number(8, low=1, high=MAX_SEED_ID + 1,
                            doc="seeds per population (per scale point)")
    first_seed: int = number(0, low=0, high=MAX_SEED_ID)
    init_seed: int = number(0, low=0, high=MAX_KEY_SEED, doc="key of every seed's initialisation")
    data_seed: int = number(1, low=0, high=MAX_KEY_SEED, doc="key of every seed's data order")
    vary: str = choice("both", ("both", "init", "data"),
                       doc="what differs across seeds: both keys, only init, or only data order")
    seed_group: int = number(0, low=0, doc=(
        "seeds vectorised together on one device: 0 = all of the device's seeds at once (fastest on "
        "accelerators); k > 0 = groups of k run one after another inside the compiled chunk, which "
        "bounds memory per device and keeps CPU working sets in cache. Results do not change."))
    memory_budget: int = number(0, low=0, doc=(
        "bytes per device the population's compiled chunk may use; with seed_group 0, a chunk "
        "that needs more computes the device's seeds in groups sized to fit (XLA's compiled "
        "memory analysis). 0 = 90% of an accelerator's memory, and no splitting on CPU"))

    def check(self, prefix: str) -> None:
        last = self.first_seed + self.num_seeds - 1
        if last > MAX_SEED_ID:
            raise ConfigError(f"{prefix}num_seeds: seeds {self.first_seed}..{last} go past "
                              f"{MAX_SEED_ID}; allowed: first_seed + num_seeds - 1 <= "
                              f"{MAX_SEED_ID} (seed ids are int32)")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A grid of scale points. ``axes`` maps dotted config fields to the values they take, e.g.
    ``{"model.width": (32, 64, 128), "model.depth": (1, 2)}``. ``mode='product'`` takes every
    combination; ``mode='zip'`` pairs the i-th values of all axes (all the same length).
    An empty ``axes`` is a single scale point: the base config."""
    axes: dict[str, tuple] = dataclasses.field(default_factory=dict)
    mode: str = choice("product", ("product", "zip"))
    scale_variable: str = dataclasses.field(default="params", metadata={"doc": (
        "the scale statistics use: a derived size (" + ", ".join(SCALE_VARIABLES) + ") or one of "
        "the swept fields (e.g. task.ones_per_row)")})
    nest: bool = dataclasses.field(default=True, metadata={"doc": (
        "train points that differ only in train.steps, and whose learning-rate schedules agree "
        "over the shorter run (a constant rate after warmup: optimizer.end_lr_fraction=1), as "
        "one run of the longest, writing the shorter points from it; the stored numbers are "
        "the same as training each alone. false trains every point on its own")})

    def check(self, prefix: str) -> None:
        check_scale_variable(self.scale_variable, f"{prefix}scale_variable")
        if "." in self.scale_variable and self.scale_variable not in self.axes:
            raise ConfigError(f"{prefix}scale_variable: {self.scale_variable!r} is not swept; "
                              f"allowed: a derived size or one of the axes "
                              f"({', '.join(self.axes) or 'none'})")
        for name, values in self.axes.items():
            if not isinstance(values, (tuple, list)) or not values:
                raise ConfigError(f"{prefix}axes[{name!r}]: got {values!r}; allowed: a non-empty "
                                  "list of values")
        if self.mode == "zip" and len({len(v) for v in self.axes.values()}) > 1:
            raise ConfigError(f"{prefix}mode: 'zip' needs every axis to have the same number of "
                              f"values; got lengths { {k: len(v) for k, v in self.axes.items()} }")


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """Fit settings: what ``emergence-jax run`` fits after the sweep, the flags of
    ``emergence-jax fit`` (generated from these fields) and the settings a saved fit records.
    Changing them never invalidates trained populations.

    Success is ``metric > threshold`` (``direction='above'``) or ``metric < threshold``
    (``'below'``); ``emergence_jax.analysis.SuccessCriterion`` is the one place that applies it."""
    metric: str = dataclasses.field(default="", metadata={
        "doc": "metric to fit; empty = the task's success metric (e.g. ood/exact_match for count)"})
    threshold: float = number(0.2, low=0.0, high=1.0,
                              doc="success threshold on the metric (see direction)")
    direction: str = choice("above", ("above", "below"), doc=(
        "a seed succeeds when its metric is above (or below) the threshold; the latent-mixture "
        "and unimodal models need 'above'"))
    loss_metric: str = dataclasses.field(default="", metadata={"doc": (
        "the pre-training loss metric, e.g. test/loss, against which the report plots and fits "
        "the metric (loss_axis.png: a threshold in loss, and whether size matters once loss is "
        "equal); empty = no loss-axis analysis")})
    scale_variable: str = dataclasses.field(default="", metadata={"doc": (
        "scale of a run store: a derived size (" + ", ".join(SCALE_VARIABLES) + ") or a swept "
        "field such as task.ones_per_row; empty = the run's sweep.scale_variable")})
    model: str = choice("hurdle", FIT_MODELS, doc=(
        "statistical model: hurdle (P(success) = probability of the success side of the "
        "threshold, by construction), mixture (latent success/failure components), unimodal, "
        "hierarchical, hierarchical-unimodal (several groups, latent mixture / unimodal), "
        "emergence-time (a censored survival model of the step at which each seed first "
        "succeeds for good; -cure adds a share of seeds that never emerge)"))
    curve: str = choice("auto", FIT_CURVES, doc=(
        "form of P(success) against log scale (hurdle model): logistic, quadratic (non-monotone), "
        "asymptotes (a transition between a floor and a ceiling), monotone (a monotone spline); "
        "auto samples every form and picks one by PSIS-LOO"))
    method: str = choice("nuts", ("nuts", "svi"), doc="NUTS (default) or SVI for huge populations")
    likelihood: str = choice("auto", ("auto", "betabinomial", "zoib"), doc=(
        "auto: BetaBinomial on counts for accuracy-type metrics (the number of evaluation "
        "examples is known), zoib (zero/one-inflated Beta) for continuous scores such as probes"))
    value_bins: int | None = number(None, low=0, doc=(
        "continuous values (zoib likelihood) binned to this many equal bins per side, a fine "
        "histogram likelihood whose cost does not grow with the population; none = 512 bins "
        "above 20,000 seeds, exact values below; 0 = always exact"))
    chance: float | None = number(None, low=0.0, high=1.0, doc=(
        "pin the failure component near this chance level; none = estimate it"))
    compare: bool = dataclasses.field(default=True, metadata={
        "doc": "also fit the alternative (the unimodal model; the mixture for a unimodal fit) "
               "and compare them by PSIS-LOO: is bimodality supported?"})
    chains: int = number(4, low=1, doc="NUTS chains (SVI draws chains x samples)")
    warmup: int = number(500, low=0, doc="NUTS warmup iterations per chain")
    samples: int = number(500, low=10, doc="posterior draws per chain")
    svi_steps: int = number(3000, low=1, doc="optimisation steps of SVI")
    seed: int = number(0, low=0, high=MAX_KEY_SEED, doc="random seed of the sampler")

    def check(self, prefix: str) -> None:
        check_scale_variable(self.scale_variable, f"{prefix}scale_variable", allow_empty=True)
        name = self.loss_metric
        if name and ("/" not in name.strip("/") or any(c.isspace() for c in name)):
            raise ConfigError(f"{prefix}loss_metric: got {name!r}; allowed: '' (no loss-axis "
                              "analysis) or a metric name <set>/<name> such as 'test/loss'")
        if self.chance is not None and self.chance >= 1.0:
            raise ConfigError(f"{prefix}chance: got {self.chance!r}; allowed: a number in [0, 1) "
                              "or none")


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Base of task configs. Each task subclasses it with its own fields, a default ``name`` and
    its ``success_metric`` (the metric fits and reports use unless ``analysis.metric`` is set),
    and registers the subclass with ``@register_task``."""
    name: str = "count"
    eval_seed: int = number(1234, low=0, high=MAX_KEY_SEED, doc="key of the fixed evaluation sets")
    eval_examples: int = number(256, low=1, doc="examples per evaluation set")

    success_metric: ClassVar[str] = "ood/exact_match"


_TASKS: dict[str, type[TaskConfig]] = {}


def register_task(cls: type[TaskConfig]) -> type[TaskConfig]:
    """Class decorator: makes ``cls`` the config of the task named by its default ``name``."""
    name = cls.__dataclass_fields__["name"].default
    if name in _TASKS and _TASKS[name] is not cls:
        raise ValueError(f"task {name!r} is registered twice ({_TASKS[name].__name__}, "
                         f"{cls.__name__})")
    _TASKS[name] = cls
    return cls


def task_config_class(name: str) -> type[TaskConfig]:
    """The config class of task ``name``; ``ConfigError`` naming ``task.name`` otherwise."""
    if name not in _TASKS:
        allowed = ", ".join(repr(n) for n in sorted(_TASKS))
        raise ConfigError(f"task.name: got {name!r}; allowed values: {allowed}")
    return _TASKS[name]


def task_names() -> list[str]:
    """The names of the registered tasks, sorted."""
    return sorted(_TASKS)
