"""The documentation: README.md and docs/ (plain Markdown pages, readable on GitHub, plus an API
reference built by mkdocs + mkdocstrings from the docstrings).

Checks that the site builds with warnings as errors, that every relative link and image points to
a file that exists, that the README stays short and starts with the two commands a new user needs,
and that no page refers to planning documents that are not in the repository.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

# The two commands of a fresh machine, in this order (.ci/run runs exactly the second one).
FIRST_COMMANDS = [
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
    "emergence-jax run experiments/quickstart.py",
    "python -m pytest -q -n 2 tests",
]
README_MAX_LINES = 250
# Files that are not in the repository and must not be referred to.
ABSENT_FILES = ("PAPERS" + ".md", "DESIGN" + ".md")

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# [text](target) and ![alt](target), with an optional "title" after the target.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_SRC = re.compile(r"""<(?:img|a)\b[^>]*\b(?:src|href)=["']([^"']+)["']""", re.IGNORECASE)


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code (links there are not links)."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _targets(text: str) -> list[str]:
    prose = _prose(text)
    return _LINK.findall(prose) + _HTML_SRC.findall(prose)


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)) or target.startswith("//")


def test_docs_exist():
    names = {p.name for p in DOCS.glob("*.md")}
    for page in ("architecture.md", "training.md", "run-store.md", "statistics.md", "cli.md",
                 "launching.md", "benchmarks.md"):
        assert page in names, f"docs/{page} is missing"
    for layer in ("core", "io", "analysis", "app"):
        assert (DOCS / "api" / f"{layer}.md").is_file(), f"docs/api/{layer}.md is missing"


def test_relative_links_and_images_exist():
    broken = []
    checked = 0
    for page in _pages():
        for target in _targets(page.read_text(encoding="utf-8")):
            if _is_external(target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0].split("?", 1)[0]
            if not path:
                continue
            checked += 1
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert checked > 20, f"only {checked} relative links found; is the link pattern right?"
    assert not broken, "relative links to missing files:\n" + "\n".join(broken)


def test_link_pattern_finds_links_and_skips_code():
    text = ("See [a](docs/a.md#x) and ![img](docs/images/b.png \"t\").\n"
            "`[not](a-link.md)`\n```\n[nor](this.md)\n```\n<img src=\"c.png\">\n")
    assert _targets(text) == ["docs/a.md#x", "docs/images/b.png", "c.png"]


def test_readme_is_short_and_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    block = _FENCE.search(text)
    assert block is not None, "README.md has no code block"
    body = block.group(0).splitlines()[1:-1]
    commands = [line.strip() for line in body if line.strip()]
    assert commands == FIRST_COMMANDS
    assert "`.ci/run`" in text and "exactly the test command" in text
    ci = ROOT / ".ci" / "run"
    if ci.is_file():  # CI runs exactly the README's test command
        assert FIRST_COMMANDS[1] in ci.read_text(encoding="utf-8").splitlines()


def test_no_references_to_absent_files():
    offenders = []
    for page in [README, *sorted(p for p in DOCS.rglob("*") if p.is_file())]:
        if page.suffix.lower() in {".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico"}:
            continue
        text = page.read_text(encoding="utf-8", errors="replace").lower()
        offenders += [f"{page.relative_to(ROOT)}: {name}" for name in ABSENT_FILES
                      if name.lower() in text]
    assert not offenders, "references to files not in the repository:\n" + "\n".join(offenders)


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    assert "WARNING" not in result.stderr, result.stderr
    for page in ("index.html", "training/index.html", "statistics/index.html",
                 "api/core/index.html", "api/analysis/index.html"):
        assert (site / page).is_file(), f"{page} was not built"
    # The API pages are generated from the docstrings, not left empty.
    api = (site / "api" / "analysis" / "index.html").read_text(encoding="utf-8")
    assert "fit_distribution" in api and "FittedDistribution" in api
