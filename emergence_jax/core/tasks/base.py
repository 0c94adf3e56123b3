"""The task interface: what the trainer needs from a task.

A task generates batches in pure JAX from a key (so data generation compiles into the training
loop), names its fixed evaluation sets, and computes metrics from logits (and attention weights when
it asks for them). All sequences of a task have the same length, so one compiled program serves
every batch.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.struct
import jax
import jax.numpy as jnp

Array = jax.Array


@flax.struct.dataclass
class Batch:
    """Next-token prediction examples. ``targets[:, t]`` is the token after ``inputs[:, t]``;
    ``loss_mask`` (float, 0/1) marks the positions scored by the training loss and by the default
    metrics (the answer tokens)."""
    inputs: Array     # int32 [batch, seq_len]
    targets: Array    # int32 [batch, seq_len]
    loss_mask: Array  # float32 [batch, seq_len]


def token_nll(logits: Array, targets: Array) -> Array:
    """Per-position negative log-likelihood, computed in float32. [batch, seq_len]."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]


def masked_mean(values: Array, mask: Array) -> Array:
    """Mean of ``values`` over the positions where ``mask`` is 1 (0 when the mask is empty)."""
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def sequence_metrics(logits: Array, batch: Batch) -> dict[str, Array]:
    """The metrics every task reports on its answer positions.

    loss:            mean NLL per answer token (nats)
    token_accuracy:  fraction of answer tokens whose argmax is right
    exact_match:     fraction of examples with every answer token right. Under teacher forcing this
                     equals greedy-decoding exact match: if every prediction is right, greedy decoding
                     reproduces the target sequence token by token.
    p_answer:        mean per-token probability of the right answer token (a continuous metric)
    """
    mask = batch.loss_mask
    nll = token_nll(logits, batch.targets)
    correct = (jnp.argmax(logits, axis=-1) == batch.targets).astype(jnp.float32)
    wrong_per_example = jnp.sum((1.0 - correct) * mask, axis=-1)
    return {
        "loss": masked_mean(nll, mask),
        "token_accuracy": masked_mean(correct, mask),
        "exact_match": jnp.mean((wrong_per_example == 0).astype(jnp.float32)),
        "p_answer": masked_mean(jnp.exp(-nll), mask),
    }


def last_answer_position(batch: Batch) -> Array:
    """int32 [batch]: the last position whose ``loss_mask`` is set, per example (0 for an example
    with no answer position). For tasks whose answer is one token at a varying position (padded
    templates, partial repeats) this is where the answer is predicted."""
    seq_len = batch.loss_mask.shape[-1]
    positions = jnp.arange(seq_len, dtype=jnp.int32)
    return jnp.max(jnp.where(batch.loss_mask > 0, positions, 0), axis=-1).astype(jnp.int32)


def take_positions(values: Array, positions: Array) -> Array:
    """``values[b, positions[b]]`` for every example b: [batch, seq, ...] -> [batch, ...]."""
    index = positions.reshape(positions.shape + (1,) * (values.ndim - 1))
    return jnp.take_along_axis(values, index.astype(jnp.int32), axis=1)[:, 0]


class Task:
    """Base class. Subclasses set ``vocab_size`` and ``seq_len`` in ``__init__`` and implement
    ``train_batch`` and ``eval_sets``; they may extend ``metrics``.

    ``success_metric``: the default metric of fits and reports for this task (declared by its
    config class, ``TaskConfig.success_metric``).
    ``eval_uses_attention``: when True, the model is run with ``return_attention=True`` on the
    evaluation sets and ``metrics`` receives the per-layer attention weights
    (a tuple of [batch, heads, seq_len, seq_len] arrays).
    """

    vocab_size: int
    seq_len: int
    eval_uses_attention: bool = False
    def __init__(self, config: Any):
        self.config = config

    @property
    def success_metric(self) -> str:
        """The metric whose per-seed distribution studies fit by default ("split/name")."""
        return self.config.success_metric

    def train_batch(self, key: Array, batch_size: int) -> Batch:
        raise NotImplementedError

    def eval_sets(self, key: Array) -> Mapping[str, Batch]:
        """Named, fixed evaluation sets of ``config.eval_examples`` examples each."""
        raise NotImplementedError

    def metrics(self, split: str, logits: Array, batch: Batch,
                attention: tuple[Array, ...] | None = None) -> dict[str, Array]:
        """Scalar metrics of one evaluation set. Keys become ``f"{split}/{key}"``."""
        del split, attention
        return sequence_metrics(logits, batch)

    def oracle_logits(self, batch: Batch) -> Array:
        """Logits of a perfect predictor on the answer positions (one-hot on the targets); used
        by tests to check that metrics reach their best values."""
        return jax.nn.one_hot(batch.targets, self.vocab_size) * 30.0
