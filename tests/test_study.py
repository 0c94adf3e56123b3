"""The main job end to end: `emergence-jax run` on a tiny experiment writes a store, a fit and a
report whose numbers match the run; rerunning resumes (nothing retrained, fit re-used)."""

import json
import re

import numpy as np
import pytest

from emergence_jax import load_fit, load_run
from emergence_jax.analysis.nonparametric import dip_test
from emergence_jax.analysis.outcomes import point_outcomes
from emergence_jax.app import cli

TINY_EXPERIMENT = '''
from emergence_jax.core.config import (AnalysisConfig, CountConfig, ExperimentConfig, ModelConfig,
                                       PopulationConfig, SweepConfig, TrainConfig)


def get_config():
    return ExperimentConfig(
        name="tiny",
        model=ModelConfig(depth=1, width=16, heads=2),
        task=CountConfig(max_number=12, train_max_span=4, eval_max_span=6, eval_examples=32),
        train=TrainConfig(steps=40, batch_size=8, eval_every=20, evals_per_chunk=2),
        population=PopulationConfig(num_seeds=8),
        sweep=SweepConfig(axes={"model.width": (8, 16)}),
        analysis=AnalysisConfig(metric="id/token_accuracy", warmup=100, samples=100, chains=2),
    )
'''


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    experiment = root / "tiny.py"
    experiment.write_text(TINY_EXPERIMENT)
    out = root / "run"
    assert cli.main(["run", str(experiment), "--out", str(out), "--no-progress"]) == 0
    return experiment, out


def test_run_writes_store_fit_and_report(study):
    _, out = study
    run = load_run(out)
    assert run.completed.all() and run.metrics.shape[:2] == (2, 8)
    fit = load_fit(out / "fit")
    report = out / "report"
    for name in ["index.md", "index.html", "tables.json", "distributions.png", "p_success.png",
                 "success_mean.png", "learning_curves.png"]:
        assert (report / name).stat().st_size > 0, name
    for name in ["distributions.png", "p_success.png", "learning_curves.png"]:
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    tables = json.loads((report / "tables.json").read_text())
    final = {o.point: o.values for o in point_outcomes(run, "id/token_accuracy")}
    for row in tables["empirical"]:
        values = final[row["scale_point"]]
        assert row["seeds"] == 8
        assert row["p_success"] == pytest.approx(np.mean(values > 0.2))
        assert row["median"] == pytest.approx(float(np.median(values)))
        assert row["dip_p_value"] == pytest.approx(dip_test(values)["p_value"])
    first, second = (final[r["scale_point"]] for r in tables["empirical"])
    assert np.isnan(tables["empirical"][0]["w2_from_previous"])
    assert tables["empirical"][1]["w2_from_previous"] == pytest.approx(
        np.sqrt(np.mean((np.sort(first) - np.sort(second)) ** 2)))   # equal seed counts
    fitted = tables["fit_at_scale_points"]
    scales = run.scale_values()
    np.testing.assert_allclose([r["scale"] for r in fitted], scales)
    np.testing.assert_allclose([r["p_success"] for r in fitted], fit.p_success(scales).mean, rtol=1e-6)
    for r in fitted:
        assert 0 <= r["p_success_lower"] <= r["p_success"] <= r["p_success_upper"] <= 1

    index = (report / "index.md").read_text()
    assert "id/token_accuracy" in index and "![Seed distributions per scale](distributions.png)" in index
    # Every figure the index links exists.
    for link in re.findall(r"\]\(([^)]+\.png)\)", index):
        assert (report / link).exists()
    assert "<table>" in (report / "index.html").read_text()


def test_rerun_resumes_without_retraining_or_refitting(study, capsys):
    experiment, out = study
    before = load_run(out).metrics.copy()
    assert cli.main(["run", str(experiment), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "re-using" in printed
    np.testing.assert_array_equal(load_run(out).metrics, before)


def test_a_fit_from_an_earlier_model_revision_is_fitted_again(study, monkeypatch):
    from emergence_jax.analysis import fitting
    from emergence_jax.app.study import fit_run
    _, out = study
    run = load_run(out)
    fit, reused = fit_run(run, None, out / "fit", progress=False, log=None)
    assert reused and fit.meta["model_revision"] == fitting.MODEL_REVISION
    monkeypatch.setattr(fitting, "MODEL_REVISION", fitting.MODEL_REVISION + 1)
    refit, reused = fit_run(run, None, out / "fit", progress=False, log=None)
    assert not reused and refit.meta["model_revision"] == fitting.MODEL_REVISION


def test_report_command_and_bad_metric(study, capsys, tmp_path):
    _, out = study
    assert cli.main(["report", str(out), "--out", str(tmp_path / "r"), "--metric",
                     "id/token_accuracy"]) == 0
    assert (tmp_path / "r" / "index.md").exists()
    assert cli.main(["report", str(out), "--metric", "nope"]) == 2
    assert "metric 'nope' is not in the run" in capsys.readouterr().err
