"""The reproduction experiments (experiments/repro_*.py): every preset loads and validates, and a
tiny version of the default preset runs end to end through ``emergence-jax run`` — sweep, the
experiment's own fit and the report with the study's panels."""

import importlib.util
import json
from pathlib import Path

import pytest

from emergence_jax import load_fit
from emergence_jax.app import cli
from emergence_jax.core.config import EMERGENCE_TIME_MODELS, load_experiment

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
REPROS = sorted(EXPERIMENTS.glob("repro_*.py"))
TINY = ["model.width=16", "model.heads=2", "train.steps=40", "train.eval_every=10",
        "train.evals_per_chunk=2", "train.batch_size=8", "population.num_seeds=4",
        "population.seed_group=0", "task.eval_examples=16", "analysis.chains=2",
        "analysis.warmup=100", "analysis.samples=100", "analysis.compare=false"]
# Two small values of each study's swept field.
SMALL_AXES = {"task.ones_per_row": (1, 2), "task.num_bits": (3, 4), "model.width": (8, 16),
              "model.depth": (1, 2)}
# The panels a tiny run already draws (no seed need have emerged within its 40 steps).
PANELS = {"repro_sparse_attention": ["emergence_times.png", "family_test_loss_pos.png"],
          "repro_induction_heads": ["emergence_times.png", "probes.png"],
          "repro_skill_composition": ["emergence_times.png", "skills.png"],
          "repro_distributional_scaling": ["distributions.png", "p_success.png",
                                           "metric_comparison.png"],
          "repro_loss_threshold": ["loss_axis.png", "metric_comparison.png"]}
# Studies of when seeds acquire a capability fit an emergence-time model; the others fit the
# outcome at the end of training (the default hurdle model).
TIMING = {"repro_sparse_attention", "repro_induction_heads", "repro_skill_composition"}


def _presets(path: Path) -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PRESETS


def test_every_study_has_a_repro_file():
    assert {p.stem for p in REPROS} == set(PANELS)


@pytest.mark.parametrize("path", REPROS, ids=lambda p: p.stem)
def test_presets_load(path):
    text = path.read_text()
    assert text.lstrip().startswith('"""') and "emergence-jax run" in text
    presets = _presets(path)
    assert presets[0] == "cpu" and "paper" in presets
    names = []
    for preset in presets:
        cfg = load_experiment(f"{path}:{preset}")
        names.append(cfg.name)
        assert f"{path.name}:{preset}" in text or preset == "cpu", "docstring names the preset"
        assert cfg.sweep.axes
        assert (cfg.analysis.model in EMERGENCE_TIME_MODELS) == (path.stem in TIMING)
    assert len(set(names)) == len(presets)        # presets write to different run directories
    assert load_experiment(path).name == names[0]  # cpu is the default


# ~1 min each on 2 cores: the default suite trains every experiment file in
# tests/test_experiments.py; this adds the fit and the report panels
@pytest.mark.slow
@pytest.mark.parametrize("path", REPROS, ids=lambda p: p.stem)
def test_tiny_run_end_to_end(path, tmp_path):
    cfg = load_experiment(path)
    axis = next(iter(cfg.sweep.axes))
    overrides = TINY + [f"sweep.axes={{'{axis}': {SMALL_AXES[axis]}}}"]
    if hasattr(cfg.task, "probe_examples"):
        overrides.append("task.probe_examples=4")
    args = ["run", str(path), "--out", str(tmp_path / "run"), "--no-progress"]
    for item in overrides:
        args += ["--set", item]
    assert cli.main(args) == 0
    fit = load_fit(tmp_path / "run" / "fit")
    assert fit.settings.model == cfg.analysis.model
    report = tmp_path / "run" / "report"
    for name in PANELS[path.stem]:
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    tables = json.loads((report / "tables.json").read_text())
    if path.stem in TIMING:
        assert len(tables["emergence_times"]) == 2
        assert sum(r["seeds"] for r in tables["emergence_times"]) == 8
    else:
        assert [r["seeds"] for r in tables["empirical"]] == [4, 4]
