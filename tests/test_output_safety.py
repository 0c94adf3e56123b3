"""Nothing written is lost: every command writes only its own files into the place it is given
(`--out mywork` holding a thesis, `--out .`, `--out ~`, a symlinked directory) and replaces only
its own earlier results."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from emergence_jax.app import cli
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import RunStore

sys.path.insert(0, str(Path(__file__).parent))
from test_store import _fill, _meta  # noqa: E402

CSV = "".join(["scale,seed,value,n_eval\n"] + [
    f"{scale},{seed},{(seed * 7 % 11) / 10 if scale > 1e6 else (seed % 3) / 10},10\n"
    for scale in (1e6, 4e6) for seed in range(12)])
QUICK_FIT = ["--method", "svi", "--svi-steps", "30", "--chains", "1", "--samples", "20",
             "--no-compare", "--no-progress"]


def _mywork(mywork: Path) -> Path:
    """A folder of the user's own work."""
    mywork.mkdir(parents=True, exist_ok=True)
    (mywork / "thesis.tex").write_text("\\chapter{Results}\n")
    (mywork / "figures").mkdir()
    (mywork / "figures" / "plot.pdf").write_bytes(b"%PDF")
    return mywork


def _untouched(mywork: Path) -> None:
    assert (mywork / "thesis.tex").read_text() == "\\chapter{Results}\n"
    assert (mywork / "figures" / "plot.pdf").read_bytes() == b"%PDF"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """`emergence-jax fit data.csv --out mywork` with the user's thesis in mywork (the data-loss
    case of the reliability issue): the fit is written beside it."""
    root = tmp_path_factory.mktemp("fit")
    (root / "data.csv").write_text(CSV)
    mywork = _mywork(root / "mywork")
    assert cli.main(["fit", str(root / "data.csv"), "--out", str(mywork), *QUICK_FIT]) == 0
    from emergence_jax.analysis import load_fit
    return root, load_fit(mywork)


def test_fit_into_a_folder_with_the_users_files(fitted):
    root, fit = fitted
    mywork = root / "mywork"
    _untouched(mywork)
    assert sorted(p.name for p in mywork.iterdir()) == ["figures", "fit.json", "posterior.npz",
                                                        "thesis.tex"]
    fit.save(mywork)  # replacing the earlier fit replaces only its two files
    _untouched(mywork)
    assert sorted(p.name for p in root.iterdir()) == ["data.csv", "mywork"]  # nothing beside it


def test_fit_into_cwd_home_and_a_symlink(fitted, tmp_path, monkeypatch):
    _, fit = fitted
    cwd = _mywork(tmp_path / "cwd")
    monkeypatch.chdir(cwd)
    assert fit.save(".") == cwd
    home = _mywork(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    assert fit.save("~") == home
    target = _mywork(tmp_path / "target")
    (tmp_path / "link").symlink_to(target, target_is_directory=True)
    assert fit.save(tmp_path / "link") == target
    for folder in (cwd, home, target):
        _untouched(folder)
        assert {"fit.json", "posterior.npz"} <= {p.name for p in folder.iterdir()}
    assert (tmp_path / "link").is_symlink()


def test_report_beside_the_users_files_and_replacing_its_own(tmp_path, capsys):
    _fill(RunStore.create(Location(tmp_path / "run"), _meta()), np.random.default_rng(0))
    mywork = _mywork(tmp_path / "mywork")
    for _ in range(2):  # the second report replaces the first's files, and only those
        assert cli.main(["report", str(tmp_path / "run"), "--out", str(mywork)]) == 0
    _untouched(mywork)
    assert {"index.md", "index.html", "tables.json", "p_success.png"} <= {
        p.name for p in mywork.iterdir()}
    assert not [p for p in mywork.iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()


def test_sweep_and_run_refuse_folders_holding_other_files(tmp_path, monkeypatch, capsys):
    experiment = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.py"
    home = _mywork(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    cwd = _mywork(tmp_path / "cwd")
    monkeypatch.chdir(cwd)
    for command, out in (("sweep", "~"), ("run", "."), ("sweep", str(cwd))):
        assert cli.main([command, str(experiment), "--out", out, "--no-progress",
                         "--set", "population.num_seeds=2"]) == 2
        err = capsys.readouterr().err
        assert "exists and is not a run store" in err and "Traceback" not in err
    for folder in (home, cwd):
        _untouched(folder)
        assert sorted(p.name for p in folder.iterdir()) == ["figures", "thesis.tex"]


def test_simulate_replaces_a_file_only_when_asked(tmp_path, capsys):
    target = tmp_path / "data.csv"
    target.write_text("my,own\n")
    assert cli.main(["simulate", str(target), "--seeds", "3"]) == 2
    assert "--overwrite" in capsys.readouterr().err and target.read_text() == "my,own\n"
    assert cli.main(["simulate", str(target), "--seeds", "3", "--overwrite"]) == 0
    assert target.read_text().startswith("scale,seed,value")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]
