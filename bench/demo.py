"""`make demo`'s job, timed and summarised: `auxlearn run examples/demo.yaml` with a cold tokenization cache and
nothing else running; records the wall time, each stage's seconds, the plan's estimate against them, and the report's comparisons (final vs
baseline and vs control: mean, 95 % paired t interval, p-value, seeds improved).

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/demo.py   (17 to 35 minutes on two cores)
Writes bench/results/demo.json (one entry per run, appended, so repeated runs show the spread).
"""

from __future__ import annotations

import os
from dataclasses import asdict
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auxlearn.io import read_json, write_json_atomic
from auxlearn.stats import paired_t

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "demo.json"


def comparison(reference: dict, candidate: dict) -> dict:
    """``candidate`` − ``reference`` seed by seed, with its paired t analysis."""
    return asdict(paired_t(reference, candidate))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as work:
        env = {**os.environ, "AUXLEARN_CACHE": str(Path(work) / "cache")}
        run_dir = Path(work) / "run"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "auxlearn.cli", "run", str(ROOT / "examples" / "demo.yaml"),
                        "--out", str(run_dir), "--set", "train.progress=false"], check=True, env=env)
        wall = time.perf_counter() - started
        results = read_json(run_dir / "results.json")
    stages = results["stages"]
    estimated = results.get("plan", {}).get("estimated_seconds", {}).get("total")
    entry = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "wall_seconds": round(wall, 1),
        "stage_seconds": {k: round(v, 1) for k, v in results["seconds"].items()},
        # the plan's estimate (issue 30: within 25 % of the run's own seconds, the tokenization before it excluded)
        "estimated_seconds": estimated,
        "estimate_error": estimated / results["seconds"]["total"] - 1 if estimated else None,
        "config": results["config"],
        "eval": {arm: stages[arm]["eval"] for arm in ("baseline", "control", "final") if arm in stages},
        "final_vs_baseline": comparison(stages["baseline"]["eval"], stages["final"]["eval"]),
        **({"final_vs_control": comparison(stages["control"]["eval"], stages["final"]["eval"])}
           if "control" in stages else {}),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    doc = read_json(OUT) if OUT.is_file() else {"what": __doc__.strip().splitlines()[0], "runs": []}
    doc["runs"].append(entry)
    write_json_atomic(OUT, doc)
    print(f"{wall / 60:.1f} min; final - baseline {entry['final_vs_baseline']}")


if __name__ == "__main__":
    main()
