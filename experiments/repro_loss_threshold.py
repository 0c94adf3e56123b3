"""Reproduction: abilities emerge when the pre-training loss falls below a threshold, whatever the
model size (Du, Zeng, Dong & Tang, "Understanding Emergent Abilities of Language Models from the
Loss Perspective", arXiv 2403.15796) — and how much of the jump a continuous metric keeps
(Schaeffer, Miranda & Koyejo, "Are Emergent Abilities of Large Language Models a Mirage?",
arXiv 2304.15004).

Run (sweep + fit + report; see docs/reproductions.md):
    emergence-jax run experiments/repro_loss_threshold.py            # 4 widths, CPU
    emergence-jax run experiments/repro_loss_threshold.py:paper      # GPU/TPU scale
    # the same run, downstream metric = in-distribution exact match:
    emergence-jax report runs/repro_loss_threshold --metric id/exact_match --out runs/repro_loss_threshold/report_id

Presets.
  cpu (default)  the count task (prompt ``SOS a b SEP``, answer ``a a+1 … b EOS``; spans of up to
                 8 numbers in training, 9–12 out of distribution) as the pre-training corpus;
                 2-layer transformers of width 16, 24, 32 and 48; 16 seeds per width, 1,000 steps,
                 evaluated every 20 steps (50 checkpoints per seed).
  paper          widths 32 … 256, depth 4, 64 seeds, 5,000 steps evaluated every 50 — not run for
                 the committed numbers.

What is measured. The pre-training loss is ``id/loss``: the loss per answer token on held-out
sequences of the training distribution (``analysis.loss_metric``). The downstream metric is the
exact match on spans longer than any seen in training (``ood/exact_match``; ``--metric`` picks
another, e.g. ``id/exact_match``). Every (seed, checkpoint) is one point of downstream metric
against pre-training loss. The report's loss-axis panel (``loss_axis.png``) draws them for every
width, fits Du et al.'s threshold form p(L) = r + (1 − r)(1 − exp(−κ·relu(η − L)^γ)) against a
logistic in loss (PSIS-LOO), and tests whether width still matters at equal loss (per-width
offsets of the threshold). The metric-comparison panel (``metric_comparison.png``) sets exact
match beside per-token accuracy and loss: abruptness over training and across widths, and
bimodality across seeds, per metric.

What to expect (committed numbers in docs/reproductions.md): against training steps the widths
differ. Against the pre-training loss the in-distribution exact match collapses onto one curve
across widths (``--metric id/exact_match``), but the out-of-distribution exact match does not:
per-width thresholds are preferred (larger widths leave chance at a higher loss) and a logistic in
the loss fits better than the threshold form. Per-token accuracy changes gently where the share of
seeds above the success threshold jumps. The report's loss-axis fits take about 10 minutes on 2
CPU cores (sweep 5 minutes).
"""

from emergence_jax.core.config import (AnalysisConfig, CountConfig, ExperimentConfig,
                                       ModelConfig, OptimizerConfig, PopulationConfig,
                                       SweepConfig, TrainConfig)

PRESETS = ("cpu", "paper")


def get_config(preset: str = "cpu") -> ExperimentConfig:
    if preset == "paper":
        model = ModelConfig(depth=4, width=32, heads=4, pos_encoding="rope")
        train = TrainConfig(steps=5000, batch_size=64, eval_every=50, evals_per_chunk=10)
        population = PopulationConfig(num_seeds=64)
        widths = (32, 64, 128, 256)
    else:
        model = ModelConfig(depth=2, width=16, heads=4, pos_encoding="rope")
        train = TrainConfig(steps=1000, batch_size=32, eval_every=20, evals_per_chunk=10)
        population = PopulationConfig(num_seeds=16, seed_group=8)
        widths = (16, 24, 32, 48)
    return ExperimentConfig(
        name="repro_loss_threshold" + ("" if preset == "cpu" else f"_{preset}"),
        model=model,
        task=CountConfig(max_number=32, train_max_span=8, eval_max_span=12, eval_examples=128),
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50),
        train=train, population=population,
        sweep=SweepConfig(axes={"model.width": widths}, scale_variable="params"),
        analysis=AnalysisConfig(metric="ood/exact_match", threshold=0.2, loss_metric="id/loss",
                                chains=4, warmup=500, samples=500),
    )
