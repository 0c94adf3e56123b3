"""Sparse linear map over GF(2) (Baherwani et al.): x₁ = A x₀ mod 2 with a fixed A holding 4 ones
per row of 8; A is the ground-truth attention pattern.

Run:
    emergence-jax train experiments/linear_map.py --metrics test/loss_pos0 test/loss_pos4 \
        test/loss test/exact_match probe/ground_truth_max
    emergence-jax train experiments/linear_map.py --set task.num_bits=12 --set task.ones_per_row=6

What to expect (CPU, a few minutes): the per-position losses ``test/loss_pos0`` …
``test/loss_pos7`` sit on a plateau at ln 2 ≈ 0.69 (after the first steps teach the model that only
bits follow) and then drop abruptly, one position at a time, at different steps in different seeds
(in a 1,000-step run of 4 seeds, position 4 left the plateau first in every seed, at steps between
about 100 and 550 depending on the seed, falling to 0.01; by step 1,000 each seed had solved a
different subset of the other positions). ``probe/ground_truth_max`` (how closely the best head
follows the pattern of A) and ``probe/entropy_min`` track the attention side. Baherwani et al. (arXiv 2606.25010) report
``task.ones_per_row`` near ``num_bits / 2`` as the hardest setting.
"""

from emergence_jax.core.config import (ExperimentConfig, LinearMapConfig, ModelConfig,
                                       OptimizerConfig, PopulationConfig, TrainConfig)


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="linear_map",
        model=ModelConfig(depth=2, width=64, heads=4, pos_encoding="learned"),
        task=LinearMapConfig(num_bits=8, ones_per_row=4, map_seed=0, eval_examples=256,
                             probe_examples=64),
        optimizer=OptimizerConfig(learning_rate=1e-3, warmup_steps=50),
        train=TrainConfig(steps=1500, batch_size=64, eval_every=50, evals_per_chunk=6),
        population=PopulationConfig(num_seeds=4),
    )
