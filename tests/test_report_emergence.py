"""app.report.emergence: the numbers behind the emergence panels, on runs built by hand (curves
that jump at known steps), and the skill-composition rows against the theory's formulas."""

import numpy as np
import pytest

from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.report.emergence import (aligned_rows, companion_metrics,
                                                emergence_panels, family_rows, metric_families,
                                                skill_rows)

STEPS = np.arange(10, 210, 10)
JUMPS = [[50, 90, 130], [70, 110, 170]]          # per point, per seed: the step the metric jumps


class HandRun:
    """Two scale points x 3 seeds. ``test/acc`` jumps 0 -> 1 at JUMPS; ``test/loss`` falls at the
    same step; ``test/loss_pos{i}`` fall one at a time, i*20 steps apart, the last one at the
    jump; ``probe/induction_max`` rises one evaluation later."""

    def __init__(self):
        names = ["probe/induction_L0H0", "probe/induction_max", "test/acc", "test/loss",
                 "test/loss_pos0", "test/loss_pos1", "test/loss_pos2", "train/loss"]
        self.metric_names = names
        self.eval_steps = STEPS.tolist()
        self.seeds = [0, 1, 2]
        self.scale_points = [{"model.width": 16, "params": 1e3}, {"model.width": 32, "params": 4e3}]
        self.axes = ["model.width"]
        self.scale_variable = "params"
        self.config = {"task": {"name": "induction"}, "analysis": {}}
        m = np.zeros((2, 3, STEPS.size, len(names)))
        for p in range(2):
            for s in range(3):
                j = JUMPS[p][s]
                after = STEPS >= j
                m[p, s, :, names.index("test/acc")] = after
                m[p, s, :, names.index("test/loss")] = np.where(after, 0.01, 0.7)
                m[p, s, :, names.index("train/loss")] = np.where(after, 0.02, 0.7)
                m[p, s, :, names.index("probe/induction_max")] = STEPS >= j + 10
                m[p, s, :, names.index("probe/induction_L0H0")] = STEPS >= j + 10
                for i in range(3):
                    m[p, s, :, names.index(f"test/loss_pos{i}")] = np.where(
                        STEPS >= j - 40 + 20 * i, 0.0, 0.69)
        self.metrics = m
        self.diverged = np.zeros((2, 3), bool)
        self.completed = np.array([True, True])


def _by_point(run, criterion):
    from emergence_jax.analysis.emergence import emergence_steps
    from emergence_jax.analysis.outcomes import curves
    return {c.point: (c.kept, *emergence_steps(c.values[c.kept], c.steps, criterion))
            for c in curves(run, criterion.metric)}


def test_aligned_rows_find_the_jump_at_lag_zero():
    run, crit = HandRun(), SuccessCriterion("test/acc", 0.5)
    rows = {(r["metric"], r["scale_point"]): r
            for r in aligned_rows(run, _by_point(run, crit), ["test/acc", "test/loss",
                                                               "probe/induction_max"])}
    for p in (0, 1):
        assert rows[("test/acc", p)]["largest_jump_lag"] == 0
        assert rows[("test/loss", p)]["largest_jump_lag"] == 0
        assert rows[("test/loss", p)]["before"] == 0.7 and rows[("test/loss", p)]["after"] == 0.01
        assert rows[("probe/induction_max", p)]["largest_jump_lag"] == 10   # one eval later
        assert rows[("test/acc", p)]["seeds"] == 3


def test_companion_metrics_and_families():
    run = HandRun()
    picked = companion_metrics(run, SuccessCriterion("probe/induction_max", 0.5))
    assert picked[:2] == ["probe/induction_max", "train/loss"]
    assert "test/loss" in picked and "test/acc" in picked
    assert not any(n.startswith("test/loss_pos") or n.endswith("L0H0") for n in picked)
    assert metric_families(run) == {"test/loss_pos": ["test/loss_pos0", "test/loss_pos1",
                                                      "test/loss_pos2"]}
    rows = family_rows(run, metric_families(run)["test/loss_pos"])
    for r, point_jumps in zip(rows, JUMPS):
        assert r["dropped"] == 1.0 and r["one_at_a_time"] == 1.0 and r["gap_median"] == 20
        assert r["first_drop_median"] == float(np.median(point_jumps)) - 40


def test_panels_are_drawn_with_their_tables(tmp_path):
    run = HandRun()
    shown, tables = emergence_panels(run, None, SuccessCriterion("test/acc", 0.5), tmp_path)
    files = [s[0] for s in shown]
    assert files == ["emergence_times.png", "aligned.png", "family_test_loss_pos.png"]
    for f in files:
        assert (tmp_path / f).read_bytes()[:4] == b"\x89PNG"
    times = tables["emergence_times"]
    assert [r["emerged"] for r in times] == [3, 3]
    assert [r["km_median"] for r in times] == [90, 110]


class SkillRun:
    """A skills run: per seed, c1 = k1/exact_match and measured k2 / heldout_k2 competences."""

    def __init__(self, c1, k2, held):
        self.metric_names = ["heldout_k2/exact_match", "k1/exact_match", "k2/exact_match"]
        self.eval_steps = [100]
        self.seeds = list(range(len(c1)))
        self.scale_points = [{"model.width": 32, "params": 1e4}]
        self.axes = ["model.width"]
        self.scale_variable = "params"
        self.config = {"task": {"name": "skills"}}
        self.metrics = np.array([held, c1, k2], float).T[None, :, None, :]
        self.diverged = np.zeros((1, len(c1)), bool)
        self.completed = np.array([True])


def test_skill_rows_against_the_theory():
    c1, k2, held = [1.0, 0.9, 0.8], [0.95, 0.85, 0.5], [0.2, 0.9, 0.7]
    rows = {r["tuples"]: r for r in skill_rows(SkillRun(c1, k2, held))}
    c = np.array(c1)
    guaranteed, independent = np.clip(1 - 2 * (1 - c), 0, 1), c ** 2
    for kind, measured in (("trained", k2), ("held-out", held)):
        r = rows[kind]
        assert r["k"] == 2 and r["seeds"] == 3
        assert r["measured"] == pytest.approx(np.mean(measured))
        assert r["guaranteed"] == pytest.approx(guaranteed.mean())
        assert r["independent"] == pytest.approx(independent.mean())
        assert r["share_at_least_guaranteed"] == pytest.approx(
            np.mean(np.array(measured) >= guaranteed))
