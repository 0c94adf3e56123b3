"""k-skill composition (Arora & Goyal): strings transformed by ordered tuples of elementary skills
named in the prompt; training mixes 1- and 2-tuples with a quarter of the 2-tuples held out.

Run:
    emergence-jax train experiments/skills.py --metrics k1/exact_match k2/exact_match \
        heldout_k2/exact_match k3/exact_match
    emergence-jax train experiments/skills.py --set "task.train_k=(1, 2, 3)" --set model.depth=4

What to expect (CPU, a few minutes for 4 seeds; numbers from one 1,000-step run): competence on
single skills comes first (``k1/exact_match`` ≈ 0.9 by step 400, 1.0 by step 1,000), trained
pairs follow (``k2/exact_match`` ≈ 0.9–0.97 at step 1,000). Held-out pairs, never seen in training,
are where seeds differ: ``heldout_k2/exact_match`` ended between 0.16 and 0.44 across the four
seeds; untrained triples (``k3``, ``heldout_k3``) stayed near 0.15–0.25. ``<set>/skill_<name>``
gives the competence on each skill (a failed example counts against every skill it uses).
"""

from emergence_jax.core.config import (ExperimentConfig, ModelConfig, OptimizerConfig,
                                       PopulationConfig, SkillsConfig, TrainConfig)


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="skills",
        model=ModelConfig(depth=2, width=64, heads=4, pos_encoding="rope"),
        task=SkillsConfig(skills=("reverse", "increment", "swap_pairs", "sort", "shift"),
                          num_symbols=8, string_len=6, train_k=(1, 2), eval_k=(1, 2, 3),
                          heldout_fraction=0.25, split_seed=0, eval_examples=128),
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50),
        train=TrainConfig(steps=1000, batch_size=64, eval_every=100, evals_per_chunk=5),
        population=PopulationConfig(num_seeds=4),
    )
