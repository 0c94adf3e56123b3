"""The loss-axis and metric-comparison panels of a report: a synthetic run store whose exact match
is a threshold function of its loss (and token accuracy a smooth one) gives loss_axis.png,
metric_comparison.png and their numbers in tables.json; a loss metric the run lacks is refused
naming the setting and listing the run's metrics; the comparison rows on a run built by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from emergence_jax.analysis.fitting import same_fit_settings
from emergence_jax.analysis.loss import threshold_curve
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app import cli
from emergence_jax.app.report import write_report
from emergence_jax.app.report.metric_comparison import (comparison_metrics,
                                                        metric_comparison_rows)
from emergence_jax.core.config import AnalysisConfig, ExperimentConfig, SweepConfig, to_dict
from emergence_jax.core.errors import DataError
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import RunStore, config_fingerprint

NAMES = ["test/exact_match", "test/loss", "test/token_accuracy", "train/loss"]
WIDTHS, SEEDS, STEPS, N_EVAL = (16, 32, 64), 8, list(range(10, 110, 10)), 64


def _store(path, loss_metric: str = "test/loss"):
    """Three scale points x 8 seeds x 10 evaluations. The loss falls towards a floor that is lower
    at larger scale; exact match is Binomial(64, threshold curve of the loss with η = 2)/64; token
    accuracy rises smoothly as the loss falls."""
    cfg = ExperimentConfig(name="loss-axis", sweep=SweepConfig(axes={"model.width": WIDTHS}),
                           analysis=AnalysisConfig(metric="test/exact_match",
                                                   loss_metric=loss_metric, chains=2,
                                                   warmup=300, samples=300))
    config = to_dict(cfg)
    meta = {"config": config, "fingerprint": config_fingerprint(config), "name": "loss-axis",
            "axes": ["model.width"], "sweep_mode": "product",
            "scale_points": [{"coords": {"model.width": w},
                              "sizes": {"params": 1e3 * 4 ** i, "non_embedding_params": 5e2,
                                        "tokens": 1e4, "flops": 1e8}}
                             for i, w in enumerate(WIDTHS)],
            "metric_names": NAMES, "eval_steps": STEPS, "chunk_evals": 5,
            "seeds": list(range(SEEDS)), "scale_variable": "params", "eval_examples": N_EVAL,
            "versions": {}}
    store = RunStore.create(Location(path), meta)
    rng = np.random.default_rng(0)
    t = np.array(STEPS, float)
    for p, floor in enumerate((2.3, 1.8, 1.4)):
        loss = floor + (3.0 - floor) * np.exp(-t[None] / rng.uniform(20, 40, (SEEDS, 1)))
        em = rng.binomial(N_EVAL, threshold_curve(loss, 0.0, 2.0, 3.0, 1.0)) / N_EVAL
        ta = 1 / (1 + np.exp(2.5 * (loss - 2.2)))
        block = np.stack([em, loss, ta, loss + 0.05], axis=-1)
        store.write_chunk(p, 0, block, np.zeros(SEEDS, bool), np.full(SEEDS, -1))
        store.set_completion(p, len(STEPS))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = _store(tmp_path_factory.mktemp("loss_axis") / "run")
    index = write_report(run, None, run.parent / "report")
    return run, index.parent


def test_panels_are_written_with_their_numbers(report):
    _, out = report
    for name in ("loss_axis.png", "metric_comparison.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    tables = json.loads((out / "tables.json").read_text())
    la = tables["loss_axis"]
    assert la["metric"] == "test/exact_match" and la["loss_metric"] == "test/loss"
    assert la["points"] == la["points_total"] == len(WIDTHS) * SEEDS * len(STEPS)
    assert not la["thinned"] and la["exact_counts"] and la["n_eval"] == N_EVAL
    assert [r["model"] for r in la["models"]] == ["threshold", "logistic", "per-size offsets"]
    for r in la["models"]:
        assert math.isfinite(r["elpd"]) and r["elpd_se"] > 0 and math.isfinite(r["delta_elpd"])
    eta = la["parameters"]["threshold"]["eta"]
    assert eta["lower"] <= eta["mean"] <= eta["upper"] and 1.7 < eta["mean"] < 2.3  # truth 2.0
    # every width shares the threshold η = 2 here: no size effect may be claimed
    assert not la["size_matters"]
    assert la["size_verdict"] == "no evidence that size matters once loss is equal"
    assert [r["scale_point"] for r in la["thresholds_by_scale_point"]] == [0, 1, 2]

    mc = tables["metric_comparison"]
    per_point = {(r["metric"], r["scale_point"]): r for r in mc["per_point"]}
    assert len(per_point) == 3 * len(WIDTHS)
    for (metric, _), r in per_point.items():
        assert r["seeds"] == SEEDS and 0 < r["dip_p_value"] <= 1
        if metric != "test/loss":
            assert 0 <= r["mean"] <= 1
    # the larger the model, the lower its final loss and the higher its exact match
    losses = [per_point[("test/loss", p)]["mean"] for p in range(3)]
    matches = [per_point[("test/exact_match", p)]["mean"] for p in range(3)]
    assert losses == sorted(losses, reverse=True) and matches == sorted(matches)
    assert [r["metric"] for r in mc["over_scale"]] == ["test/exact_match", "test/token_accuracy",
                                                       "test/loss"]
    assert all(r["I"] > 0 for r in mc["over_scale"])     # all improve with scale (loss negated)
    index = (out / "index.md").read_text()
    assert "![Performance against pre-training loss](loss_axis.png)" in index
    assert "![Exact match against continuous metrics](metric_comparison.png)" in index


def test_a_loss_metric_the_run_lacks_names_the_setting(tmp_path, capsys):
    run = _store(tmp_path / "run", loss_metric="test/nope")
    for call in (lambda: write_report(run, None, tmp_path / "r"),                     # config
                 lambda: write_report(run, None, tmp_path / "r", loss_metric="nope/loss")):
        with pytest.raises(DataError) as info:
            call()
        message = str(info.value)
        assert message.startswith("analysis.loss_metric (--loss-metric): metric ")
        assert "is not in the run" in message and "test/loss, test/token_accuracy" in message
    assert not (tmp_path / "r").exists()     # refused before anything is written
    assert cli.main(["report", str(run), "--out", str(tmp_path / "r"), "--loss-metric",
                     "test/nope"]) == 2
    assert "metric 'test/nope' is not in the run" in capsys.readouterr().err


def test_the_loss_metric_does_not_change_a_fit():
    assert same_fit_settings(AnalysisConfig(), AnalysisConfig(loss_metric="test/loss"))
    assert not same_fit_settings(AnalysisConfig(), AnalysisConfig(chains=2))


class HandRun:
    """One scale point x 8 seeds x 6 evaluations: exact match jumps 0 -> 1 at one evaluation in
    half of the seeds (never in the others), token accuracy rises in equal steps, the loss falls
    in equal steps."""

    def __init__(self):
        self.metric_names = ["test/exact_match", "test/loss", "test/token_accuracy"]
        self.eval_steps = [10, 20, 30, 40, 50, 60]
        self.seeds = list(range(8))
        self.scale_points = [{"model.width": 16, "params": 1e3}]
        self.axes = ["model.width"]
        self.scale_variable = "params"
        self.config = {"analysis": {}}
        ramp = np.linspace(0.0, 1.0, 6)
        em = np.where((np.arange(8)[:, None] < 4) & (ramp[None] > 0.5), 1.0, 0.0)
        ta = np.broadcast_to(0.2 + 0.6 * ramp, (8, 6))
        loss = np.broadcast_to(2.0 - ramp, (8, 6))
        self.metrics = np.stack([em, loss, ta], axis=-1)[None]
        self.diverged = np.zeros((1, 8), bool)
        self.completed = np.array([True])


def test_comparison_rows_on_a_hand_built_run():
    run = HandRun()
    assert comparison_metrics(run, SuccessCriterion("test/token_accuracy", 0.5)) == {}
    metrics = comparison_metrics(run, SuccessCriterion("test/exact_match", 0.5))
    assert metrics == {"test/exact_match": False, "test/token_accuracy": False,
                       "test/loss": True}
    rows, over_scale = metric_comparison_rows(run, metrics)
    by_metric = {r["metric"]: r for r in rows}
    em, ta, loss = (by_metric[f"test/{m}"] for m in ("exact_match", "token_accuracy", "loss"))
    assert em["mean"] == 0.5 and em["bimodal"] and em["dip_p_value"] < 0.05
    # the seeds that jump do it in one step (the others stay flat: step share 0); the smooth
    # metrics cover a fifth of their range per step, and the loss counts as improving
    assert em["seed_step_share"] == 0.5 and math.isinf(em["seed_breakthroughness"])
    assert ta["seed_step_share"] == pytest.approx(0.2) and loss["seed_step_share"] == \
        pytest.approx(0.2)
    assert ta["seed_breakthroughness"] == pytest.approx(5.0)
    assert loss["seed_breakthroughness"] == pytest.approx(5.0)
    assert ta["bimodal"] is False
    assert all(math.isnan(r["breakthroughness"]) for r in over_scale)   # one scale point
