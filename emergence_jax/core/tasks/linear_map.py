"""linear_map — a sparse linear map over GF(2) (Baherwani, Chen, Qiu, Wilson & Izmailov, "Emergent
Capabilities Arise Randomly from Learning Sparse Attention Patterns", arXiv 2606.25010).

Format. A fixed matrix A ∈ {0,1}^{S×S} with exactly ``ones_per_row`` (s) ones in every row; each
example draws x₀ ~ Unif{0,1}^S and sets x₁ = A x₀ mod 2. The two states are flattened into one
sequence (S = 4 here):

    BOS 1 0 1 1 0 1 1 0            (BOS, x₀[0..S-1], x₁[0..S-1])

Tokens: ``0``, ``1``, BOS (vocabulary 3). Inputs have 2S tokens. The loss is on x₁ only (x₀ is
random). A is drawn once from ``map_seed`` (numpy ``default_rng``: each row's s columns are a
uniform random subset), so it is identical for every example and every seed of a population; the
task exposes it as ``task.matrix``.

Ground-truth attention pattern. x₁[i] is predicted at input position S+i (the token before it);
the bits it depends on sit at positions 1+j with A[i, j] = 1. ``task.ground_truth`` is that
[2S, 2S] 0/1 pattern (rows S … 2S-1), the pattern a head that solves the task must learn.

Distributions. Training and the ``test`` set draw x₀ uniformly; ``probe`` is a smaller set
(``probe_examples``) from the same distribution on which the attention probes run.

Metrics (``test``):
  ``loss_pos{i}``   NLL of x₁[i], i = 0 … S-1 (drops from ≈ ln 2 to ≈ 0, one position at a time)
  ``loss``          mean NLL over x₁ (chance with zero logits: ln 3; once only bits are predicted,
                    ln 2)
  ``bit_accuracy``  fraction of x₁ bits right;  ``exact_match``: the whole x₁ right
                    (``test/exact_match`` is the task's success metric)
  ``p_answer``      mean probability of the right bit
Metrics (``probe``): ``ground_truth_L{l}H{h}`` and ``ground_truth_max`` (score against A's pattern,
``emergence_jax.core.probes``), ``previous_token_*`` and ``entropy_L{l}H{h}`` / ``entropy_min``.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from emergence_jax.core import probes
from emergence_jax.core.config import LinearMapConfig
from emergence_jax.core.tasks.base import Batch, Task, sequence_metrics, token_nll

BOS = 2


def sparse_matrix(size: int, ones_per_row: int, seed: int) -> np.ndarray:
    """The task's A: int32 [size, size], each row with exactly ``ones_per_row`` ones."""
    rng = np.random.default_rng(seed)
    a = np.zeros((size, size), np.int32)
    for i in range(size):
        a[i, rng.choice(size, ones_per_row, replace=False)] = 1
    return a


class LinearMapTask(Task):
    eval_uses_attention = True

    def __init__(self, config: LinearMapConfig):
        super().__init__(config)
        S = config.num_bits
        self.matrix = sparse_matrix(S, config.ones_per_row, config.map_seed)
        self.vocab_size = 3
        self.seq_len = 2 * S
        gt = np.zeros((2 * S, 2 * S), np.float32)
        gt[S:, 1:S + 1] = self.matrix
        self.ground_truth = gt

    def _examples(self, key, batch_size: int) -> Batch:
        S = self.config.num_bits
        x0 = jax.random.bernoulli(key, 0.5, (batch_size, S)).astype(jnp.int32)
        x1 = (x0 @ jnp.asarray(self.matrix).T) % 2
        seq = jnp.concatenate([jnp.full((batch_size, 1), BOS, jnp.int32), x0, x1], axis=1)
        mask = jnp.broadcast_to(jnp.arange(2 * S) >= S, (batch_size, 2 * S))
        return Batch(inputs=seq[:, :-1], targets=seq[:, 1:].astype(jnp.int32),
                     loss_mask=mask.astype(jnp.float32))

    def train_batch(self, key, batch_size: int) -> Batch:
        return self._examples(key, batch_size)

    def eval_sets(self, key):
        k_test, k_probe = jax.random.split(key)
        return {"test": self._examples(k_test, self.config.eval_examples),
                "probe": self._examples(k_probe, self.config.probe_examples)}

    def metrics(self, split, logits, batch, attention=None):
        S = self.config.num_bits
        if split == "probe":
            out = {"loss": sequence_metrics(logits, batch)["loss"]}
            if attention is not None:
                out.update(probes.probe_metrics(
                    attention, batch.inputs, patterns=("previous_token",),
                    ground_truth=jnp.asarray(self.ground_truth)))
            return out
        seq = sequence_metrics(logits, batch)
        nll = token_nll(logits, batch.targets)
        out = {"loss": seq["loss"], "bit_accuracy": seq["token_accuracy"],
               "exact_match": seq["exact_match"], "p_answer": seq["p_answer"]}
        for i in range(S):
            out[f"loss_pos{i}"] = jnp.mean(nll[:, S + i])
        return out
