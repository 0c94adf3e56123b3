"""The report's emergence panels: when seeds acquire the capability, what changes with it, and —
for the k-skill composition task — competence on tuples of skills against Arora & Goyal's theory.

    emergence_times.png   P(emerged by step t) per scale point: Kaplan–Meier with Greenwood band
                          and, with an emergence-time fit, the fitted curve and credible band; and
                          each seed's emergence step against scale (censored seeds marked) with the
                          fitted median and 90% predictive range
    aligned.png           companion metrics (losses, in-context-learning score, attention probes)
                          aligned at each seed's emergence step
    families.png          indexed metric families such as the linear map's ``test/loss_pos{i}``:
                          every member over training for a few seeds, and when each one drops
    skills.png            (task ``skills``) competence on k-tuples against the single-skill
                          competence, with the theory's predictions

``emergence_panels`` draws the ones that apply and returns them with their tables; the numbers come
from ``analysis.emergence`` (emergence steps, Kaplan–Meier), ``analysis.emergence_fit`` and
``analysis.skill_theory``; which seeds and evaluations count is ``analysis.outcomes``' decision.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings

import numpy as np

from emergence_jax.analysis.emergence import EmergenceTimes, emergence_times, kaplan_meier
from emergence_jax.analysis.outcomes import PointCurves, curves, point_outcomes
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.report.figures import (COLORS, _pyplot, _save, point_colors,
                                              probe_metrics)
from emergence_jax.app.report.tables import SCALE_LABELS, point_label
from emergence_jax.core.errors import DataError

__all__ = ["aligned_rows", "companion_metrics", "emergence_panels", "family_rows",
           "metric_families", "skill_rows"]

MAX_ALIGNED = 12
_FAMILY = re.compile(r"^(?P<prefix>[^/]+/[A-Za-z_]*?)(?P<index>\d+)$")


def _scale_label(variable: str) -> str:
    return SCALE_LABELS.get(variable, variable)


# ------------------------------------------------------------------------------- survival


def _survival_figure(times: EmergenceTimes, fit, path) -> None:
    plt = _pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    scales = times.scales
    colors = point_colors(scales.size)
    budget = float(times.budget.max())
    grid = np.linspace(budget / 200, budget, 200)
    for color, scale in zip(colors, scales):
        d = times.at(scale)
        km = kaplan_meier(d.time, d.event)
        t = np.concatenate([[0.0], km["time"], [float(d.budget.max())]])
        emerged = 1 - np.concatenate([[1.0], km["survival"], km["survival"][-1:]])
        lo = 1 - np.concatenate([[1.0], km["upper"], km["upper"][-1:]])
        hi = 1 - np.concatenate([[1.0], km["lower"], km["lower"][-1:]])
        if km["time"].size == 0:
            t, emerged, lo, hi = [0.0, float(d.budget.max())], [0, 0], [0, 0], [0, 0]
        ax.step(t, emerged, where="post", color=color, lw=1.6,
                label=f"{scale:g} ({int(d.event.sum())}/{len(d)} emerged)")
        ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.12)
        if fit is not None:
            p = fit.p_emerged(grid, scale)
            ax.plot(grid, p.mean, color=color, ls="--", lw=1.2)
            ax.fill_between(grid, p.lower, p.upper, color=color, alpha=0.08)
        jitter = np.random.default_rng(0).uniform(-0.08, 0.08, len(d))
        x = np.full(len(d), scale) * np.exp(jitter)
        bx.plot(x[d.event], d.time[d.event], "o", ms=4, color=color, alpha=0.7)
        bx.plot(x[~d.event], d.time[~d.event], "^", ms=5, mfc="none", color=color, alpha=0.9)
    ax.set_xlabel("training step")
    ax.set_ylabel("P(emerged by step)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Time to emergence (solid: Kaplan–Meier, 95% band; dashed: fit)", fontsize=9)
    ax.legend(fontsize=7, title=_scale_label(times.scale_variable), title_fontsize=7,
              loc="upper left")
    if fit is not None and scales.size > 1:
        fine = np.exp(np.linspace(np.log(scales.min()), np.log(scales.max()), 50))
        med, q05, q95 = (fit.quantile_step(q, fine) for q in (0.5, 0.05, 0.95))
        bx.plot(fine, med.mean, color=COLORS["fit"], lw=2, label="fitted median step")
        bx.fill_between(fine, q05.mean, q95.mean, color=COLORS["fit"], alpha=0.15,
                        label="fitted 5%–95% of seeds")
        bx.set_ylim(0, 1.3 * budget)
    bx.plot([], [], "^", mfc="none", color="black", label="censored (never emerged)")
    bx.set_xscale("log")
    bx.set_xlabel(f"{_scale_label(times.scale_variable)} (log scale)")
    bx.set_ylabel("emergence step")
    bx.set_title("Emergence step of each seed", fontsize=9)
    bx.legend(fontsize=7, loc="best")
    fig.suptitle(f"When {times.criterion}", fontsize=11)
    _save(plt, fig, path)


def survival_rows(times: EmergenceTimes, fit=None) -> list[dict]:
    """Per scale: seeds, emerged, Kaplan–Meier median, mean and sd of the observed steps of the
    seeds that emerged and, with a fit, its numbers at that scale."""
    fitted = {r["scale"]: r for r in fit.scale_rows()} if fit is not None else {}
    rows = []
    for scale in times.scales:
        d = times.at(scale)
        observed = d.time[d.event]
        row = {"scale": float(scale), "seeds": len(d), "emerged": int(d.event.sum()),
               "budget": float(d.budget.max()),
               "km_median": kaplan_meier(d.time, d.event)["median"],
               "observed_mean": float(observed.mean()) if observed.size else math.nan,
               "observed_sd": float(observed.std(ddof=1)) if observed.size > 1 else math.nan}
        f = fitted.get(float(scale))
        if f is not None:
            row.update({k: f[k] for k in ("p_emerged", "p_emerged_lower", "p_emerged_upper",
                                          "median_step", "median_step_lower",
                                          "median_step_upper", "step_q10", "step_q90")})
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------- aligned


def companion_metrics(run, criterion: SuccessCriterion, limit: int = MAX_ALIGNED) -> list[str]:
    """The metrics worth aligning at the emergence step: the criterion's metric, the training
    loss, each evaluation set's summary metrics (not indexed families, per-skill or per-head
    scores) and the attention probes' best-head scores."""
    names = list(run.metric_names)
    probes = [n for n in probe_metrics(run) if n.endswith("_max")]
    probes += [n for n in names if n.endswith("/entropy_min")]
    plain = [n for n in names if n not in probes and not n.startswith("probe/")
             and not _FAMILY.match(n) and "/skill_" not in n and n != "train/loss"]
    picked = [criterion.metric] + (["train/loss"] if "train/loss" in names else [])
    for n in plain + probes:
        if n not in picked:
            picked.append(n)
    return picked[:limit]


def _aligned(c: PointCurves, kept: np.ndarray, time: np.ndarray, event: np.ndarray):
    """(lags [L], values [seeds that emerged, L]) of one point's curves, shifted so that each
    seed's emergence step is lag 0 (NaN outside its own evaluations)."""
    steps = c.steps.astype(np.float64)
    step = float(np.median(np.diff(steps))) if steps.size > 1 else 1.0
    values = c.values[kept][event]
    shift = np.rint((time[event] - steps[0]) / step).astype(int)
    n = steps.size
    lags = np.arange(-(n - 1), n) * step
    out = np.full((values.shape[0], lags.size), np.nan)
    for i, s in enumerate(shift):
        out[i, n - 1 - s: 2 * n - 1 - s] = values[i]
    return lags, out


def _aligned_points(run, name: str, times_by_point: dict):
    """Per scale point with seeds that emerged: (point, lags, per-seed aligned values, median
    curve). The median is NaN at lags that fewer than half of those seeds (or 2) reach."""
    for c in curves(run, name):
        if c.point not in times_by_point:
            continue
        kept, time, event = times_by_point[c.point]
        if not event.any():
            continue
        lags, v = _aligned(c, kept, time, event)
        enough = np.isfinite(v).sum(axis=0) >= max(2, int(0.5 * event.sum()))
        with _quiet():
            median = np.where(enough, np.nanmedian(v, axis=0), np.nan)
        yield c.point, lags, v, median


def aligned_rows(run, times_by_point: dict, metrics: list[str]) -> list[dict]:
    """Per metric and scale point, over the seeds that emerged: the median of the metric two
    evaluations before, at and two after the emergence step, and the lag (in steps, relative to
    the emergence step) of the largest change of the median curve between consecutive
    evaluations — near 0 when the metric jumps together with the capability."""
    rows = []
    for name in metrics:
        for point, lags, v, med in _aligned_points(run, name, times_by_point):
            jumps = np.abs(np.diff(med))
            zero = int(np.flatnonzero(lags == 0)[0])
            at = lambda j: float(med[j]) if 0 <= j < med.size else math.nan  # noqa: E731
            jump = (float(lags[1:][int(np.nanargmax(jumps))]) if np.isfinite(jumps).any()
                    else math.nan)
            rows.append({"metric": name, "scale_point": point,
                         "seeds": int(times_by_point[point][2].sum()),
                         "before": at(zero - 2), "at": at(zero), "after": at(zero + 2),
                         "largest_jump_lag": jump})
    return rows


@contextlib.contextmanager
def _quiet():
    """Medians of all-NaN columns (lags no seed reaches) are expected: no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _aligned_figure(run, times_by_point: dict, metrics: list[str], criterion, path) -> None:
    plt = _pyplot()
    cols = min(4, len(metrics))
    nrows = int(math.ceil(len(metrics) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 2.8 * nrows), squeeze=False,
                             constrained_layout=True)
    points = sorted(times_by_point)
    colors = dict(zip(points, point_colors(len(points))))
    for ax, name in zip(axes.flat, metrics):
        for point, lags, v, med in _aligned_points(run, name, times_by_point):
            for row in v:
                ax.plot(lags, row, color=colors[point], lw=0.5, alpha=0.35)
            ax.plot(lags, med, color=colors[point], lw=2,
                    label=point_label(run, point).replace("\n", "; "))
        ax.axvline(0, color="black", ls="--", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("steps from emergence")
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="best")
    fig.suptitle(f"Metrics aligned at each seed's emergence step ({criterion}); thick: median",
                 fontsize=11)
    _save(plt, fig, path)


# ------------------------------------------------------------------------------- families


def metric_families(run, min_members: int = 3) -> dict[str, list[str]]:
    """Indexed metric families ``<set>/<name>{i}`` (i = 0, 1, …) outside the probes, e.g. the
    linear map's per-position losses ``test/loss_pos0 … test/loss_pos{S-1}``."""
    found: dict[str, dict[int, str]] = {}
    for n in run.metric_names:
        m = _FAMILY.match(n)
        if m and not n.startswith("probe/"):
            found.setdefault(m["prefix"], {})[int(m["index"])] = n
    return {p: [members[i] for i in sorted(members)] for p, members in found.items()
            if len(members) >= min_members and sorted(members) == list(range(len(members)))}


def _drops(values: np.ndarray, steps: np.ndarray, start: float) -> np.ndarray:
    """Per curve: the first evaluation step from which it stays below 10% of ``start`` (its
    family's median value at the first evaluation); NaN when it never does."""
    below = values < 0.1 * start
    stays = np.flip(np.cumprod(np.flip(below, -1), axis=-1), -1).astype(bool)
    return np.where(stays.any(-1), steps[np.argmax(stays, axis=-1)], np.nan)


def family_rows(run, members: list[str]) -> list[dict]:
    """Per scale point, for a family of falling curves (losses): how many members drop (below
    10% of the family's starting value, for good), and whether they drop one at a time: the share
    of a seed's consecutive drops that happen at different evaluations, and the median gap."""
    per_member = [curves(run, m) for m in members]
    rows = []
    for point_curves in zip(*per_member):
        c0 = point_curves[0]
        # Members a point does not report are NaN throughout (a linear map of fewer bits has
        # fewer positions): the family at this point is the members it reports.
        point_curves = [c for c in point_curves if np.isfinite(c.values).any()]
        if not point_curves:
            rows.append({"scale_point": c0.point, "seeds": 0, "members": 0, "dropped": math.nan,
                         "first_drop_median": math.nan, "one_at_a_time": math.nan,
                         "gap_median": math.nan})
            continue
        kept = np.all([c.kept for c in point_curves], axis=0)
        values = np.stack([c.values[kept] for c in point_curves], axis=1)   # [seeds, M, E]
        start = float(np.median(values[:, :, 0]))
        drops = _drops(values, c0.steps.astype(np.float64), start)          # [seeds, M]
        distinct, gaps = [], []
        for d in drops:
            d = np.sort(d[np.isfinite(d)])
            if d.size > 1:
                g = np.diff(d)
                distinct.append(float((g > 0).mean()))
                gaps.extend(g.tolist())
        rows.append({"scale_point": c0.point, "seeds": int(kept.sum()),
                     "members": len(point_curves),
                     "dropped": float(np.isfinite(drops).mean()),
                     "first_drop_median": float(np.nanmedian(drops.min(axis=1)))
                     if np.isfinite(drops).any() else math.nan,
                     "one_at_a_time": float(np.mean(distinct)) if distinct else math.nan,
                     "gap_median": float(np.median(gaps)) if gaps else math.nan})
    return rows


def _family_figure(run, members: list[str], path, seeds_shown: int = 4) -> None:
    plt = _pyplot()
    per_member = [curves(run, m) for m in members]
    npoints = len(per_member[0])
    rows = min(npoints, 4)
    fig, axes = plt.subplots(rows, seeds_shown, figsize=(3.2 * seeds_shown, 2.5 * rows),
                             squeeze=False, sharex=True, sharey=True, constrained_layout=True)
    cmap = plt.get_cmap("plasma")
    for r in range(rows):
        for s in range(seeds_shown):
            ax = axes[r, s]
            for i, pc in enumerate(per_member):
                c = pc[r]
                if s < c.values.shape[0]:
                    ax.plot(c.steps, c.values[s], lw=1.1,
                            color=cmap(0.9 * i / max(len(members) - 1, 1)))
            if r == 0:
                ax.set_title(f"seed {per_member[0][r].seeds[s] if s < len(per_member[0][r].seeds) else s}",
                             fontsize=9)
            if s == 0:
                ax.set_ylabel(point_label(run, per_member[0][r].point), fontsize=8)
            if r == rows - 1:
                ax.set_xlabel("training step")
    fig.suptitle(f"{members[0][:-1]}{{i}} over training (one colour per i; first {seeds_shown} "
                 "seeds)", fontsize=11)
    _save(plt, fig, path)


# ------------------------------------------------------------------------------- skills


def _final(run, name: str) -> dict[int, np.ndarray]:
    """Per completed point: the final value of ``name`` for every seed (NaN where not kept)."""
    return {o.point: np.where(o.kept, o.values, np.nan) for o in point_outcomes(run, name)}


def skill_rows(run) -> list[dict]:
    """Per scale point of a ``skills`` run: the single-skill competence c₁ (``k1/exact_match``)
    and, for every evaluated k ≥ 2, the measured competence on trained and held-out k-tuples
    against the theory's predictions from each seed's c₁ (``skill_theory.
    predict_tuple_competence``): the guaranteed lower bound 1 − k(1 − c₁) and the
    independent-failure value c₁^k."""
    from emergence_jax.analysis.skill_theory import predict_tuple_competence
    names = set(run.metric_names)
    if "k1/exact_match" not in names:
        raise DataError("the skills comparison needs k1/exact_match (task.eval_k must hold 1)")
    c1 = _final(run, "k1/exact_match")
    ks = sorted({int(m.group(1)) for n in names for m in [re.match(r"^(?:heldout_)?k(\d+)/", n)]
                 if m and int(m.group(1)) >= 2})
    rows = []
    for point, single in c1.items():
        for k in ks:
            pred = predict_tuple_competence(single, k)
            for kind, name in (("trained", f"k{k}/exact_match"),
                               ("held-out", f"heldout_k{k}/exact_match")):
                if name not in names:
                    continue
                measured = _final(run, name)[point]
                ok = np.isfinite(measured) & np.isfinite(single)
                if not ok.any():
                    continue
                g, ind = pred["guaranteed"][ok], pred["independent"][ok]
                m = measured[ok]
                rows.append({"scale_point": point, "k": k, "tuples": kind, "seeds": int(ok.sum()),
                             "single_competence": float(single[ok].mean()),
                             "measured": float(m.mean()), "guaranteed": float(g.mean()),
                             "independent": float(ind.mean()),
                             "share_at_least_guaranteed": float((m >= g - 1e-9).mean()),
                             "measured_minus_independent": float((m - ind).mean())})
    return rows


def _skills_figure(run, rows: list[dict], path) -> None:
    from emergence_jax.analysis.skill_theory import competent_fraction, predict_tuple_competence
    plt = _pyplot()
    ks = sorted({r["k"] for r in rows})
    fig, axes = plt.subplots(1, len(ks) + 2, figsize=(3.8 * (len(ks) + 2), 3.8),
                             constrained_layout=True, squeeze=False)
    axes = axes[0]
    c1 = _final(run, "k1/exact_match")
    points = sorted(c1)
    colors = dict(zip(points, point_colors(len(points))))
    grid = np.linspace(0, 1, 101)
    for ax, k in zip(axes, ks):
        pred = predict_tuple_competence(grid, k)
        ax.plot(grid, pred["guaranteed"], color="black", lw=1.5, label=f"guaranteed 1 − {k}(1 − c₁)")
        ax.plot(grid, pred["independent"], color="black", ls=":", lw=1.5,
                label=f"independent failures c₁^{k}")
        for p in points:
            for kind, marker in (("", "o"), ("heldout_", "x")):
                name = f"{kind}k{k}/exact_match"
                if name in run.metric_names:
                    ax.plot(c1[p], _final(run, name)[p], marker, color=colors[p], ms=5,
                            alpha=0.8, mfc="none" if marker == "o" else None)
        ax.plot([], [], "o", mfc="none", color="grey", label="trained tuples")
        ax.plot([], [], "x", color="grey", label="held-out tuples")
        ax.set_xlabel("single-skill competence c₁ (k1/exact_match)")
        ax.set_ylabel(f"competence on {k}-tuples")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{k}-tuples of skills (one marker per seed)", fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
    ax = axes[len(ks)]
    labels = [point_label(run, p).replace("\n", "; ") for p in points]
    x = np.arange(len(points))
    for k, style in zip(ks, ("-", "--", "-.", ":")):
        for kind, color in (("trained", COLORS["success"]), ("held-out", COLORS["failure"])):
            ys = [next((r["measured"] for r in rows if r["scale_point"] == p and r["k"] == k
                        and r["tuples"] == kind), np.nan) for p in points]
            ax.plot(x, ys, style, marker="o", color=color, label=f"{k}-tuples, {kind}")
        ind = [next((r["independent"] for r in rows if r["scale_point"] == p and r["k"] == k),
                    np.nan) for p in points]
        ax.plot(x, ind, style, color="black", lw=1, label=f"{k}-tuples, predicted c₁^{k}")
    ax.plot(x, [np.nanmean(c1[p]) for p in points], marker="s", color=COLORS["fit"],
            label="single skills (c₁)")
    ax.set_xticks(x, labels, fontsize=6, rotation=20)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("mean competence over seeds")
    ax.set_title("Competence vs scale point", fontsize=9)
    ax.legend(fontsize=6, loc="best")
    ax = axes[len(ks) + 1]
    thetas = np.geomspace(0.005, 0.5, 60)
    for kp, style in zip((1, 2, 4), ("-", "--", ":")):
        ax.plot(thetas, [competent_fraction(t, 0.8, 8, kp) for t in thetas], style,
                color="black", label=f"{kp}-tuples")
    for p in points:
        theta = 1 - float(np.nanmean(c1[p]))
        if theta > 0:
            ax.axvline(theta, color=colors[p], lw=1, alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("failure measure θ (vertical lines: 1 − c₁ of each scale point)")
    ax.set_ylabel("guaranteed share with competence ≥ 0.8")
    ax.set_title("Theory (k = 8 skills per piece): slingshot curves", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle("k-skill composition against Arora & Goyal's random skill-graph model",
                 fontsize=11)
    _save(plt, fig, path)


# ------------------------------------------------------------------------------- entry point


def emergence_panels(run, fit, criterion: SuccessCriterion, out, *,
                     scale_variable: str | None = None,
                     aligned: list[str] | None = None) -> tuple[list, dict]:
    """Draws the panels that apply to ``run`` into ``out``; returns ([(file, title, caption,
    table rows, columns)], {table name: rows}). ``fit`` is used when it is an emergence-time fit;
    ``aligned`` picks the metrics of the aligned panel (default: ``companion_metrics``)."""
    from emergence_jax.analysis.emergence_fit import EmergenceTimeFit
    time_fit = fit if isinstance(fit, EmergenceTimeFit) else None
    if time_fit is not None:
        times = time_fit.data
    else:
        times = emergence_times(run, criterion, scale_variable)
    shown, tables = [], {}
    if len(run.eval_steps) >= 2:
        _survival_figure(times, time_fit, out / "emergence_times.png")
        rows = survival_rows(times, time_fit)
        tables["emergence_times"] = rows
        cols = list(rows[0])
        shown.append(("emergence_times.png", "Time to emergence",
                      f"Left: share of seeds that have emerged ({criterion}, for good) by each "
                      "step, per scale point — Kaplan–Meier with its 95% Greenwood band; dashed: "
                      "the emergence-time fit with its credible band. Right: each seed's "
                      "emergence step (triangles: censored at the budget).", rows, cols))
    if time_fit is not None:
        check = time_fit.predictive_check()
        tables["emergence_time_predictive_check"] = check
    by_point = {}
    for c in curves(run, criterion.metric):
        kept = c.kept
        first_t, event = _emergence(c, criterion)
        by_point[c.point] = (kept, first_t, event)
    metrics = aligned or companion_metrics(run, criterion)
    if any(e.any() for _, _, e in by_point.values()) and len(run.eval_steps) >= 3:
        _aligned_figure(run, by_point, metrics, criterion, out / "aligned.png")
        rows = aligned_rows(run, by_point, metrics)
        tables["aligned"] = rows
        shown.append(("aligned.png", "Metrics aligned at the emergence step",
                      "Each thin line is one seed that emerged, shifted so that its emergence "
                      "step is 0; thick: median per scale point. `largest_jump_lag` is where the "
                      "median curve changes most (0: together with the capability).", rows,
                      ["metric", "scale_point", "seeds", "before", "at", "after",
                       "largest_jump_lag"]))
    for prefix, members in metric_families(run).items():
        name = prefix.replace("/", "_")
        _family_figure(run, members, out / f"family_{name}.png")
        rows = family_rows(run, members)
        tables[f"family_{name}"] = rows
        shown.append((f"family_{name}.png", f"{prefix}{{i}} over training",
                       "Each panel is one seed, one line per member. `dropped`: share of the "
                       "curves that fall below 10% of their starting value for good; "
                       "`one_at_a_time`: share of a seed's consecutive drops at different "
                       "evaluations; `gap_median`: median steps between consecutive drops.",
                       rows, list(rows[0]) if rows else []))
    if (run.config.get("task", {}) or {}).get("name") == "skills":
        rows = skill_rows(run)
        if rows:
            _skills_figure(run, rows, out / "skills.png")
            tables["skills"] = rows
            shown.append(("skills.png", "Skill composition against the theory",
                          "Competence on k-tuples of skills (circles: tuples seen in training; "
                          "crosses: held out) against each seed's single-skill competence c₁, "
                          "with the theory's guaranteed lower bound 1 − k(1 − c₁) and the "
                          "independent-failure value c₁^k; the means per scale point; and the "
                          "theory's guaranteed share of k′-tuples with competence ≥ 0.8 against "
                          "the failure measure θ.", rows, list(rows[0])))
    return shown, tables


def _emergence(c: PointCurves, criterion: SuccessCriterion) -> tuple[np.ndarray, np.ndarray]:
    """(emergence step, event) of one point's kept seeds."""
    from emergence_jax.analysis.emergence import emergence_steps
    return emergence_steps(c.values[c.kept], c.steps, criterion)
