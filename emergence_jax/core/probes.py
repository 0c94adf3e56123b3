"""Attention-pattern probes: per-layer, per-head scores of how closely a head's attention follows a
known pattern (the head detector of TransformerLens; Olsson et al., "In-context Learning and
Induction Heads", arXiv 2209.11895). Everything here is pure ``jnp``, so tasks
compute the scores inside the compiled evaluation.

Pattern score (the TransformerLens head-detector formula). For attention weights ``a[b, h, q, k]``
of one layer and a 0/1 pattern ``P[b, q, k]``, head ``h`` scores

    score_h = Σ_{b, q ∈ R_b} Σ_k a[b,h,q,k] · P[b,q,k]  /  Σ_{b, q ∈ R_b} Σ_k a[b,h,q,k]

where ``R_b`` is the set of query rows of example ``b`` on which the pattern is *defined* (the rows
where ``P`` has at least one 1, unless a task passes its own rows). Attention rows sum to one, so
the score is the mean, over the defined query rows of the whole probe batch, of the attention mass
a head puts on the pattern's keys: 1.0 for a head that attends only there, 0.0 for one that never
does. Rows where the pattern is undefined (e.g. the first half of a repeated sequence for the
induction pattern) are left out of both sums.

Patterns (``t`` = the probe's input tokens, positions 0-based, causal so ``k <= q``):

``previous_token``   P[q, q-1] = 1                                    (rows q >= 1)
``duplicate_token``  P[q, k] = 1 if t_k = t_q and k < q               (rows with an earlier copy)
``induction``        P[q, k] = 1 if t_{k-1} = t_q and k - 1 < q       (prefix matching: attend to
                     the token *after* an earlier copy of the current token; the duplicate mask
                     shifted one column right)
``ground_truth``     a task-given pattern (the linear map's A, placed at the sequence positions)
``entropy``          H_h = −mean_{b, q >= 1} Σ_k a[b,h,q,k] log a[b,h,q,k] (nats; query row 0
                     always attends only to itself and is left out). A falling entropy marks a
                     sparse pattern being learned.

Metric names (``probe_metrics``; layers and heads are 0-based like the model's ``block_{i}``):

    <pattern>_L{l}H{h}   the score of head h of layer l, e.g. ``induction_L1H2``
    <pattern>_max        the largest score over all layers and heads
    entropy_L{l}H{h}     the entropy of head h of layer l
    entropy_min          the smallest entropy over all layers and heads

Tasks evaluate the probes on a small evaluation set called ``probe`` (so the stored names read
``probe/induction_L1H2``, ``probe/induction_max``, ...). The standard probe input is
``repeated_tokens``: BOS followed by a random token sequence repeated twice.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from emergence_jax.core.tasks.base import Batch

Array = jax.Array

PATTERNS = ("previous_token", "duplicate_token", "induction")


# --------------------------------------------------------------------------------------------
# Patterns: 0/1 float arrays [batch, q, k] (or [q, k] where they do not depend on the tokens).


def previous_token_pattern(seq_len: int) -> Array:
    """[q, k]: P[q, q-1] = 1."""
    return jnp.eye(seq_len, k=-1, dtype=jnp.float32)


def duplicate_token_pattern(tokens: Array) -> Array:
    """[batch, q, k]: P[q, k] = 1 where t_k = t_q and k < q."""
    seq_len = tokens.shape[-1]
    same = tokens[:, :, None] == tokens[:, None, :]
    earlier = jnp.tril(jnp.ones((seq_len, seq_len), dtype=bool), k=-1)
    return (same & earlier[None]).astype(jnp.float32)


def induction_pattern(tokens: Array) -> Array:
    """[batch, q, k]: P[q, k] = 1 where t_{k-1} = t_q and k - 1 < q (the duplicate-token pattern
    shifted one column right; column 0 is never part of it)."""
    dup = duplicate_token_pattern(tokens)
    return jnp.pad(dup[:, :, :-1], ((0, 0), (0, 0), (1, 0)))


# --------------------------------------------------------------------------------------------
# Scores of one layer: [batch, heads, q, k] -> [heads].


def pattern_score(attn: Array, pattern: Array, rows: Array | None = None) -> Array:
    """Per-head score against ``pattern`` ([q, k] or [batch, q, k]) over the defined query rows
    ``rows`` ([q] or [batch, q], bool; default: the rows where the pattern has a 1).
    Returns [heads]; 0.0 when no row is defined."""
    attn = attn.astype(jnp.float32)
    pattern = jnp.broadcast_to(pattern, (attn.shape[0],) + attn.shape[2:]).astype(jnp.float32)
    if rows is None:
        rows = jnp.any(pattern > 0, axis=-1)
    rows = jnp.broadcast_to(rows, attn.shape[:1] + attn.shape[2:3]).astype(jnp.float32)
    weight = rows[:, None, :, None]
    numerator = jnp.sum(attn * pattern[:, None] * weight, axis=(0, 2, 3))
    denominator = jnp.sum(attn * weight, axis=(0, 2, 3))
    return numerator / jnp.maximum(denominator, 1e-30)


def attention_entropy(attn: Array) -> Array:
    """Per-head entropy −mean_{b, q >= 1} Σ_k a log a (nats). Returns [heads]."""
    a = attn.astype(jnp.float32)[:, :, 1:, :]
    plogp = jnp.where(a > 0, a * jnp.log(jnp.where(a > 0, a, 1.0)), 0.0)
    return -jnp.mean(jnp.sum(plogp, axis=-1), axis=(0, 2))


# --------------------------------------------------------------------------------------------
# All layers: metric dictionaries.


def _per_head(name: str, values: Array) -> dict[str, Array]:
    """values [layers, heads] -> {"name_L{l}H{h}": scalar}."""
    return {f"{name}_L{l}H{h}": values[l, h]
            for l in range(values.shape[0]) for h in range(values.shape[1])}


def layer_scores(attention: Sequence[Array], pattern: Array, rows: Array | None = None) -> Array:
    """[layers, heads] pattern scores of every layer's attention."""
    return jnp.stack([pattern_score(a, pattern, rows) for a in attention])


def probe_metrics(attention: Sequence[Array], tokens: Array,
                  patterns: Sequence[str] = PATTERNS, entropy: bool = True,
                  ground_truth: Array | None = None,
                  ground_truth_rows: Array | None = None) -> dict[str, Array]:
    """Scores of every layer and head for the named ``patterns`` (from ``PATTERNS``), the
    attention entropy, and (when ``ground_truth`` is given, a [q, k] or [batch, q, k] pattern) the
    ground-truth score, with their ``_max`` (``entropy_min``) summaries. ``tokens`` are the model's
    inputs [batch, seq]; ``attention`` the model's per-layer weights [batch, heads, seq, seq]."""
    builders = {
        "previous_token": lambda: previous_token_pattern(tokens.shape[-1]),
        "duplicate_token": lambda: duplicate_token_pattern(tokens),
        "induction": lambda: induction_pattern(tokens),
    }
    out: dict[str, Array] = {}
    items = [(name, builders[name](), None) for name in patterns]
    if ground_truth is not None:
        items.append(("ground_truth", ground_truth, ground_truth_rows))
    for name, pattern, rows in items:
        scores = layer_scores(attention, pattern, rows)
        out.update(_per_head(name, scores))
        out[f"{name}_max"] = jnp.max(scores)
    if entropy:
        ent = jnp.stack([attention_entropy(a) for a in attention])
        out.update(_per_head("entropy", ent))
        out["entropy_min"] = jnp.min(ent)
    return out


# --------------------------------------------------------------------------------------------
# The standard probe input.


def repeated_tokens(key: Array, batch_size: int, half_len: int, low: int, high: int,
                    bos: int, distinct: bool = False) -> Batch:
    """BOS followed by a random sequence of ``half_len`` tokens from ``low .. high-1``, repeated
    twice: ``BOS r_1 … r_n r_1 … r_n`` (2n+1 tokens; inputs and targets have 2n). ``distinct``
    draws the n tokens without replacement. ``loss_mask`` marks the second copy's predictable
    tokens r_2 … r_n (the first token of the copy cannot be predicted from the context)."""
    if distinct:
        order = jnp.argsort(jax.random.uniform(key, (batch_size, high - low)), axis=-1)
        half = order[:, :half_len] + low
    else:
        half = jax.random.randint(key, (batch_size, half_len), low, high)
    seq = jnp.concatenate([jnp.full((batch_size, 1), bos), half, half], axis=1).astype(jnp.int32)
    t = jnp.arange(2 * half_len)
    mask = jnp.broadcast_to(t >= half_len + 1, (batch_size, 2 * half_len)).astype(jnp.float32)
    return Batch(inputs=seq[:, :-1], targets=seq[:, 1:], loss_mask=mask)


__all__ = ["PATTERNS", "attention_entropy", "duplicate_token_pattern", "induction_pattern",
           "layer_scores", "pattern_score", "previous_token_pattern", "probe_metrics",
           "repeated_tokens"]
