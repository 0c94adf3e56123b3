import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emergence_jax.core.config import ModelConfig
from emergence_jax.core.model import Transformer, count_params, rotary

VOCAB, SEQ = 11, 9


def build(**kwargs):
    cfg = ModelConfig(**{"depth": 2, "width": 16, "heads": 2, **kwargs})
    model = Transformer(cfg, vocab_size=VOCAB, max_len=SEQ)
    tokens = jax.random.randint(jax.random.PRNGKey(0), (3, SEQ), 0, VOCAB)
    params = model.init(jax.random.PRNGKey(1), tokens)["params"]
    return model, params, tokens


@pytest.mark.parametrize("pos", ["learned", "rope", "none"])
def test_shapes_and_attention_weights(pos):
    model, params, tokens = build(pos_encoding=pos)
    logits = model.apply({"params": params}, tokens)
    assert logits.shape == (3, SEQ, VOCAB) and logits.dtype == jnp.float32
    logits2, attention = model.apply({"params": params}, tokens, return_attention=True)
    np.testing.assert_allclose(logits, logits2, rtol=1e-6)
    assert len(attention) == 2
    for weights in attention:
        assert weights.shape == (3, 2, SEQ, SEQ)
        np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
        upper = np.triu(np.ones((SEQ, SEQ)), k=1).astype(bool)
        assert np.all(np.asarray(weights)[..., upper] == 0.0)  # causal
    assert ("pos_embed" in params) == (pos == "learned")


def test_causality_future_tokens_do_not_change_past_logits():
    model, params, tokens = build()
    changed = tokens.at[:, -1].set((tokens[:, -1] + 1) % VOCAB)
    a = model.apply({"params": params}, tokens)
    b = model.apply({"params": params}, changed)
    np.testing.assert_allclose(a[:, :-1], b[:, :-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, -1], b[:, -1])


def test_attention_only_has_no_mlp_and_fewer_params():
    _, full, _ = build()
    _, attn_only, _ = build(attention_only=True)
    assert "mlp_in" in full["block_0"] and "mlp_in" not in attn_only["block_0"]
    assert count_params(attn_only)["params"] < count_params(full)["params"]


def test_bfloat16_compute_keeps_float32_params_and_logits():
    model, params, tokens = build(dtype="bfloat16")
    assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves(params))
    logits = model.apply({"params": params}, tokens)
    assert logits.dtype == jnp.float32 and np.all(np.isfinite(logits))


def test_count_params_separates_embeddings():
    _, params, _ = build(pos_encoding="learned")
    counts = count_params(params)
    embedding = VOCAB * 16 + SEQ * 16 + (16 * VOCAB + VOCAB)
    assert counts["params"] - counts["non_embedding_params"] == embedding


def test_rotary_preserves_norm_and_encodes_relative_position():
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 6, 1, 8))
    np.testing.assert_allclose(jnp.linalg.norm(rotary(x), axis=-1), jnp.linalg.norm(x, axis=-1),
                               rtol=1e-5)
    # Same vector at every position: q_i . k_j depends only on i - j.
    v = jnp.broadcast_to(x[:, :1], x.shape)
    r = rotary(v)[0, :, 0]
    dots = r @ r.T
    np.testing.assert_allclose(dots[1, 0], dots[4, 3], rtol=1e-5)
    np.testing.assert_allclose(dots[2, 0], dots[5, 3], rtol=1e-5)
