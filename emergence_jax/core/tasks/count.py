"""count — length generalization by counting (Zhao et al., "Distributional Scaling Laws for Emergent
Capabilities", arXiv 2502.17356; the format of Zhou et al., "What Algorithms Can Transformers
Learn? A Study in Length Generalization", arXiv 2310.16028).

Format. Prompt ``SOS a b SEP``, answer ``a a+1 … b EOS``, then PAD to a fixed length:

    SOS 3 6 SEP 3 4 5 6 EOS PAD …

Numbers are tokens ``0 … max_number-1``; ``SOS, SEP, EOS, PAD`` follow them. The span length
``b - a + 1`` is drawn uniformly; ``a`` is uniform over the starts that keep ``b < max_number``.

Distributions. Training spans have length ``min_span … train_max_span``. Evaluation set ``id`` uses
the training lengths; ``ood`` uses the longer lengths ``train_max_span+1 … eval_max_span`` the model
never saw. Every sequence is padded to ``eval_max_span + 5`` tokens, so positions past the training
lengths exist but are only reached by ``ood`` examples.

Metrics (per evaluation set, on the answer tokens ``a … b EOS``): ``loss`` (NLL per token),
``token_accuracy``, ``exact_match`` (whole answer right; a run *succeeds* when ``ood/exact_match``
exceeds 0.2 in Zhao et al.), ``p_answer`` (mean probability of the right token).
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from emergence_jax.core.config import CountConfig
from emergence_jax.core.tasks.base import Batch, Task

PROMPT_LEN = 4  # SOS a b SEP


class CountTask(Task):
    def __init__(self, config: CountConfig):
        super().__init__(config)
        n = config.max_number
        self.sos, self.sep, self.eos, self.pad = n, n + 1, n + 2, n + 3
        self.vocab_size = n + 4
        self.seq_len = PROMPT_LEN + config.eval_max_span  # inputs exclude the final token

    def _examples(self, key, batch_size: int, min_span: int, max_span: int) -> Batch:
        k_len, k_start = jax.random.split(key)
        span = jax.random.randint(k_len, (batch_size, 1), min_span, max_span + 1)
        start = jax.random.randint(k_start, (batch_size, 1), 0, self.config.max_number - span + 1)
        pos = jnp.arange(self.seq_len + 1)[None, :]
        answer_pos = pos - PROMPT_LEN  # index into the answer
        seq = jnp.where(answer_pos < span, start + answer_pos, self.pad)
        seq = jnp.where(answer_pos == span, self.eos, seq)
        seq = jnp.where(pos == 0, self.sos, seq)
        seq = jnp.where(pos == 1, start, seq)
        seq = jnp.where(pos == 2, start + span - 1, seq)
        seq = jnp.where(pos == 3, self.sep, seq).astype(jnp.int32)
        # Target t is seq[t+1]; answer tokens are seq[PROMPT_LEN .. PROMPT_LEN+span] (incl. EOS).
        target_pos = pos[:, 1:]
        mask = (target_pos >= PROMPT_LEN) & (target_pos <= PROMPT_LEN + span)
        return Batch(inputs=seq[:, :-1], targets=seq[:, 1:], loss_mask=mask.astype(jnp.float32))

    def train_batch(self, key, batch_size: int) -> Batch:
        c = self.config
        return self._examples(key, batch_size, c.min_span, c.train_max_span)

    def eval_sets(self, key):
        c = self.config
        k_id, k_ood = jax.random.split(key)
        return {
            "id": self._examples(k_id, c.eval_examples, c.min_span, c.train_max_span),
            "ood": self._examples(k_ood, c.eval_examples, c.train_max_span + 1, c.eval_max_span),
        }
