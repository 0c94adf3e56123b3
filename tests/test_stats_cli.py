import numpy as np

from emergence_jax.app.cli import main
from emergence_jax.analysis import load_fit
from emergence_jax.analysis.data import SeedData


def test_simulate_then_fit_cli(tmp_path, capsys):
    csv = tmp_path / "pop.csv"
    assert main(["simulate", str(csv), "--preset", "emergent", "--seeds", "60", "--n-eval", "50",
                 "--scales", ",".join(str(s) for s in np.logspace(5, 7.5, 6))]) == 0
    data = SeedData.from_csv(csv)
    assert len(data) == 360
    out = tmp_path / "fit"
    rc = main(["fit", str(csv), "--out", str(out), "--model", "mixture", "--chains", "2",
               "--warmup", "200", "--samples", "200", "--no-progress", "--no-compare"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "P(success)" in text and "dip p" in text
    fit = load_fit(out)
    assert fit.model == "mixture"
    assert len(fit.seed_success_probability()) == 360


def test_fit_cli_reports_bad_csv(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("scale,seed,value\n1e6,0,2.0\n")
    assert main(["fit", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "row 2" in err and "'value'" in err


def test_fit_cli_warns_on_misfit(tmp_path, capsys):
    """A P(success) curve that cannot follow the data: the CLI says so on stderr, as loudly as
    it reports failed diagnostics."""
    rng = np.random.default_rng(5)
    z = np.repeat(np.linspace(-1, 1, 12), 30)
    ok = rng.random(z.size) < np.where(z < -0.2, 0.02, 0.6)      # a jump, then a plateau
    csv = tmp_path / "jump.csv"
    SeedData.from_arrays(np.exp(10 + 3 * z), np.where(ok, 0.9, 0.1)).to_csv(csv)
    assert main(["fit", str(csv), "--curve", "logistic", "--threshold", "0.5", "--chains", "2",
                 "--warmup", "200", "--samples", "200", "--no-progress", "--no-compare"]) == 0
    out, err = capsys.readouterr()
    assert "hurdle fit" in out and "curve: logistic" in out
    assert "WARNING: predictive check FAILED" in err
