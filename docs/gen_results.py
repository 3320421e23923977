"""The tables of the "Measured results" pages, built from ``bench/results/*.json``, so that no figure is typed twice.

A page marks where a table goes with an HTML comment alone on its line, ``<!-- table: demo -->``. This file is a
MkDocs hook (``hooks:`` in mkdocs.yml): when the site builds, ``on_page_markdown`` replaces every marker with the
table built from the JSON files, as they are at that moment (``bench/results/atlas.json`` grows while the atlas is
computed). A marker of no known table, or a missing or damaged JSON file, is a warning, so ``mkdocs build --strict``
fails on it; only ``selectors.json`` and ``run_defaults.json`` may be absent (both wait for the atlas), and the
page says so.

Run it alone to print the tables: ``.venv/bin/python docs/gen_results.py [name ...]``.

It reads JSON only and imports nothing of auxlearn (whose modules may move, and import torch). Words that describe
a table (labels, which machine ran what) are written in ``results_tables/``; every figure comes from a JSON file,
or, for a bench's settings, from the example file it ran.

The tables themselves live in the package ``results_tables/`` next to this file (one module per results page,
plus ``common`` for the shared formatting), so that no module grows past the project's size rule.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

# MkDocs loads a hook by file path; put this folder on sys.path so its sibling package imports the same way whether
# MkDocs or ``python docs/gen_results.py`` runs it. Dropping a cached copy first lets ``mkdocs serve`` pick up edits.
sys.path.insert(0, str(Path(__file__).resolve().parent))
for _module in [m for m in sys.modules if m == "results_tables" or m.startswith("results_tables.")]:
    del sys.modules[_module]

from results_tables import TABLES, render  # noqa: E402

MARKER = re.compile(r"^<!-- table: ([\w-]+) -->[ \t]*$", re.MULTILINE)


def on_page_markdown(markdown: str, page, **_: Any) -> str:
    """MkDocs hook: replace each ``<!-- table: name -->`` line with its table."""
    return MARKER.sub(lambda m: render(m.group(1), page.file.src_path), markdown)


if __name__ == "__main__":
    import logging

    logging.basicConfig(format="%(levelname)s %(message)s")
    for key in sys.argv[1:] or TABLES:
        print(f"## {key}\n\n{render(key, 'command line')}\n")
