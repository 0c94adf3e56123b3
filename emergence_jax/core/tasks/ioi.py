"""ioi — synthetic indirect object identification (Wang et al., "Interpretability in the Wild: a Circuit
for Indirect Object Identification in GPT-2 small", arXiv 2211.00593).

Format. A template with two random, distinct names, a place and an object; the final token is the
indirect object (IO), the name that is *not* repeated as the subject (S):

    BOS Then B and A went to the PLACE . B gave a OBJECT to A          (order BABA: S first)
    BOS Then A and B went to the PLACE . B gave a OBJECT to A          (order ABBA: IO first)

Templates (``num_templates`` of them are used, chosen uniformly per example; all start
``<word> N1 and N2`` so the two names sit at positions 2 and 4):

    Then N1 and N2 went to the PLACE . S gave a OBJECT to IO
    When N1 and N2 got a OBJECT at the PLACE , S gave it to IO
    After N1 and N2 went to the PLACE , S handed the OBJECT to IO

Tokens: names ``0 … num_names-1``, then places, objects, the template words, BOS and PAD. Sequences
are right-padded to the longest template. The loss is on the final (IO) token only.

Distributions. Training draws orders from ``train_order`` (both orders half each by default).
Evaluation sets ``baba`` and ``abba`` hold one order each (so ``train_order='baba'`` tests
generalization to the unseen order); ``probe`` is the standard probe input (BOS and a random
string of ``probe_len`` content tokens repeated twice).

Metrics (``baba``, ``abba``; at the final position):
  ``accuracy``       the argmax over the whole vocabulary is IO (chance: about 1/vocab); the
                     task's success metric is ``abba/accuracy``
  ``logit_diff``     logit(IO) − logit(S), the IOI metric (chance: 0)
  ``io_over_s``      fraction with logit(IO) > logit(S), ties counting one half (chance: 0.5)
  ``loss``, ``p_io`` NLL and probability of IO
  ``io_attention_max`` the largest, over layers and heads, mean attention from the final position
                     to IO's earlier mention (name-mover heads)
Metrics (``probe``): ``repeat_loss`` and the attention probes of ``emergence_jax.core.probes``
(``previous_token``, ``duplicate_token``, ``induction``: ``_L{l}H{h}`` and ``_max``; ``entropy``),
e.g. ``probe/duplicate_token_max``.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from emergence_jax.core import probes
from emergence_jax.core.config import IOI_TEMPLATES as TEMPLATES
from emergence_jax.core.config import IOIConfig
from emergence_jax.core.tasks.base import (Batch, Task, last_answer_position, masked_mean,
                                      take_positions, token_nll)

N1, N2, S, PLACE, OBJECT, IO = "N1", "N2", "S", "PLACE", "OBJECT", "IO"
SLOTS = (N1, N2, S, PLACE, OBJECT, IO)
WORDS = tuple(sorted({w for t in TEMPLATES for w in t.split() if w not in SLOTS}))
NAME_POSITIONS = (2, 4)  # N1, N2 in the sequence (after BOS and the first word)


class IOITask(Task):
    eval_uses_attention = True

    def __init__(self, config: IOIConfig):
        super().__init__(config)
        c = config
        self.first_place = c.num_names
        self.first_object = self.first_place + c.num_places
        self.first_word = self.first_object + c.num_objects
        self.word = {w: self.first_word + i for i, w in enumerate(WORDS)}
        self.bos = self.first_word + len(WORDS)
        self.pad = self.bos + 1
        self.vocab_size = self.pad + 1
        self.num_content = self.bos  # tokens that are neither BOS nor PAD
        codes = {N1: -1, N2: -2, S: -3, PLACE: -4, OBJECT: -5, IO: -6}
        rows = [[self.bos] + [codes.get(w, self.word.get(w)) for w in t.split()]
                for t in TEMPLATES[: c.num_templates]]
        width = max(len(r) for r in rows)
        self.templates = jnp.asarray([r + [self.pad] * (width - len(r)) for r in rows], jnp.int32)
        self.seq_len = width - 1
        self.probe_len = min(c.probe_len, self.seq_len // 2)

    # ------------------------------------------------------------------ generation
    def _examples(self, key, batch_size: int, order: str) -> Batch:
        c = self.config
        k_t, k_names, k_p, k_o, k_order = jax.random.split(key, 5)
        template = self.templates[jax.random.randint(k_t, (batch_size,), 0, c.num_templates)]
        names = jnp.argsort(jax.random.uniform(k_names, (batch_size, c.num_names)), axis=1)[:, :2]
        io, s = names[:, :1], names[:, 1:]
        place = self.first_place + jax.random.randint(k_p, (batch_size, 1), 0, c.num_places)
        obj = self.first_object + jax.random.randint(k_o, (batch_size, 1), 0, c.num_objects)
        if order == "both":
            abba = jax.random.bernoulli(k_order, 0.5, (batch_size, 1))
        else:
            abba = jnp.full((batch_size, 1), order == "abba")
        n1, n2 = jnp.where(abba, io, s), jnp.where(abba, s, io)
        seq = template
        for code, value in ((-1, n1), (-2, n2), (-3, s), (-4, place), (-5, obj), (-6, io)):
            seq = jnp.where(template == code, value, seq)
        mask = (template[:, 1:] == -6).astype(jnp.float32)
        return Batch(inputs=seq[:, :-1].astype(jnp.int32), targets=seq[:, 1:].astype(jnp.int32),
                     loss_mask=mask)

    def train_batch(self, key, batch_size: int) -> Batch:
        return self._examples(key, batch_size, self.config.train_order)

    def eval_sets(self, key):
        c = self.config
        k_baba, k_abba, k_probe = jax.random.split(key, 3)
        return {
            "baba": self._examples(k_baba, c.eval_examples, "baba"),
            "abba": self._examples(k_abba, c.eval_examples, "abba"),
            "probe": probes.repeated_tokens(k_probe, c.probe_examples, self.probe_len, 0,
                                            self.num_content, self.bos),
        }

    # ------------------------------------------------------------------ metrics
    def metrics(self, split, logits, batch, attention=None):
        nll = token_nll(logits, batch.targets)
        if split == "probe":
            out = {"repeat_loss": masked_mean(nll, batch.loss_mask)}
            if attention is not None:
                out.update(probes.probe_metrics(attention, batch.inputs))
            return out
        final = last_answer_position(batch)
        final_logits = take_positions(logits, final)             # [b, vocab]
        io = take_positions(batch.targets, final)                # [b]
        s = batch.inputs[:, NAME_POSITIONS[0]] + batch.inputs[:, NAME_POSITIONS[1]] - io
        rows = jnp.arange(io.shape[0])
        diff = final_logits[rows, io] - final_logits[rows, s]
        final_nll = take_positions(nll, final)
        out = {
            "accuracy": jnp.mean((jnp.argmax(final_logits, axis=-1) == io).astype(jnp.float32)),
            "logit_diff": jnp.mean(diff),
            "io_over_s": jnp.mean((diff > 0) + 0.5 * (diff == 0)),
            "loss": jnp.mean(final_nll),
            "p_io": jnp.mean(jnp.exp(-final_nll)),
        }
        if attention is not None:
            io_pos = jnp.where(batch.inputs[:, NAME_POSITIONS[0]] == io, NAME_POSITIONS[0],
                               NAME_POSITIONS[1])
            per_layer = []
            for a in attention:  # [b, h, q, k]
                rows_q = take_positions(jnp.moveaxis(a, 1, 2), final)    # [b, h, k]
                per_layer.append(jnp.mean(rows_q[rows, :, io_pos], axis=0))  # [h]
            out["io_attention_max"] = jnp.max(jnp.stack(per_layer))
        return out
