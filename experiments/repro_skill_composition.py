"""Reproduction: competence on k-tuples of skills against Arora & Goyal's random skill-graph theory
("A Theory for Emergence of Complex Skills in Language Models", arXiv 2307.15936) — trained
populations on the k-skill composition task, their measured competence on pairs and triples
(including tuples held out of training) against the theory's prediction from the measured
single-skill competence.

Run (sweep + fit + report; see docs/reproductions.md):
    emergence-jax run experiments/repro_skill_composition.py           # 3 widths, CPU
    emergence-jax run experiments/repro_skill_composition.py:paper     # GPU/TPU scale

Presets.
  cpu (default)  five skills (reverse, increment, swap_pairs, sort, shift) on strings of 6
                 symbols mod 8; training mixes single skills and ordered pairs with a quarter of
                 the pairs held out; evaluation on single skills, trained and held-out pairs and
                 (never trained) triples. 2-layer transformers of width 24, 32 and 48, 8 seeds,
                 1,000 steps, evaluated every 50 steps on 64 examples per set. About 6 minutes
                 on 2 CPU cores.
  paper          six skills, widths 64 … 512, 32 seeds, 20,000 steps — not run for the
                 committed numbers.

What is measured. The report's skill panel (``skills.png``) compares, per seed, the competence on
k-tuples (``k{k}/exact_match`` for trained tuples, ``heldout_k{k}/exact_match`` for held-out ones)
with the theory's predictions from the single-skill competence c₁ = ``k1/exact_match``: the
guaranteed lower bound 1 − k(1 − c₁) (the failure measure of a k-tuple is at most k times that of
a single skill) and the independent-failure value c₁^k; the theory's closed forms are in
``emergence_jax.analysis.skill_theory``. The fit is the emergence-time model of the step at which
trained pairs are mastered (``k2/exact_match`` > 0.8), with a share of seeds that never get there.

What to expect: single skills are learned first and trained pairs follow at every width, at or
above the theory's guaranteed bound; held-out pairs and untrained triples stay far below both
predictions — these small transformers do not compose skills they never saw together, so the
theory's "slingshot generalization" to unseen tuples is not reproduced at this scale (numbers in
docs/reproductions.md).
"""

from emergence_jax.core.config import (AnalysisConfig, ExperimentConfig, ModelConfig,
                                       OptimizerConfig, PopulationConfig, SkillsConfig,
                                       SweepConfig, TrainConfig)

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu") -> ExperimentConfig:
    if preset == "paper":
        skills = ("reverse", "increment", "swap_pairs", "sort", "shift", "complement")
        train = TrainConfig(steps=20_000, batch_size=128, eval_every=200, evals_per_chunk=10)
        population = PopulationConfig(num_seeds=32)
        widths, eval_examples = (64, 128, 256, 512), 512
    else:
        skills = ("reverse", "increment", "swap_pairs", "sort", "shift")
        train = TrainConfig(steps=1000, batch_size=32, eval_every=50, evals_per_chunk=5)
        population = PopulationConfig(num_seeds=8, seed_group=4)
        widths, eval_examples = (24, 32, 48), 64
    return ExperimentConfig(
        name="repro_skill_composition" + ("" if preset == "cpu" else f"_{preset}"),
        model=ModelConfig(depth=2, width=widths[0], heads=4, pos_encoding="rope"),
        task=SkillsConfig(skills=skills, num_symbols=8, string_len=6, train_k=(1, 2),
                          eval_k=(1, 2, 3), heldout_fraction=0.25, split_seed=0,
                          eval_examples=eval_examples),
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50),
        train=train, population=population,
        sweep=SweepConfig(axes={"model.width": widths}, scale_variable="params"),
        analysis=AnalysisConfig(model="emergence-time-cure", metric="k2/exact_match",
                                threshold=0.8, chains=4, warmup=500, samples=500),
    )
