"""The built-in transfer atlas of all-MiniLM-L6-v2: `auxlearn atlas examples/atlas/minilm.yaml`, resumable across
sessions and machines.

Run folders live in ``bench/work/atlas`` (not committed); after every cell the atlas document is copied to
``bench/results/atlas.json`` (committed), which a fresh clone's run imports back, so no finished cell is trained
twice. When the atlas is complete, ``--ship`` writes the package's built-in copy (the summaries, each task's
sentence embedding for the ``atlas`` selector, no per-run details) to ``src/auxlearn/atlas/builtin/``.

Run: AUXLEARN_DATA_DIR=../shared/data nohup .venv/bin/python bench/atlas.py > bench/work/atlas.log 2>&1 &
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import datasets
import transformers

from auxlearn.atlas.config import load_atlas
from auxlearn.atlas.worker import run_atlas
from auxlearn.atlas.table import builtin_file
from auxlearn.io import read_json, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "atlas" / "minilm.yaml"
WORK = ROOT / "bench" / "work" / "atlas"
RESULT = ROOT / "bench" / "results" / "atlas.json"


def main() -> None:
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-cells", type=int)
    parser.add_argument("--ship", action="store_true", help="write the package's built-in copy of a complete atlas")
    args = parser.parse_args()
    if args.ship:
        ship()
        return
    atlas = load_atlas(CONFIG)
    WORK.mkdir(parents=True, exist_ok=True)
    if RESULT.is_file() and not (WORK / "atlas.json").is_file():
        shutil.copyfile(RESULT, WORK / "atlas.json")  # a fresh clone: the committed cells are imported, not retrained
    doc = run_atlas(atlas, WORK, max_cells=args.max_cells, log=lambda line: print(line, flush=True),
                    after_cell=lambda document: write_json_atomic(RESULT, document))
    write_json_atomic(RESULT, doc)
    print(f"{doc['cells_done']} of {doc['cells_planned']} cells; {doc['seconds']['total'] / 3600:.2f} h", flush=True)
    sys.exit(0)


def ship() -> None:
    """The package's built-in atlas: everything but the per-run list (the summaries, the embeddings, the cost)."""
    doc = read_json(RESULT)
    if not doc["complete"]:
        raise SystemExit(f"{RESULT}: {doc['cells_done']} of {doc['cells_planned']} cells; finish the atlas first")
    shipped = {k: v for k, v in doc.items() if k != "runs"}
    path = builtin_file(doc["encoder"])
    write_json_atomic(path, shipped)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
