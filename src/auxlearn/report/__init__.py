"""`auxlearn report RUN_DIR | STUDY_DIR | ATLAS_DIR`: what one run (a study of several, an atlas) found, at a glance.

It writes report.html (one self-contained file) and report.md.

``write_report(run_dir)`` reads the run folder (``report_kit/run_data.py``), computes the statistics
(``auxlearn/stats.py``), builds the content (content.py: the verdict from verdict.py, each method's own sections
through method_reports.py) out of the kit's blocks with its figures, and renders it (the kit's html.py and
markdown.py); every file is written atomically. A folder of `auxlearn atlas` (atlas.json, no results.json) gets
the atlas's report (atlas_report.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

from auxlearn.errors import AuxlearnError, DamagedFileError
from auxlearn.io import read_json_mapping, write_bytes_atomic, write_text_atomic
from auxlearn.report.atlas_report import build_atlas_report
from auxlearn.report.content import build_report
from auxlearn.report.fewshot_report import build_fewshot_report
from auxlearn.report.model_cards import write_run_cards
from auxlearn.report.study import build_study_report, find_runs
from auxlearn.report_kit.blocks import Report
from auxlearn.report_kit.html import render_html
from auxlearn.report_kit.markdown import render_markdown
from auxlearn.report_kit.run_data import RunData, load_run


def write_report(run_dir: str | os.PathLike) -> Path:
    """Write ``report.html``, ``report.md`` and ``report_figures/*.png`` into ``run_dir``; return report.html.

    A folder without results.json but with run folders below it is a study (study.py): each run gets its
    own report, and the folder a report that compares them. One with atlas.json is an atlas (atlas_report.py); the
    runs of its cells below it get no report of their own.
    """
    run_dir = Path(run_dir)
    if (run_dir / "results.json").is_file() or not run_dir.is_dir():
        return _write_run(run_dir)[0]
    if (run_dir / "atlas.json").is_file():
        return _write(run_dir, build_atlas_report(run_dir / "atlas.json"))
    run_dirs = find_runs(run_dir)
    if not run_dirs:
        raise AuxlearnError(f"{run_dir} holds no results.json, neither its own (a run folder) nor below it "
                            "(a study of several runs)")
    runs = [_write_run(folder)[1] or load_run(folder) for folder in run_dirs]  # each run read once
    return _write(run_dir, build_study_report(run_dir, runs))


def _write_run(run_dir: Path) -> tuple[Path, Optional[RunData]]:
    """The report of a run folder, and for a folder of `auxlearn run` its final models' cards, with what the run
    found; report.html, and the run as read (None for a folder of `auxlearn adapt`)."""
    try:
        report, run = _build(run_dir)
    except AuxlearnError:  # a damaged file the report reads besides results.json names itself
        raise
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        # load_run checked the structure it reads; the report reads much more of a run's results
        raise DamagedFileError(f"{run_dir / 'results.json'}: cannot build the report from it "
                               f"({type(error).__name__}: {error}); damaged, or written by another "
                               "version of auxlearn") from None
    written = _write(run_dir, report)
    if run is not None:
        write_run_cards(run)
    return written, run


def _build(run_dir: Path) -> tuple[Report, Optional[RunData]]:
    """The report of a run folder: of `auxlearn adapt` (results.json of kind ``fewshot``) or of `auxlearn run`,
    with the run it read (None for `adapt`)."""
    if (run_dir / "results.json").is_file():
        results = read_json_mapping(run_dir / "results.json")
        if results.get("kind") == "fewshot":
            return build_fewshot_report(results), None
    run = load_run(run_dir)
    return build_report(run), run


def _write(folder: Path, report) -> Path:
    markdown, figures = render_markdown(report)
    for relative, png in figures.items():
        write_bytes_atomic(folder / relative, png)
    write_text_atomic(folder / "report.md", markdown)
    return write_text_atomic(folder / "report.html", render_html(report, str(folder)))


class _ReportPackage(ModuleType):
    """This package, called: ``auxlearn.report(run_dir)`` is ``write_report(run_dir)``. The front door's verb has
    the package's name, and a package's attribute is the package once it is imported (``auxlearn/__init__.py``)."""

    def __call__(self, run_dir: str | os.PathLike) -> Path:
        return write_report(run_dir)


sys.modules[__name__].__class__ = _ReportPackage

__all__ = ["write_report"]
