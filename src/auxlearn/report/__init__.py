"""`auxlearn report RUN_DIR`: what a run found, at a glance, as report.html (self-contained) and report.md.

``write_report(run_dir)`` reads the run folder (data.py), computes the statistics (stats.py), builds the
content (content.py) with its figures (plots.py) and renders it (html.py, markdown.py); every file is
written atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from auxlearn.io import write_text_atomic


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(run_dir: str | os.PathLike) -> Path:
    """Write ``report.html``, ``report.md`` and ``report_figures/*.png`` into ``run_dir``; return report.html."""
    from auxlearn.report.content import build_report
    from auxlearn.report.data import load_run
    from auxlearn.report.html import render_html
    from auxlearn.report.markdown import render_markdown

    run_dir = Path(run_dir)
    report = build_report(load_run(run_dir))
    markdown, figures = render_markdown(report)
    for relative, png in figures.items():
        _write_bytes_atomic(run_dir / relative, png)
    write_text_atomic(run_dir / "report.md", markdown)
    return write_text_atomic(run_dir / "report.html", render_html(report, str(run_dir)))


__all__ = ["write_report"]
