"""Decoder-only transformer (Flax linen).

Pre-LayerNorm blocks of causal multi-head attention and (unless ``attention_only``) a GELU MLP;
position encodings learned-absolute, rotary (RoPE) or none; compute in float32 or bfloat16 with
float32 parameters, softmax and logits. ``__call__(tokens, return_attention=True)`` also returns the
attention weights of every layer; ``return_attention`` is a Python flag, so the default path builds
no extra outputs at all.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from emergence_jax.core.config import ModelConfig

Array = jax.Array
_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def rotary(x: Array) -> Array:
    """Applies RoPE to [batch, seq, heads, head_dim] (rotate-half convention, base 10000)."""
    seq_len, head_dim = x.shape[1], x.shape[-1]
    half = head_dim // 2
    freqs = 1.0 / (10000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angles = jnp.arange(seq_len, dtype=jnp.float32)[:, None] * freqs[None, :]
    cos = jnp.cos(angles)[None, :, None, :].astype(x.dtype)
    sin = jnp.sin(angles)[None, :, None, :].astype(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


class CausalSelfAttention(nn.Module):
    config: ModelConfig

    @nn.compact
    def __call__(self, x: Array, return_attention: bool = False):
        c = self.config
        dtype = _DTYPES[c.dtype]
        head_dim = c.width // c.heads
        qkv = nn.DenseGeneral((3, c.heads, head_dim), dtype=dtype, name="qkv")(x)
        q, k, v = qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]
        if c.pos_encoding == "rope":
            q, k = rotary(q), rotary(k)
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) / math.sqrt(head_dim)
        seq_len = x.shape[1]
        causal = jnp.tril(jnp.ones((seq_len, seq_len), dtype=bool))
        scores = jnp.where(causal, scores, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(scores, axis=-1)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights.astype(dtype), v)
        out = nn.DenseGeneral(c.width, axis=(-2, -1), dtype=dtype, name="out")(out)
        return out, (weights if return_attention else None)


class Block(nn.Module):
    config: ModelConfig

    @nn.compact
    def __call__(self, x: Array, return_attention: bool = False):
        c = self.config
        dtype = _DTYPES[c.dtype]
        attn_out, weights = CausalSelfAttention(c, name="attention")(
            nn.LayerNorm(dtype=dtype, name="ln_attention")(x), return_attention)
        x = x + attn_out
        if not c.attention_only:
            h = nn.LayerNorm(dtype=dtype, name="ln_mlp")(x)
            h = nn.Dense(c.width * c.mlp_ratio, dtype=dtype, name="mlp_in")(h)
            h = nn.Dense(c.width, dtype=dtype, name="mlp_out")(nn.gelu(h))
            x = x + h
        return x, weights


class Transformer(nn.Module):
    """Maps int tokens [batch, seq] to float32 logits [batch, seq, vocab_size]."""
    config: ModelConfig
    vocab_size: int
    max_len: int

    @nn.compact
    def __call__(self, tokens: Array, return_attention: bool = False):
        c = self.config
        dtype = _DTYPES[c.dtype]
        x = nn.Embed(self.vocab_size, c.width, name="embed")(tokens)
        if c.pos_encoding == "learned":
            pos = self.param("pos_embed", nn.initializers.normal(0.02), (self.max_len, c.width))
            x = x + pos[None, : tokens.shape[1]]
        x = x.astype(dtype)
        attention = []
        for i in range(c.depth):
            x, weights = Block(c, name=f"block_{i}")(x, return_attention)
            attention.append(weights)
        x = nn.LayerNorm(dtype=dtype, name="ln_final")(x)
        logits = nn.Dense(self.vocab_size, dtype=jnp.float32, name="unembed")(x.astype(jnp.float32))
        if return_attention:
            return logits, tuple(attention)
        return logits


EMBEDDING_PARAMS = ("embed", "pos_embed", "unembed")


def count_params(params) -> dict[str, int]:
    """Total and non-embedding parameter counts of one seed's params (no seed axis)."""
    total = sum(x.size for x in jax.tree_util.tree_leaves(params))
    embedding = sum(x.size for name in EMBEDDING_PARAMS if name in params
                    for x in jax.tree_util.tree_leaves(params[name]))
    return {"params": int(total), "non_embedding_params": int(total - embedding)}
