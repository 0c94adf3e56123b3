"""Configs of the built-in tasks: each task's fields, their rules and its success metric.

The task implementations (data generation, metrics) are in ``emergence_jax.core.tasks``; keeping
their configs here lets the config layer validate, describe and rebuild every experiment without
importing task code. A new task adds its config class here (or anywhere, decorated with
``@register_task``) and its implementation module to ``emergence_jax.core.tasks.REGISTRY``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from emergence_jax.core.config.fields import choice, number
from emergence_jax.core.config.sections import TaskConfig, register_task
from emergence_jax.core.errors import ConfigError

__all__ = ["AdditionConfig", "CountConfig", "IOIConfig", "InductionConfig", "LinearMapConfig",
           "SkillsConfig", "IOI_TEMPLATES", "SKILLS"]

# The sentences of the IOI task (slots N1, N2, S, PLACE, OBJECT, IO); ``IOIConfig.num_templates``
# picks how many of them are used.
IOI_TEMPLATES = (
    "Then N1 and N2 went to the PLACE . S gave a OBJECT to IO",
    "When N1 and N2 got a OBJECT at the PLACE , S gave it to IO",
    "After N1 and N2 went to the PLACE , S handed the OBJECT to IO",
)
# The elementary skills of the k-skill composition task (``SkillsConfig.skills`` picks from them).
SKILLS = ("reverse", "increment", "swap_pairs", "sort", "shift", "complement")


@register_task
@dataclasses.dataclass(frozen=True)
class CountConfig(TaskConfig):
    name: str = "count"
    success_metric: ClassVar[str] = "ood/exact_match"
    max_number: int = number(32, low=2, doc="numbers are tokens 0..max_number-1")
    min_span: int = number(1, low=1, doc="shortest training span b-a+1")
    train_max_span: int = number(8, low=1, doc="longest training span")
    eval_max_span: int = number(12, low=1, doc="longest out-of-distribution span")

    def check(self, prefix: str) -> None:
        if not self.min_span <= self.train_max_span < self.eval_max_span <= self.max_number:
            raise ConfigError(
                f"{prefix}train_max_span: need min_span <= train_max_span < eval_max_span <= "
                f"max_number; got {self.min_span}, {self.train_max_span}, {self.eval_max_span}, "
                f"{self.max_number}")


@register_task
@dataclasses.dataclass(frozen=True)
class AdditionConfig(TaskConfig):
    name: str = "addition"
    success_metric: ClassVar[str] = "ood/exact_match"
    min_digits: int = number(1, low=1, doc="shortest operand")
    train_max_digits: int = number(5, low=1, doc="longest training operand")
    eval_max_digits: int = number(8, low=1, doc="longest evaluation operand")
    num_hints: int = number(12, low=2, doc="index-hint tokens h0..h{num_hints-1}")
    hint_offset: str = choice("random", ("random", "zero"),
                              doc="first hint of an example: a random fitting start, or h0")

    def check(self, prefix: str) -> None:
        if not self.min_digits <= self.train_max_digits < self.eval_max_digits:
            raise ConfigError(
                f"{prefix}train_max_digits: need min_digits <= train_max_digits < "
                f"eval_max_digits; got {self.min_digits}, {self.train_max_digits}, "
                f"{self.eval_max_digits}")
        if self.num_hints < self.eval_max_digits + 1:
            raise ConfigError(f"{prefix}num_hints: got {self.num_hints}; allowed: at least "
                              f"{prefix}eval_max_digits + 1 = {self.eval_max_digits + 1}")


@register_task
@dataclasses.dataclass(frozen=True)
class InductionConfig(TaskConfig):
    name: str = "induction"
    success_metric: ClassVar[str] = "test/final_accuracy"
    variant: str = choice("repeat", ("repeat", "partial", "digits"),
                          doc="whole repeat, partial repeat, or digit string + partial repeat")
    num_tokens: int = number(16, low=2, doc="alphabet size A (variant 'digits' uses the 10 digits)")
    prefix_len: int = number(8, low=2, doc="longest random string L")
    min_prefix_len: int = number(4, low=2, doc="shortest random string")
    min_repeat: int = number(2, low=2, doc="shortest partial repeat m (variants partial, digits)")
    distinct: bool = dataclasses.field(default=True, metadata={
        "doc": "draw the string without replacement (variants repeat, partial)"})
    probe_examples: int = number(64, low=1, doc="examples in the 'probe' evaluation set")

    def check(self, prefix: str) -> None:
        if self.min_prefix_len > self.prefix_len:
            raise ConfigError(f"{prefix}min_prefix_len: got {self.min_prefix_len}; allowed: at "
                              f"most {prefix}prefix_len={self.prefix_len}")
        if self.min_repeat > self.min_prefix_len:
            raise ConfigError(f"{prefix}min_repeat: got {self.min_repeat}; allowed: at most "
                              f"{prefix}min_prefix_len={self.min_prefix_len}")
        if self.variant != "digits" and self.distinct and self.prefix_len > self.num_tokens:
            raise ConfigError(
                f"{prefix}prefix_len: got {self.prefix_len}; with {prefix}distinct=True allowed: "
                f"at most {prefix}num_tokens={self.num_tokens}")


@register_task
@dataclasses.dataclass(frozen=True)
class IOIConfig(TaskConfig):
    name: str = "ioi"
    success_metric: ClassVar[str] = "abba/accuracy"
    num_names: int = number(16, low=2, doc="name tokens")
    num_places: int = number(8, low=1, doc="place tokens")
    num_objects: int = number(8, low=1, doc="object tokens")
    num_templates: int = number(len(IOI_TEMPLATES), low=1, high=len(IOI_TEMPLATES),
                                doc="how many of the templates are used")
    train_order: str = choice("both", ("both", "baba", "abba"),
                              doc="name orders seen in training")
    probe_len: int = number(8, low=2, doc="half length of the 'probe' repeated sequence "
                                          "(capped at half the sequence length)")
    probe_examples: int = number(64, low=1, doc="examples in the 'probe' evaluation set")


@register_task
@dataclasses.dataclass(frozen=True)
class LinearMapConfig(TaskConfig):
    name: str = "linear_map"
    success_metric: ClassVar[str] = "test/exact_match"
    num_bits: int = number(8, low=1, doc="state size S")
    ones_per_row: int = number(4, low=1, doc="ones per row of A (s); hardest near S/2")
    map_seed: int = number(0, low=0, doc="seed of the fixed matrix A")
    probe_examples: int = number(64, low=1, doc="examples in the 'probe' evaluation set")

    def check(self, prefix: str) -> None:
        if self.ones_per_row > self.num_bits:
            raise ConfigError(f"{prefix}ones_per_row: got {self.ones_per_row}; allowed: at most "
                              f"{prefix}num_bits={self.num_bits}")


@register_task
@dataclasses.dataclass(frozen=True)
class SkillsConfig(TaskConfig):
    name: str = "skills"
    success_metric: ClassVar[str] = "heldout_k2/exact_match"
    skills: tuple[str, ...] = dataclasses.field(
        default=("reverse", "increment", "swap_pairs", "sort", "shift"),
        metadata={"doc": f"the elementary skills, from {', '.join(SKILLS)}"})
    num_symbols: int = number(8, low=2, doc="symbols 0..num_symbols-1 (V)")
    string_len: int = number(6, low=2, doc="length n of the string the skills act on")
    train_k: tuple[int, ...] = dataclasses.field(default=(1, 2), metadata={
        "doc": "tuple sizes mixed (uniformly) in training"})
    eval_k: tuple[int, ...] = dataclasses.field(default=(1, 2, 3), metadata={
        "doc": "tuple sizes evaluated"})
    heldout_fraction: float = number(0.25, low=0.0, high=1.0,
                                     doc="share of the k-tuples (k >= 2) held out of training")
    split_seed: int = number(0, low=0, doc="seed of the held-out choice")

    def check(self, prefix: str) -> None:
        unknown = [s for s in self.skills if s not in SKILLS]
        if unknown or not self.skills or len(set(self.skills)) != len(self.skills):
            allowed = ", ".join(repr(s) for s in SKILLS)
            raise ConfigError(f"{prefix}skills: got {self.skills!r}; allowed: distinct names "
                              f"from {allowed}")
        for field in ("train_k", "eval_k"):
            ks = getattr(self, field)
            if not ks or any(k < 1 or k > len(self.skills) for k in ks) or len(set(ks)) != len(ks):
                raise ConfigError(f"{prefix}{field}: got {ks!r}; allowed: distinct tuple sizes in "
                                  f"1..{len(self.skills)} (the number of {prefix}skills)")
