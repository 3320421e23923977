"""The files of a run folder that a later command reads back (`run --baseline-from` the results, `report` them),
checked before any work: a damaged or foreign one is a DamagedFileError naming the file and the key, where the
pipeline would fail with a TypeError or a KeyError, possibly after training. The selection's own check is beside
the code that writes it (``pipeline.check_selection_file``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auxlearn.errors import AuxlearnError, DamagedFileError
from auxlearn.io import read_json_mapping


def check_run_results(path: Path, need: str) -> dict[str, Any]:
    """The results.json of a finished `auxlearn run`, with the stages in ``need`` ("baseline final")."""
    if not path.is_file():
        raise AuxlearnError(f"{path} not found (the folder of a finished `auxlearn run`)")
    results = read_json_mapping(path)
    if "stages" not in results and "primary" in results:
        raise DamagedFileError(f"{path} has no 'stages': it is the folder of one trained model (`auxlearn train`), "
                               "not of `auxlearn run`")
    check_value(path, "primary", results.get("primary"), str, "the primary task's name")
    check_value(path, "stages", results.get("stages"), dict, "a mapping of stage names to their results")
    for stage in need.split():
        check_value(path, f"stages.{stage}", results["stages"].get(stage), dict, f"the {stage} stage's results")
    return results


def check_baseline_source(source: Path) -> dict[str, Any]:
    """The baseline stage of the run folder of ``run --baseline-from``, checked as the pipeline reuses it."""
    try:
        path = source / "results.json"
        baseline = check_run_results(path, "baseline")["stages"]["baseline"]
        check_value(path, "stages.baseline.seconds", baseline.get("seconds"), (int, float), "the baseline's seconds")
        check_value(path, "stages.baseline.identity", baseline.get("identity", {}), dict, "what the baseline trained")
    except AuxlearnError as error:
        raise AuxlearnError(f"--baseline-from {source}: {error}") from None
    return baseline


def check_value(path: Path, key: str, value: Any, kind: type | tuple, what: str) -> None:
    """``value``, read at ``key`` of the run file ``path``, is a ``kind`` (``what`` says what it should be)."""
    if not isinstance(value, kind):
        found = "nothing" if value is None else f"a {type(value).__name__}"
        raise DamagedFileError(f"{path}: {key} should be {what}, found {found}; damaged, or not a file auxlearn wrote")
