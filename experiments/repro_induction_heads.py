"""Reproduction: induction heads form abruptly, at a different step in each seed, together with
the jump in in-context learning (Olsson et al., "In-context Learning and Induction Heads", arXiv
2209.11895) — across seeds and model widths, with the distribution of formation steps fitted by
the emergence-time model.

Run (sweep + fit + report; see docs/reproductions.md):
    emergence-jax run experiments/repro_induction_heads.py            # 3 widths, CPU
    emergence-jax run experiments/repro_induction_heads.py:paper      # GPU/TPU scale

Presets.
  cpu (default)  2-layer attention-only transformers (2 heads, RoPE) of width 16, 32 and 64 on
                 the induction task (a random string of 4–8 distinct tokens out of 16, then its
                 repeat); 20 seeds per width, 500 steps, evaluated every 20 steps. About 5
                 minutes on 2 CPU cores.
  paper          widths 32 … 256 and 64 seeds per width, 2,000 steps on a 64-token alphabet with
                 strings of 8–32 tokens — not run for the committed numbers.

What is measured. A seed forms an induction head at the first evaluation from which its best
head's prefix-matching score on the standard probe (a random sequence repeated twice,
``probe/induction_max``) stays above 0.5. The fit is ``emergence-time-cure``: a censored
log-normal model of the formation step against the number of parameters, with a share of seeds
that never form the head (they copy through another circuit; see experiments/induction.py).
The report aligns the in-context-learning score (``test/icl_score``: late-token minus early-token
loss), the repeat loss and the training loss at each seed's formation step.

What to expect (cpu preset; committed numbers in docs/reproductions.md): 11, 6 and 9 of 20 seeds
form the head, at steps 180–480 (width 16), 100–280 (32) and 60–240 (64); the formation step
falls with width (β₁ ≈ −0.34 per log-parameter) and 40–50% of seeds are expected ever to form it
at this budget. The ICL score and the repeat accuracy change most at the formation step.
"""

from emergence_jax.core.config import (AnalysisConfig, ExperimentConfig, InductionConfig,
                                       ModelConfig, OptimizerConfig, PopulationConfig,
                                       SweepConfig, TrainConfig)

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu") -> ExperimentConfig:
    if preset == "paper":
        task = InductionConfig(num_tokens=64, prefix_len=32, min_prefix_len=8, eval_examples=512,
                               probe_examples=64)
        train = TrainConfig(steps=2000, batch_size=128, eval_every=20, evals_per_chunk=25)
        population = PopulationConfig(num_seeds=64)
        widths = (32, 64, 128, 256)
    else:
        task = InductionConfig(num_tokens=16, prefix_len=8, min_prefix_len=4, eval_examples=128,
                               probe_examples=32)
        train = TrainConfig(steps=500, batch_size=64, eval_every=20, evals_per_chunk=5)
        population = PopulationConfig(num_seeds=20, seed_group=5)
        widths = (16, 32, 64)
    return ExperimentConfig(
        name="repro_induction_heads" + ("" if preset == "cpu" else f"_{preset}"),
        model=ModelConfig(depth=2, width=widths[0], heads=2, attention_only=True,
                          pos_encoding="rope"),
        task=task,
        # Constant learning rate, no weight decay: the settings of experiments/induction.py.
        optimizer=OptimizerConfig(learning_rate=1e-2, warmup_steps=20, weight_decay=0.0,
                                  end_lr_fraction=1.0),
        train=train, population=population,
        sweep=SweepConfig(axes={"model.width": widths}, scale_variable="params"),
        analysis=AnalysisConfig(model="emergence-time-cure", metric="probe/induction_max",
                                threshold=0.5, chains=4, warmup=500, samples=500),
    )
