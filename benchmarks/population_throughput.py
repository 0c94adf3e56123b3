"""Population training throughput against its peers: a sequential one-seed JAX loop, a per-seed
PyTorch loop and a torch.func ensemble, all on this machine.

    python benchmarks/population_throughput.py                       # CPU: S = 1, 8, 32, 128
    python benchmarks/population_throughput.py --seeds 1 8 --steps 20 --dtype fp32 bf16
    python benchmarks/population_throughput.py --device gpu          # 1 to 4,096 seeds, widths
                                                                     # 64 and 256, fp32 and bf16

Every contender trains the same model — emergence_jax's pre-LN decoder (``core/model.py``: token
embedding, RoPE, causal multi-head attention and a GELU MLP with LayerNorm before each, a final
LayerNorm and unembedding; ``--width``, ``--depth``, ``--heads``) on the count task's vocabulary
and sequence length, ``--batch-size`` sequences per step per seed, with AdamW (same learning
rate, betas and weight decay; no gradient clipping, which a stacked PyTorch optimizer cannot do
per seed):

    jax_population   one compiled S-seed program (``Population``), a chunk of ``--steps`` steps
                     and its evaluation, timed after compilation, host round-trip included
    jax_sequential   the same with one seed on one device; seeds would run one after another
    torch_loop       one PyTorch model and optimizer per seed, seeds one after another
    torch_func       the S seeds' parameters stacked (``torch.func.stack_module_state``), the
                     loss gradient ``vmap``'d over ``functional_call``; AdamW on the stacked
                     tensors (elementwise, so the same as per-seed AdamW)

Sequential contenders' per-seed rates do not depend on S, so they are measured once per width and
dtype on ``--sequential-seeds`` seeds. bf16 computes in bfloat16 with float32 parameters (JAX:
``model.dtype=bfloat16``; PyTorch: autocast). Memory: XLA's compiled memory analysis of the JAX
chunk (arguments, outputs, temporaries) and, on GPU, PyTorch's peak allocated bytes — both per
seed. FLOPs: XLA's cost analysis of the compiled chunk (``compiled.cost_analysis()``); model FLOP
utilisation divides the achieved rate by the device's peak (``--peak-tflops``, or a known GPU's).

On a CPU, expose one JAX device per core (``XLA_FLAGS=--xla_force_host_platform_device_count=N``)
so that seeds run on every core; PyTorch uses its intra-op threads. Writes
benchmarks/results/population_throughput_<cpu|gpu>.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, print_table, write_results  # noqa: E402

from emergence_jax.core.config import ExperimentConfig, apply_overrides  # noqa: E402
from emergence_jax.core.distributed import seed_mesh  # noqa: E402
from emergence_jax.core.population import Population  # noqa: E402

DTYPES = {"fp32": "float32", "bf16": "bfloat16"}
CONTENDERS = ("jax_population", "jax_sequential", "torch_loop", "torch_func")
# Dense peak TFLOP/s (fp32 without TF32, bf16 tensor cores) of GPUs the docs name.
PEAK_TFLOPS = {"H100": {"fp32": 67.0, "bf16": 989.0}, "H200": {"fp32": 67.0, "bf16": 989.0},
               "A100": {"fp32": 19.5, "bf16": 312.0}}
GPU_DEFAULTS = {"seeds": [1, 8, 64, 512, 4096], "widths": [64, 256], "dtype": ["fp32", "bf16"]}
CPU_DEFAULTS = {"seeds": [1, 8, 32, 128], "widths": [64], "dtype": ["fp32"]}


def make_config(num_seeds: int, width: int, dtype: str, args) -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), [
        f"model.width={width}", f"model.depth={args.depth}", f"model.heads={args.heads}",
        f"model.dtype={DTYPES[dtype]}", "optimizer.grad_clip=0.0",
        f"train.steps={args.steps * 2}", f"train.eval_every={args.steps}",
        "train.evals_per_chunk=1", f"train.batch_size={args.batch_size}",
        f"population.num_seeds={num_seeds}", f"population.seed_group={args.seed_group}"])


# ---------------------------------------------------------------------------------- JAX
def time_population(pop: Population, repeats: int) -> dict:
    """Seconds per chunk (median of ``repeats`` after a warm-up chunk), XLA's memory and cost
    analyses of the compiled chunk, and the device's peak bytes where it reports them."""
    state = pop.init()
    compiled = pop._chunk.lower(state, pop._eval_sets).compile()  # noqa: SLF001
    out: dict = {}
    memory = compiled.memory_analysis()
    if memory is not None:
        out["compiled_bytes"] = int(memory.argument_size_in_bytes + memory.output_size_in_bytes
                                    + memory.temp_size_in_bytes)
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    if cost and cost.get("flops"):
        out["chunk_flops"] = float(cost["flops"])
    state, _ = pop.train_chunk(state)  # warm-up (compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state, _ = pop.train_chunk(state)  # host round-trip included: metrics are fetched
        times.append(time.perf_counter() - start)
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        out["device_peak_bytes"] = int(stats["peak_bytes_in_use"])
    out["seconds"] = float(np.median(times))
    return out


# ---------------------------------------------------------------------------------- PyTorch
def torch_model(vocab: int, seq_len: int, width: int, depth: int, heads: int):
    """emergence_jax's ``Transformer`` (RoPE, pre-LN, GELU-tanh MLP, biases as Flax's Dense)."""
    return _torch_classes()(vocab, seq_len, width, depth, heads)


@functools.cache
def _torch_classes():
    """The PyTorch modules, defined once (``stack_module_state`` wants one class)."""
    import torch
    from torch import nn

    trig: dict = {}  # (angles, device, dtype) -> (cos, sin), made once rather than every call

    def rotary(x, angles):  # [B, T, H, D], rotate-half convention as core/model.py
        half = x.shape[-1] // 2
        key = (id(angles), x.device, x.dtype)
        if key not in trig:
            trig[key] = (angles.cos()[None, :, None, :].to(x.device, x.dtype),
                         angles.sin()[None, :, None, :].to(x.device, x.dtype))
        cos, sin = trig[key]
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    class Block(nn.Module):
        def __init__(self, width: int, heads: int, angles):
            super().__init__()
            self.width, self.heads, self.angles = width, heads, angles
            self.ln_attention = nn.LayerNorm(width, eps=1e-6)
            self.qkv = nn.Linear(width, 3 * width)
            self.out = nn.Linear(width, width)
            self.ln_mlp = nn.LayerNorm(width, eps=1e-6)
            self.mlp_in = nn.Linear(width, 4 * width)
            self.mlp_out = nn.Linear(4 * width, width)

        def forward(self, x):
            b, t, width = x.shape
            heads, head_dim = self.heads, width // self.heads
            q, k, v = self.qkv(self.ln_attention(x)).view(b, t, 3, heads, head_dim).unbind(2)
            q, k = rotary(q, self.angles), rotary(k, self.angles)
            scores = torch.einsum("bqhd,bkhd->bhqk", q, k).float() / math.sqrt(head_dim)
            causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            scores = scores.masked_fill(~causal, torch.finfo(torch.float32).min)
            weights = scores.softmax(-1).to(v.dtype)
            x = x + self.out(torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, width))
            h = nn.functional.gelu(self.mlp_in(self.ln_mlp(x)), approximate="tanh")
            return x + self.mlp_out(h)

    class Transformer(nn.Module):
        def __init__(self, vocab: int, seq_len: int, width: int, depth: int, heads: int):
            super().__init__()
            half = width // heads // 2
            freqs = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float32) / half))
            angles = torch.arange(seq_len, dtype=torch.float32)[:, None] * freqs[None, :]
            self.embed = nn.Embedding(vocab, width)
            self.blocks = nn.ModuleList(Block(width, heads, angles) for _ in range(depth))
            self.ln_final = nn.LayerNorm(width, eps=1e-6)
            self.unembed = nn.Linear(width, vocab)

        def forward(self, tokens):
            x = self.embed(tokens)
            for block in self.blocks:
                x = block(x)
            return self.unembed(self.ln_final(x).float())

    return Transformer


class TorchSetup:
    """What every PyTorch contender shares: device, autocast, data sizes and the optimizer."""

    def __init__(self, cfg: ExperimentConfig, vocab: int, seq_len: int, device: str, dtype: str):
        import torch
        self.torch = torch
        self.cfg, self.vocab, self.seq_len = cfg, vocab, seq_len
        self.device = "cuda" if device == "gpu" else "cpu"
        self.dtype = dtype

    def model(self, seed: int):
        self.torch.manual_seed(seed)
        m = self.cfg.model
        return torch_model(self.vocab, self.seq_len, m.width, m.depth, m.heads).to(self.device)

    def optimizer(self, params):
        o = self.cfg.optimizer
        return self.torch.optim.AdamW(params, lr=o.learning_rate, betas=(o.b1, o.b2),
                                      weight_decay=o.weight_decay)

    def autocast(self):
        import contextlib
        if self.dtype == "fp32":
            return contextlib.nullcontext()
        return self.torch.autocast(self.device, dtype=self.torch.bfloat16)

    def batch(self, *lead: int):
        """Random tokens: inputs and next-token targets [*lead, batch, seq_len]."""
        b = self.cfg.train.batch_size
        x = self.torch.randint(0, self.vocab, (*lead, b, self.seq_len + 1), device=self.device)
        return x[..., :-1], x[..., 1:]

    def sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def reset_peak(self):
        if self.device == "cuda":
            self.torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self) -> int | None:
        return int(self.torch.cuda.max_memory_allocated()) if self.device == "cuda" else None


def time_torch_loop(setup: TorchSetup, seeds: int, steps: int) -> dict:
    """Seconds per seed for ``steps`` steps, one model and optimizer per seed, one seed after
    another (median over ``seeds`` seeds after a warm-up seed)."""
    torch = setup.torch
    f = torch.nn.functional
    times = []
    setup.reset_peak()
    for seed in range(seeds + 1):
        model = setup.model(seed)
        opt = setup.optimizer(model.parameters())
        setup.sync()
        start = time.perf_counter()
        for _ in range(steps):
            x, y = setup.batch()
            with setup.autocast():
                loss = f.cross_entropy(model(x).reshape(-1, setup.vocab), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        setup.sync()
        if seed:  # the first seed warms up allocators and kernels
            times.append(time.perf_counter() - start)
    return {"seconds": float(np.median(times)), "device_peak_bytes": setup.peak_bytes()}


def time_torch_func(setup: TorchSetup, num_seeds: int, steps: int, repeats: int) -> dict:
    """Seconds for ``steps`` steps of an ``num_seeds``-model ensemble: stacked parameters, the
    gradient ``vmap``'d over ``functional_call`` (median of ``repeats`` after a warm-up)."""
    import copy

    torch = setup.torch
    from torch.func import functional_call, grad, stack_module_state, vmap
    f = torch.nn.functional
    models = [setup.model(seed) for seed in range(num_seeds)]
    params, buffers = stack_module_state(models)
    params = {k: v.detach() for k, v in params.items()}
    base = copy.deepcopy(models[0]).to("meta")
    del models

    def loss_fn(p, b, x, y):
        with setup.autocast():
            logits = functional_call(base, (p, b), (x,))
        return f.cross_entropy(logits.reshape(-1, setup.vocab), y.reshape(-1))

    grads_of = vmap(grad(loss_fn))
    opt = setup.optimizer(list(params.values()))

    def run() -> None:
        for _ in range(steps):
            x, y = setup.batch(num_seeds)
            grads = grads_of(params, buffers, x, y)
            for k, v in params.items():
                v.grad = grads[k]
            opt.step()

    setup.reset_peak()
    run()  # warm-up
    times = []
    for _ in range(repeats):
        setup.sync()
        start = time.perf_counter()
        run()
        setup.sync()
        times.append(time.perf_counter() - start)
    return {"seconds": float(np.median(times)), "device_peak_bytes": setup.peak_bytes()}


# ---------------------------------------------------------------------------------- driver
def out_of_memory_as_nan(measure_one) -> dict:
    """``measure_one()``, or NaN seconds when the device runs out of memory (the largest
    populations on a GPU), so that one size does not end the whole benchmark."""
    try:
        return measure_one()
    except Exception as e:  # noqa: BLE001 - JAX, XLA and PyTorch each raise their own type
        text = str(e)
        if "RESOURCE_EXHAUSTED" not in text and "out of memory" not in text.lower():
            raise
        print(f"out of memory: {text.splitlines()[0][:200]}", flush=True)
        return {"seconds": float("nan"), "oom": True}


def peak_flops(args, dtype: str) -> float | None:
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    kind = jax.devices()[0].device_kind
    for name, peaks in PEAK_TFLOPS.items():
        if name in kind:
            return peaks[dtype] * 1e12
    return None


def measure(args) -> list[dict]:
    rows = []
    for dtype in args.dtype:
        for width in args.widths:
            single = Population(make_config(1, width, dtype, args),
                                mesh=seed_mesh(jax.devices()[:1]))
            task = single.task
            setup = TorchSetup(single.cfg, task.vocab_size, task.seq_len, args.device, dtype)
            seq = time_population(single, args.repeats * args.sequential_seeds)
            loop = time_torch_loop(setup, args.sequential_seeds, args.steps)
            rates = {"jax_sequential": args.steps / seq["seconds"],
                     "torch_loop": args.steps / loop["seconds"]}
            peak = peak_flops(args, dtype)
            for num_seeds in args.seeds:
                jx = out_of_memory_as_nan(lambda: time_population(
                    Population(make_config(num_seeds, width, dtype, args)), args.repeats))
                tf = out_of_memory_as_nan(lambda: time_torch_func(setup, num_seeds, args.steps,
                                                                  args.repeats))
                rates.update(jax_population=num_seeds * args.steps / jx["seconds"],
                             torch_func=num_seeds * args.steps / tf["seconds"])
                row = {"dtype": dtype, "width": width, "seeds": num_seeds,
                       "params_per_seed": single.sizes()["params"],
                       "out_of_memory": [k for k, r in (("jax_population", jx),
                                                        ("torch_func", tf)) if r.get("oom")],
                       "tokens_per_seed_step": args.batch_size * task.seq_len,
                       **{f"{k}_seed_steps_per_s": rates[k] for k in CONTENDERS},
                       "jax_population_vs_torch_loop": rates["jax_population"] / rates["torch_loop"],
                       "jax_population_vs_torch_func": rates["jax_population"] / rates["torch_func"],
                       "jax_population_vs_jax_sequential":
                           rates["jax_population"] / rates["jax_sequential"]}
                if "compiled_bytes" in jx:
                    row["jax_bytes_per_seed"] = jx["compiled_bytes"] / num_seeds
                if jx.get("device_peak_bytes"):
                    row["jax_device_peak_bytes_per_seed"] = jx["device_peak_bytes"] / num_seeds
                if tf.get("device_peak_bytes"):
                    row["torch_func_peak_bytes_per_seed"] = tf["device_peak_bytes"] / num_seeds
                if "chunk_flops" in jx:  # XLA counts the whole chunk: steps and evaluation
                    row["jax_flops_per_s"] = jx["chunk_flops"] / jx["seconds"]
                    if peak:
                        row["jax_mfu"] = row["jax_flops_per_s"] / peak
                rows.append(row)
                print(f"{dtype} width {width} S={num_seeds}: " + ", ".join(
                    f"{k} {rates[k]:,.0f}" for k in CONTENDERS) + " seed-steps/s", flush=True)
    return rows


RATIO_COLUMNS = ["dtype", "width", "seeds", *(f"{k}_seed_steps_per_s" for k in CONTENDERS),
                 "jax_population_vs_torch_loop", "jax_population_vs_torch_func",
                 "jax_population_vs_jax_sequential"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu: JAX and PyTorch on the GPU, defaults seeds 1..4096, widths "
                             "64 256, dtypes fp32 bf16")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--widths", type=int, nargs="+", default=None)
    parser.add_argument("--dtype", nargs="+", choices=sorted(DTYPES), default=None)
    parser.add_argument("--steps", type=int, default=50, help="steps per timed chunk")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequential-seeds", type=int, default=2,
                        help="seeds timed one after another for the sequential contenders")
    parser.add_argument("--seed-group", type=int, default=0,
                        help="population.seed_group: seeds vectorised together (0 = all)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's peak TFLOP/s for model FLOP utilisation (default: "
                             "known GPUs only)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="PyTorch intra-op threads (default: PyTorch's own choice)")
    parser.add_argument("--out", default=None, help="result file (default: benchmarks/results/"
                                                    "population_throughput_<device>.json)")
    parser.add_argument("--append", action="store_true",
                        help="add the rows to those already in the result file (e.g. bf16 "
                             "measured with other settings); each row keeps its settings")
    args = parser.parse_args(argv)
    defaults = GPU_DEFAULTS if args.device == "gpu" else CPU_DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.device == "gpu" and jax.devices()[0].platform != "gpu":
        parser.error("--device gpu: JAX sees no GPU")

    import torch
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "append")}
    rows = [dict(row, settings=settings) for row in measure(args)]
    print_table(rows, RATIO_COLUMNS)
    info = dict(machine(), torch=torch.__version__, torch_threads=torch.get_num_threads())
    if args.device == "gpu":
        info["torch_device"] = torch.cuda.get_device_name()
    path = Path(args.out) if args.out else RESULTS / f"population_throughput_{args.device}.json"
    if args.append and path.exists():
        rows = json.loads(path.read_text())["rows"] + rows
    write_results("population_throughput", rows, {"settings": settings}, machine_info=info,
                  path=path)
    print(f"wrote {path}")
    return {"machine": info, "settings": settings, "rows": rows}


if __name__ == "__main__":
    main()
