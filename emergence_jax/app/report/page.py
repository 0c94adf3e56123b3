"""The report's index: Markdown (``index.md``, readable on GitHub and in a terminal) and the same
text rendered to HTML (``index.html``) with Python-Markdown's tables and fenced-code extensions."""

from __future__ import annotations

import html
import math

__all__ = ["markdown_table", "to_html"]

_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
          "font-size:13px}pre{background:#f4f4f4;padding:8px}img{max-width:100%}")


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "nan" if math.isnan(v) else (f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}")
        return str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def to_html(markdown_text: str, title: str) -> str:
    """A standalone HTML page of ``markdown_text``."""
    import markdown
    body = markdown.markdown(markdown_text, extensions=["tables", "fenced_code"],
                             output_format="html")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")
