"""Population vs one-seed-at-a-time training throughput and memory.

    python benchmarks/population_throughput.py                 # S = 1, 8, 32, 128 on this machine
    python benchmarks/population_throughput.py --seeds 1 8 --steps 100

For a fixed model (count task, width 64, depth 2 by default) it times the steady-state chunk (after
compilation) of an S-seed population, and of a 1-seed population run S times one after another
(the sequential baseline: its per-seed rate does not depend on S, so it is measured once on
``--sequential-seeds`` seeds). The population uses every device JAX sees; on a CPU, expose one
device per core with ``XLA_FLAGS=--xla_force_host_platform_device_count=<cores>`` so that
seeds run on all cores at once. It reports seed-steps/s, training tokens/s, the speed-up, and memory:
XLA's compiled memory analysis of the chunk (arguments + temporaries, any backend) and, on GPU, the
device's peak bytes in use. Writes benchmarks/results/population_throughput_<platform>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_results  # noqa: E402

from emergence_jax.core.config import ExperimentConfig, apply_overrides  # noqa: E402
from emergence_jax.core.distributed import seed_mesh  # noqa: E402
from emergence_jax.core.population import Population  # noqa: E402


def make_population(num_seeds: int, args, mesh=None) -> Population:
    cfg = apply_overrides(ExperimentConfig(), [
        f"model.width={args.width}", f"model.depth={args.depth}", "model.heads=4",
        f"train.steps={args.steps * 2}", f"train.eval_every={args.steps}", "train.evals_per_chunk=1",
        f"train.batch_size={args.batch_size}", f"population.num_seeds={num_seeds}",
        f"model.dtype={args.dtype}", f"population.seed_group={args.seed_group}"])
    return Population(cfg, mesh=mesh)


def time_chunks(pop: Population, repeats: int) -> tuple[float, dict]:
    """Seconds per chunk (median of ``repeats`` after one warm-up chunk) and memory figures."""
    state = pop.init()
    compiled = pop._chunk.lower(state, pop._eval_sets).compile()  # noqa: SLF001
    analysis = compiled.memory_analysis()
    memory = {}
    if analysis is not None:
        memory["compiled_bytes"] = int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes
                                       + analysis.temp_size_in_bytes)
    state, _ = pop.train_chunk(state)  # warm-up (compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state, metrics = pop.train_chunk(state)  # host round-trip included: metrics are fetched
        times.append(time.perf_counter() - start)
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        memory["device_peak_bytes"] = int(stats["peak_bytes_in_use"])
    return float(np.median(times)), memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--steps", type=int, default=100, help="steps per timed chunk")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--sequential-seeds", type=int, default=4)
    parser.add_argument("--seed-group", type=int, default=0,
                        help="population.seed_group: seeds vectorised together (0 = all)")
    args = parser.parse_args()

    # The baseline is one seed on one device, as a user would run seeds one after another.
    single = make_population(1, args, mesh=seed_mesh(jax.devices()[:1]))
    tokens_per_seed_step = args.batch_size * single.task.seq_len
    # Sequential baseline: one compiled 1-seed program, seeds one after another.
    seconds, seq_memory = time_chunks(single, args.repeats * args.sequential_seeds)
    sequential_rate = args.steps / seconds

    rows = []
    for num_seeds in args.seeds:
        pop = make_population(num_seeds, args)
        seconds, memory = time_chunks(pop, args.repeats)
        rate = num_seeds * args.steps / seconds
        rows.append({
            "seeds": num_seeds,
            "population_seed_steps_per_s": rate,
            "sequential_seed_steps_per_s": sequential_rate,
            "speedup": rate / sequential_rate,
            "population_tokens_per_s": rate * tokens_per_seed_step,
            "sequential_tokens_per_s": sequential_rate * tokens_per_seed_step,
            "params_per_seed": pop.sizes()["params"],
            **{f"population_{k}": v for k, v in memory.items()},
            **{f"sequential_{k}": v for k, v in seq_memory.items()},
        })
        print(f"S={num_seeds}: {rate:,.0f} seed-steps/s ({rate / sequential_rate:.2f}x sequential)",
              flush=True)
    print_table(rows, ["seeds", "population_seed_steps_per_s", "sequential_seed_steps_per_s",
                       "speedup", "population_tokens_per_s", "population_compiled_bytes"]
                + (["population_device_peak_bytes"] if "population_device_peak_bytes" in rows[0]
                   else []))
    path = write_results("population_throughput", rows, {"settings": vars(args)})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
