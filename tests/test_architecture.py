"""The package's layers import in one direction (core <- io <- analysis <- app), configs import no
task code, and reading stores imports no JAX: the import-linter contracts in pyproject.toml hold,
and a deliberate violation makes them fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root`` with ``root``'s pyproject.toml."""
    env = dict(os.environ, PYTHONPATH=str(root))
    script = "import sys; from importlinter.cli import lint_imports_command; " \
             "sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", script, "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_import_contracts_hold():
    proc = _lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("core/model.py", "from emergence_jax.app.sweep import run_sweep", "Layers"),
    ("io/run_store.py", "from emergence_jax.analysis.outcomes import seed_data", "Layers"),
    ("core/config/sections.py", "from emergence_jax.core.tasks import make_task", "Configs"),
    ("analysis/outcomes.py", "import jax", "Reading run stores"),
])
def test_a_violation_breaks_the_contracts(tmp_path, module, line, contract):
    copy = tmp_path / "checkout"
    copy.mkdir()
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(REPO / "emergence_jax", copy / "emergence_jax",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "emergence_jax" / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate violation\n")
    proc = _lint_imports(copy)
    assert proc.returncode != 0
    broken = [ln for ln in proc.stdout.splitlines() if ln.endswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(contract), proc.stdout
