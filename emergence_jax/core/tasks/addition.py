"""addition — reverse-order addition with index hints (Zhou et al., "Transformers Can Achieve Length
Generalization But Not Robustly", arXiv 2402.09371; studied across seeds by Zhao et al.,
"Distributional Scaling Laws for Emergent Capabilities", arXiv 2502.17356).

Format. Digits are written least significant first and every digit is preceded by an index-hint
token naming its place, in the operands and in the answer alike (hint before digit, as in Zhou et
al. 2024). For 57 + 168 = 225 with hints starting at ``h3``:

    BOS h3 7 h4 5 + h3 8 h4 6 h5 1 = h3 5 h4 2 h5 2 EOS PAD …

Tokens: digits ``0 … 9``, then ``+ = EOS PAD BOS``, then the hints ``h0 … h{num_hints-1}``. The
answer is the exact sum (no leading zeros, so it has max(len a, len b) or one more digits). An
example uses consecutive hints ``h_o, h_o+1, …``; with ``hint_offset='random'`` the start ``o`` is
uniform over the starts that fit (Zhou et al.'s sampling, so every hint token is trained even
though training numbers are short); ``'zero'`` always starts at ``h0``. Every sequence is padded to
the longest evaluation example (inputs have ``6 * eval_max_digits + 5`` tokens).

Distributions. Training operands have lengths drawn independently and uniformly from
``min_digits … train_max_digits``; a number of length ℓ > 1 has a nonzero leading digit. The
evaluation set ``len_{n}``, for each n in ``min_digits … eval_max_digits``, adds two numbers of
exactly n digits; lengths above ``train_max_digits`` are out of distribution (length
generalization). The set ``ood`` mixes them: both operands have n digits, n uniform in
``train_max_digits+1 … eval_max_digits``; ``ood/exact_match`` is the task's success metric (a run
*succeeds* when it exceeds 0.2, as in Zhao et al.).

Metrics (per evaluation set, on the answer tokens: hints, digits and EOS):
  ``exact_match``     the whole answer right (equals greedy-decoding exact match, see
                      ``sequence_metrics``); e.g. ``len_7/exact_match``
  ``token_accuracy``  fraction of answer tokens right;  ``digit_accuracy``: answer digits only
  ``loss``            mean NLL per answer token;  ``answer_nll``: NLL of the whole answer (sum over
                      its tokens, mean over examples)
  ``p_answer``        mean probability of the right token
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from emergence_jax.core.config import AdditionConfig
from emergence_jax.core.tasks.base import Batch, Task, masked_mean, sequence_metrics, token_nll

PLUS, EQ, EOS, PAD, BOS, FIRST_HINT = 10, 11, 12, 13, 14, 15


class AdditionTask(Task):
    def __init__(self, config: AdditionConfig):
        super().__init__(config)
        self.max_digits = config.eval_max_digits
        self.vocab_size = FIRST_HINT + config.num_hints
        # BOS, 2N (a), +, 2N (b), =, 2(N+1) (sum), EOS; inputs drop the last token.
        self.seq_len = 6 * self.max_digits + 5

    # ------------------------------------------------------------------ generation
    def _number(self, key, length):
        """Reversed digits [batch, N] of random numbers with ``length`` [batch, 1] digits."""
        N = self.max_digits
        k_low, k_top = jax.random.split(key)
        digits = jax.random.randint(k_low, (length.shape[0], N), 0, 10)
        top = jax.random.randint(k_top, (length.shape[0], 1), 1, 10)
        i = jnp.arange(N)[None, :]
        digits = jnp.where((i == length - 1) & (length > 1), top, digits)
        return jnp.where(i < length, digits, 0)

    def _examples(self, key, batch_size: int, len_a, len_b) -> Batch:
        N = self.max_digits
        k_a, k_b, k_o = jax.random.split(key, 3)
        a = self._number(k_a, len_a)
        b = self._number(k_b, len_b)
        # Sum digit by digit (N is static and small).
        carry = jnp.zeros((batch_size,), jnp.int32)
        sum_digits = []
        for i in range(N):
            s = a[:, i] + b[:, i] + carry
            sum_digits.append(s % 10)
            carry = s // 10
        c = jnp.stack(sum_digits + [carry], axis=1)  # [batch, N+1]
        len_c = jnp.max(jnp.where(c > 0, jnp.arange(N + 1)[None, :] + 1, 1), axis=1, keepdims=True)
        need = jnp.maximum(len_a, len_b) + 1  # hints any example may use: up to its sum's length
        if self.config.hint_offset == "random":
            offset = jax.random.randint(k_o, (batch_size, 1), 0, self.config.num_hints - need + 1)
        else:
            offset = jnp.zeros((batch_size, 1), jnp.int32)

        def pairs(digits, length, width):
            i = jnp.arange(width)[None, :]
            hint = FIRST_HINT + offset + i
            tokens = jnp.stack([jnp.broadcast_to(hint, digits.shape), digits], axis=2)
            valid = jnp.broadcast_to((i < length)[:, :, None], tokens.shape)
            return tokens.reshape(batch_size, -1), valid.reshape(batch_size, -1)

        def single(token):
            return (jnp.full((batch_size, 1), token, jnp.int32), jnp.ones((batch_size, 1), bool))

        a_tok, a_ok = pairs(a, len_a, N)
        b_tok, b_ok = pairs(b, len_b, N)
        c_tok, c_ok = pairs(c, len_c, N + 1)
        parts = [single(BOS), (a_tok, a_ok), single(PLUS), (b_tok, b_ok), single(EQ),
                 (c_tok, c_ok), single(EOS)]
        answer = [False, False, False, False, False, True, True]
        tokens = jnp.concatenate([p[0] for p in parts], axis=1).astype(jnp.int32)
        valid = jnp.concatenate([p[1] for p in parts], axis=1)
        is_answer = jnp.concatenate([jnp.full(p[1].shape, ans) for p, ans in zip(parts, answer)],
                                    axis=1)
        # Compact the valid slots to the front: slot -> its position in the sequence.
        total = self.seq_len + 1
        pos = jnp.where(valid, jnp.cumsum(valid, axis=1) - 1, total)
        rows = jnp.arange(batch_size)[:, None]
        seq = jnp.full((batch_size, total + 1), PAD, jnp.int32).at[rows, pos].set(tokens)[:, :total]
        ans = jnp.zeros((batch_size, total + 1), bool).at[rows, pos].set(
            is_answer & valid)[:, :total]
        return Batch(inputs=seq[:, :-1], targets=seq[:, 1:],
                     loss_mask=ans[:, 1:].astype(jnp.float32))

    def train_batch(self, key, batch_size: int) -> Batch:
        c = self.config
        k_la, k_lb, k = jax.random.split(key, 3)
        len_a = jax.random.randint(k_la, (batch_size, 1), c.min_digits, c.train_max_digits + 1)
        len_b = jax.random.randint(k_lb, (batch_size, 1), c.min_digits, c.train_max_digits + 1)
        return self._examples(k, batch_size, len_a, len_b)

    def eval_sets(self, key):
        c = self.config
        out = {}
        make = jax.jit(self._examples, static_argnums=1)  # one compile for every length
        for n in range(c.min_digits, c.eval_max_digits + 1):
            length = jnp.full((c.eval_examples, 1), n, jnp.int32)
            out[f"len_{n}"] = make(jax.random.fold_in(key, n), c.eval_examples, length, length)
        k_len, k_ood = jax.random.split(jax.random.fold_in(key, 0))
        length = jax.random.randint(k_len, (c.eval_examples, 1), c.train_max_digits + 1,
                                    c.eval_max_digits + 1)
        out["ood"] = make(k_ood, c.eval_examples, length, length)
        return out

    # ------------------------------------------------------------------ metrics
    def metrics(self, split, logits, batch, attention=None):
        out = sequence_metrics(logits, batch)
        nll = token_nll(logits, batch.targets)
        correct = (jnp.argmax(logits, axis=-1) == batch.targets).astype(jnp.float32)
        digit = batch.loss_mask * (batch.targets < 10)
        out["digit_accuracy"] = masked_mean(correct, digit)
        out["answer_nll"] = jnp.mean(jnp.sum(nll * batch.loss_mask, axis=-1))
        return out
