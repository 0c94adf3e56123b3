"""The notebooks in experiments/ run top to bottom (on tiny settings), and each .ipynb is in sync
with its reviewable jupytext twin (.py, percent format)."""

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
NOTEBOOKS = ["quickstart_notebook", "fit_your_csv_notebook"]
TINY_STUDY = ("train.steps=40 train.eval_every=20 train.evals_per_chunk=2 train.batch_size=8 "
              "population.num_seeds=6 model.depth=1 model.heads=2 task.eval_examples=32 "
              "analysis.warmup=100 analysis.samples=100 analysis.chains=2 "
              "sweep.axes={'model.width':[8,16]}")


def code_cells(nb):
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_ipynb_matches_its_text_twin(name):
    text = jupytext.read(EXPERIMENTS / f"{name}.py")
    stored = nbformat.read(EXPERIMENTS / f"{name}.ipynb", as_version=4)
    assert code_cells(text) == code_cells(stored), f"run: jupytext --sync experiments/{name}.py"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, tmp_path, monkeypatch):
    monkeypatch.setenv("EMERGENCE_JAX_OVERRIDES", TINY_STUDY)
    monkeypatch.setenv("EMERGENCE_JAX_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("EMERGENCE_JAX_SAMPLES", "100")
    monkeypatch.setenv("EMERGENCE_JAX_EXPERIMENT", str(EXPERIMENTS / "quickstart.py"))
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    nb = jupytext.read(EXPERIMENTS / f"{name}.py")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "P(success)" in outputs and "breakthrough" in outputs
