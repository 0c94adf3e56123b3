"""induction — pattern completion by copying an earlier sequence (Olsson et al., "In-context Learning
and Induction Heads", arXiv 2209.11895; the repetition task of Baherwani et al., arXiv 2606.25010).

Format. BOS, a random string ``x_1 … x_n``, then a repeat ``x_1 … x_m`` of its first ``m`` tokens,
then PAD to a fixed length (inputs have ``2 * prefix_len`` tokens; the final sequence token is only
a target):

    BOS 7 2 9 4 7 2 9 4 PAD PAD    (variant ``repeat``: m = n)
    BOS 7 2 9 4 7 2 PAD PAD PAD    (variant ``partial``: m uniform in min_repeat … n)
    BOS 3 1 3 8 0 3 1 3 PAD PAD    (variant ``digits``: digits 0–9 drawn with replacement, partial
                                    repeat; the PolyPythia repetition task)

Tokens: the alphabet ``0 … A-1`` (A = ``num_tokens``, or the 10 digits for ``digits``), then BOS,
PAD. The string length n is uniform in ``min_prefix_len … prefix_len``; because n varies, the offset
between a token and its copy varies too, so the repeat can only be predicted by matching content
(an induction head), not by a fixed relative position. ``repeat`` and ``partial`` draw the string
without replacement when ``distinct`` (every repeated token then has exactly one earlier copy);
``digits`` always draws with replacement.

Distributions. Training and the ``test`` evaluation set share the variant's distribution. The
``probe`` evaluation set (``probe_examples`` examples) is the standard probe input: BOS and a
string of ``prefix_len`` tokens from the same alphabet repeated twice.

Loss. Training (``loss_mask``) scores the *predictable* repeated tokens x_2 … x_m of the copy, at
target indices n+1 … n+m-1 (the first token of the copy cannot be predicted from the context).

Metrics (``test``):
  ``repeat_loss``     mean NLL over the predictable repeated tokens (the training loss)
  ``repeat_accuracy`` argmax accuracy on those tokens
  ``final_accuracy``  the last token of the repeat (x_m) is the argmax (the greedy "solved"; the
                      task's success metric is ``test/final_accuracy``)
  ``final_p_target``  mean probability of that token (PolyPythia's continuous metric)
  ``icl_score``       in-context-learning score (Olsson et al.): NLL of x_m at the end of the
                      repeat (late: target index n+m-1) minus NLL of the same token at its first
                      occurrence (early: target index m-1), averaged over examples; 0 for a model
                      that ignores the context, about −log A for a perfect copier.
Metrics (``probe``): ``repeat_loss`` and the attention probes of ``emergence_jax.core.probes``
(``previous_token``, ``duplicate_token``, ``induction`` per head ``_L{l}H{h}`` and ``_max``, and
``entropy_L{l}H{h}`` / ``entropy_min``), e.g. ``probe/induction_max``.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from emergence_jax.core import probes
from emergence_jax.core.config import InductionConfig
from emergence_jax.core.tasks.base import Batch, Task, masked_mean, token_nll

DIGITS = 10


class InductionTask(Task):
    eval_uses_attention = True

    def __init__(self, config: InductionConfig):
        super().__init__(config)
        self.alphabet = DIGITS if config.variant == "digits" else config.num_tokens
        self.distinct = config.distinct and config.variant != "digits"
        self.bos, self.pad = self.alphabet, self.alphabet + 1
        self.vocab_size = self.alphabet + 2
        self.seq_len = 2 * config.prefix_len

    # ------------------------------------------------------------------ generation
    def _string(self, key, batch_size: int):
        L = self.config.prefix_len
        if self.distinct:
            order = jnp.argsort(jax.random.uniform(key, (batch_size, self.alphabet)), axis=-1)
            return order[:, :L].astype(jnp.int32)
        return jax.random.randint(key, (batch_size, L), 0, self.alphabet, dtype=jnp.int32)

    def _examples(self, key, batch_size: int, whole: bool) -> Batch:
        c = self.config
        L = c.prefix_len
        k_str, k_n, k_m = jax.random.split(key, 3)
        x = self._string(k_str, batch_size)
        n = jax.random.randint(k_n, (batch_size, 1), c.min_prefix_len, L + 1)
        m = n if whole else jax.random.randint(k_m, (batch_size, 1), c.min_repeat, n + 1)
        p = jnp.arange(1, 2 * L + 1)[None, :]  # sequence position after BOS
        index = jnp.clip(jnp.where(p <= n, p - 1, p - n - 1), 0, L - 1)
        body = jnp.where(p <= n + m, jnp.take_along_axis(x, index, axis=1), self.pad)
        seq = jnp.concatenate([jnp.full((batch_size, 1), self.bos, jnp.int32), body], axis=1)
        t = jnp.arange(2 * L)[None, :]  # target index: targets[:, t] = seq[:, t+1]
        mask = (t >= n + 1) & (t <= n + m - 1)  # the predictable repeated tokens x_2 .. x_m
        return Batch(inputs=seq[:, :-1].astype(jnp.int32), targets=seq[:, 1:].astype(jnp.int32),
                     loss_mask=mask.astype(jnp.float32))

    def train_batch(self, key, batch_size: int) -> Batch:
        return self._examples(key, batch_size, whole=self.config.variant == "repeat")

    def eval_sets(self, key):
        c = self.config
        k_test, k_probe = jax.random.split(key)
        return {
            "test": self._examples(k_test, c.eval_examples, whole=c.variant == "repeat"),
            "probe": probes.repeated_tokens(k_probe, c.probe_examples, c.prefix_len, 0,
                                            self.alphabet, self.bos, distinct=self.distinct),
        }

    # ------------------------------------------------------------------ metrics
    @staticmethod
    def _positions(batch: Batch):
        """(final index [b], early index [b]) from the loss mask, which covers target indices
        n+1 … n+m-1: x_m is predicted at n+m-1 (late) and first occurs at target index m-1."""
        t = jnp.arange(batch.targets.shape[1])[None, :]
        on = batch.loss_mask > 0
        first = jnp.min(jnp.where(on, t, t.shape[1]), axis=-1)  # = n + 1
        final = jnp.max(jnp.where(on, t, 0), axis=-1)            # = n + m - 1
        return final, final - (first - 1)

    def metrics(self, split, logits, batch, attention=None):
        nll = token_nll(logits, batch.targets)
        correct = (jnp.argmax(logits, axis=-1) == batch.targets).astype(jnp.float32)
        repeat = batch.loss_mask
        final, early = self._positions(batch)
        out = {"repeat_loss": masked_mean(nll, repeat)}
        if split == "probe":
            if attention is not None:
                out.update(probes.probe_metrics(attention, batch.inputs))
            return out
        rows = jnp.arange(batch.targets.shape[0])
        final_nll = nll[rows, final]
        out.update({
            "repeat_accuracy": masked_mean(correct, repeat),
            "final_accuracy": jnp.mean(correct[rows, final]),
            "final_p_target": jnp.mean(jnp.exp(-final_nll)),
            "icl_score": jnp.mean(final_nll - nll[rows, early]),
        })
        return out

    def oracle_logits(self, batch: Batch):
        """A perfect copier: one-hot on the predictable repeated tokens, uniform over the alphabet
        everywhere else (the string itself cannot be predicted). Its ``icl_score`` is −log A."""
        onehot = jax.nn.one_hot(batch.targets, self.vocab_size) * 30.0
        uniform = jnp.where(jnp.arange(self.vocab_size) < self.alphabet, 0.0, -30.0)
        return jnp.where(batch.loss_mask[..., None] > 0, onehot, uniform)
