"""skills — k-skill composition (Arora & Goyal, "A Theory for Emergence of Complex Skills in
Language Models", arXiv 2307.15936).

Format. A prompt names an ordered tuple of k distinct skills, then a string ``x`` of
``string_len`` symbols; the answer applies the skills to ``x`` left to right:

    BOS [reverse] [increment] SEP 3 0 5 1 = 2 6 1 4 EOS PAD …
        (reverse: 1 5 0 3, then increment mod 8: 2 6 1 4)

Tokens: symbols ``0 … num_symbols-1``, one token per skill (in the order of ``skills``), then
``BOS SEP = EOS PAD``. Sequences are right-padded to the longest tuple (inputs have
``2 * string_len + max_k + 3`` tokens).

Skills (elementary transformations of a string of symbols mod V = ``num_symbols``):
  ``reverse``     x[::-1]
  ``increment``   x_i + 1 mod V
  ``swap_pairs``  swap x_0↔x_1, x_2↔x_3, … (an odd last symbol stays)
  ``sort``        sort ascending
  ``shift``       rotate left by one: y_i = x_{(i+1) mod n}
  ``complement``  V - 1 - x_i
Several of them do not commute (sort∘increment ≠ increment∘sort because of the wrap-around,
reverse∘shift ≠ shift∘reverse, …), so the order of a tuple matters.

Distributions. A k-tuple is an ordered sequence of k distinct skills. For every k ≥ 2 a share
``heldout_fraction`` of the k-tuples (at least one, and never all) is held out of training,
chosen deterministically from ``split_seed``; 1-tuples are never held out. Training draws k
uniformly from ``train_k``, then a non-held-out k-tuple uniformly, then x uniformly. Evaluation
sets, for every k in ``eval_k``:
  ``k{k}``          k-tuples that are not held out (for a k outside ``train_k`` none was trained)
  ``heldout_k{k}``  held-out k-tuples, never seen in training (k ≥ 2 with held-out tuples)
The answer digits and EOS are scored (``loss_mask``).

Metrics (per evaluation set):
  ``exact_match``       the whole answer right: competence on the set, e.g. ``k2/exact_match``,
                        ``heldout_k2/exact_match`` (the task's success metric)
  ``token_accuracy``, ``loss``, ``p_answer``  as in ``sequence_metrics``
  ``skill_{name}``      exact match over the examples whose tuple uses that skill (Arora & Goyal's
                        competence on a skill: a wrong answer counts against every skill of the
                        piece); NaN-free: 0 when the set holds no such example
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from emergence_jax.core.config import SkillsConfig
from emergence_jax.core.tasks.base import Batch, Task, sequence_metrics

IDENTITY = -1  # padding code of tuples shorter than max_k


def apply_skill(name: str, x: jax.Array, num_symbols: int) -> jax.Array:
    """One skill on strings [batch, n] (pure jnp)."""
    n = x.shape[-1]
    if name == "reverse":
        return x[:, ::-1]
    if name == "increment":
        return (x + 1) % num_symbols
    if name == "swap_pairs":
        perm = np.arange(n)
        perm[: n - n % 2] = np.arange(n - n % 2).reshape(-1, 2)[:, ::-1].reshape(-1)
        return x[:, perm]
    if name == "sort":
        return jnp.sort(x, axis=-1)
    if name == "shift":
        return jnp.roll(x, -1, axis=-1)
    if name == "complement":
        return num_symbols - 1 - x
    raise ValueError(name)


def tuples_of(num_skills: int, k: int) -> list[tuple[int, ...]]:
    """All ordered k-tuples of distinct skill indices, in lexicographic order."""
    return list(itertools.permutations(range(num_skills), k))


def heldout_split(num_skills: int, k: int, fraction: float, seed: int):
    """(train tuples, held-out tuples) of size k: round(fraction · count) held out, at least one
    and at most count − 1 when fraction > 0; none for k = 1."""
    all_tuples = tuples_of(num_skills, k)
    count = len(all_tuples)
    if k < 2 or fraction <= 0 or count < 2:
        return all_tuples, []
    n_out = min(max(int(round(fraction * count)), 1), count - 1)
    rng = np.random.default_rng([seed, k])
    out = set(rng.choice(count, n_out, replace=False).tolist())
    return ([t for i, t in enumerate(all_tuples) if i not in out],
            [t for i, t in enumerate(all_tuples) if i in out])


class SkillsTask(Task):
    # Competence on pairs never seen in training (needs 2 in eval_k and held-out pairs; set
    # analysis.metric otherwise).
    def __init__(self, config: SkillsConfig):
        super().__init__(config)
        c = config
        V, n = c.num_symbols, c.string_len
        self.first_skill = V
        self.bos = V + len(c.skills)
        self.sep, self.eq = self.bos + 1, self.bos + 2
        self.eos, self.pad = self.bos + 3, self.bos + 4
        self.vocab_size = self.pad + 1
        self.max_k = max(max(c.train_k), max(c.eval_k))
        self.seq_len = 2 * n + self.max_k + 3
        self.split = {k: heldout_split(len(c.skills), k, c.heldout_fraction, c.split_seed)
                      for k in range(1, len(c.skills) + 1)}
        # Training table: the non-held-out tuples of every training size, one block per size.
        blocks = [self._table(self.split[k][0]) for k in c.train_k]
        self.train_table = jnp.asarray(np.concatenate(blocks), jnp.int32)
        self.train_counts = jnp.asarray([len(b) for b in blocks], jnp.int32)
        self.train_offsets = jnp.asarray(np.cumsum([0] + [len(b) for b in blocks[:-1]]), jnp.int32)

    def _table(self, tuples) -> np.ndarray:
        table = np.full((len(tuples), self.max_k), IDENTITY, np.int32)
        for i, t in enumerate(tuples):
            table[i, : len(t)] = t
        return table

    # ------------------------------------------------------------------ generation
    def apply(self, codes: jax.Array, x: jax.Array) -> jax.Array:
        """Applies the tuples ``codes`` [batch, max_k] (IDENTITY-padded) to strings x [batch, n]."""
        c = self.config
        for j in range(self.max_k):
            outputs = jnp.stack([apply_skill(s, x, c.num_symbols) for s in c.skills])
            chosen = jnp.take_along_axis(outputs, jnp.maximum(codes[:, j], 0)[None, :, None],
                                         axis=0)[0]
            x = jnp.where((codes[:, j] >= 0)[:, None], chosen, x)
        return x

    def _examples(self, key, codes) -> Batch:
        c = self.config
        batch_size, n = codes.shape[0], c.string_len
        x = jax.random.randint(key, (batch_size, n), 0, c.num_symbols, dtype=jnp.int32)
        y = self.apply(codes, x)
        k = jnp.sum(codes >= 0, axis=1, keepdims=True)
        skill_tokens = jnp.where(codes >= 0, self.first_skill + codes, self.pad)
        full = lambda v: jnp.full((batch_size, 1), v, jnp.int32)  # noqa: E731
        # Slots: BOS, max_k skill slots (valid: the first k), SEP, x, =, y, EOS.
        tokens = jnp.concatenate([full(self.bos), skill_tokens, full(self.sep), x, full(self.eq),
                                  y, full(self.eos)], axis=1).astype(jnp.int32)
        slot = jnp.arange(tokens.shape[1])[None, :]
        valid = (slot == 0) | (slot > self.max_k) | (slot <= k)
        answer = slot >= 1 + self.max_k + 1 + n + 1
        total = self.seq_len + 1
        pos = jnp.where(valid, jnp.cumsum(valid, axis=1) - 1, total)
        rows = jnp.arange(batch_size)[:, None]
        seq = jnp.full((batch_size, total + 1), self.pad, jnp.int32).at[rows, pos].set(tokens)
        ans = jnp.zeros((batch_size, total + 1), bool).at[rows, pos].set(answer & valid)
        seq, ans = seq[:, :total], ans[:, :total]
        return Batch(inputs=seq[:, :-1], targets=seq[:, 1:],
                     loss_mask=ans[:, 1:].astype(jnp.float32))

    def train_batch(self, key, batch_size: int) -> Batch:
        k_size, k_tuple, k_x = jax.random.split(key, 3)
        size = jax.random.randint(k_size, (batch_size,), 0, len(self.config.train_k))
        u = jax.random.uniform(k_tuple, (batch_size,))
        index = self.train_offsets[size] + jnp.floor(u * self.train_counts[size]).astype(jnp.int32)
        index = jnp.minimum(index, self.train_offsets[size] + self.train_counts[size] - 1)
        return self._examples(k_x, self.train_table[index])

    def eval_sets(self, key):
        c = self.config
        out = {}
        for k in c.eval_k:
            train, held = self.split[k]
            for name, tuples in ((f"k{k}", train), (f"heldout_k{k}", held)):
                if not tuples:
                    continue
                k_pick, k_x = jax.random.split(jax.random.fold_in(key, len(out)))
                table = jnp.asarray(self._table(tuples))
                pick = jax.random.randint(k_pick, (c.eval_examples,), 0, len(tuples))
                out[name] = self._examples(k_x, table[pick])
        return out

    # ------------------------------------------------------------------ metrics
    def metrics(self, split, logits, batch, attention=None):
        out = sequence_metrics(logits, batch)
        correct = (jnp.argmax(logits, axis=-1) == batch.targets) | (batch.loss_mask == 0)
        solved = jnp.all(correct, axis=-1).astype(jnp.float32)
        prompt = batch.inputs[:, 1: 1 + self.max_k]
        for i, s in enumerate(self.config.skills):
            uses = jnp.any(prompt == self.first_skill + i, axis=-1).astype(jnp.float32)
            out[f"skill_{s}"] = jnp.sum(solved * uses) / jnp.maximum(jnp.sum(uses), 1.0)
        return out
