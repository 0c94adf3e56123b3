"""Shared helpers for benchmarks: machine description and result files."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import jax
    devices = jax.devices()
    return {
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d"),
        # Other work on the machine skews CPU timings; the 1/5/15-minute load average says how much.
        "load_average": list(os.getloadavg()),
    }


def write_results(name: str, rows: list[dict], extra: dict | None = None, *,
                  suffix: str | None = None, machine_info: dict | None = None,
                  path: str | Path | None = None) -> Path:
    """Writes ``{"machine": ..., **extra, "rows": rows}`` to ``path`` (default
    ``results/<name>_<suffix or platform>.json``)."""
    info = machine() if machine_info is None else machine_info
    if path is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{name}_{suffix or info['platform']}.json"
    path = Path(path)
    path.write_text(json.dumps({"machine": info, **(extra or {}), "rows": rows}, indent=2))
    return path


def print_table(rows: list[dict], columns: list[str]) -> None:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)
    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))
