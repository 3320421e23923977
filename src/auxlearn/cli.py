"""The `auxlearn` command line: one thin function per command over the Python API.

Bad input raises AuxlearnError; ``main`` prints its message and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from pathlib import Path
from typing import Optional

from auxlearn.allocator import return_freed_memory
from auxlearn.errors import AuxlearnError
from auxlearn.version import __version__


def cmd_tasks(args) -> int:
    from auxlearn.inspect_tasks import format_task_table, task_table

    print(format_task_table(task_table(data_dir=args.data_dir, task_files=args.task_file or [])))
    return 0


def cmd_train(args) -> int:
    from auxlearn.experiment import train_experiment
    from auxlearn.train.launch import is_main_process

    exp = _experiment(args)
    out = _run_dir(args, exp)
    results = train_experiment(exp, out)
    if not is_main_process():  # one of several training processes: the main one reports
        return 0
    primary = results["eval"][exp.primary]
    print(f"{exp.primary} eval: " + ", ".join(f"{k}={v:.4f}" for k, v in primary.items()))
    if exp.auxiliary:
        print(f"protocol {results['protocol']} ({results['protocol_rule']}); "
              + "; ".join(f"{p['label']} {p['steps']} steps" for p in results["phases"]))
    print(f"best dev step {results['best_step']} of {results['phases'][-1]['steps']}; {results['steps']} steps, "
          f"{results['primary_steps']} of the primary; {results['seconds']:.0f} s; results in {out / 'results.json'}")
    return 0


def _experiment(args):
    """The config with ``--set`` overrides; ``--storage`` is short for ``--set mix.storage=URL``."""
    from auxlearn.config_files import load_experiment
    from auxlearn.train.launch import process_count

    if args.command != "train" and process_count() > 1:
        raise AuxlearnError(f"auxlearn {args.command} trains many models one after another and runs in one process; "
                            "several processes (accelerate launch) train one model: auxlearn train")

    overrides = list(args.set or [])
    if getattr(args, "storage", None):
        overrides.append(f"mix.storage={json.dumps(args.storage)}")  # a string, whatever YAML would make of it
    return load_experiment(args.config, overrides, data_dir=args.data_dir)


def _run_dir(args, exp) -> Path:
    from auxlearn.train.tracking import announce

    folder = _hold(args, Path(args.out or Path("runs") / exp.name))
    announce(exp.train.log_with, folder)  # where the trackers write, said before anything trains
    return folder


def _hold(args, folder: Path) -> Path:
    """The output folder checked and held until the command ends (``hold_folder``); ``main`` holds --out first."""
    from auxlearn.folder_lock import hold_folder
    from auxlearn.train.launch import is_main_process

    if getattr(args, "folder", None) is None:
        args.folder = hold_folder(args.held, folder, f"auxlearn {args.command}", is_main_process())
    return args.folder


def cmd_select(args) -> int:
    from auxlearn.pipeline import check_candidates, run_select

    exp = _experiment(args)
    check_candidates(exp, "select")
    selection = run_select(exp, _run_dir(args, exp))
    print(f"selected ({selection.method}): {', '.join(selection.selected) or 'no auxiliary task'}")
    for task, score in sorted(selection.scores.items(), key=lambda kv: -kv[1]):
        print(f"  {task:<18}{score:>8.4f}")
    return 0


def cmd_mix(args) -> int:
    from auxlearn.pipeline import check_selection_file, run_mix

    exp = _experiment(args)
    run_dir = _run_dir(args, exp)
    check_selection_file(run_dir)  # what run_mix reads back, checked before it loads any data
    mixture = run_mix(exp, run_dir)
    print(f"ratios ({mixture.method}): " + ", ".join(f"{t} {r:g}" for t, r in mixture.ratios.items()))
    return 0


def cmd_run(args) -> int:
    from auxlearn.pipeline import plan_pipeline, run_pipeline
    from auxlearn.run_summary import summary_table
    from auxlearn.run_files import check_baseline_source
    from auxlearn.run_plan import format_plan

    exp = _experiment(args)
    if args.dry_run:  # the checks and the plan that start a run; nothing trains, no folder is written
        print(format_plan(plan_pipeline(exp, args.baseline_from)))
        return 0
    run_dir = _run_dir(args, exp)
    if args.baseline_from:  # read back once the pipeline has started writing: checked before it does
        check_baseline_source(Path(args.baseline_from))
    results = run_pipeline(exp, run_dir, baseline_from=args.baseline_from)
    print(summary_table(results))
    print(f"results in {run_dir / 'results.json'}")
    _report(run_dir)
    return 0


def cmd_adapt(args) -> int:
    from auxlearn.fewshot.adaptation import comparison_table, run_fewshot

    exp = _experiment(args)
    run_dir = _run_dir(args, exp)
    print(comparison_table(run_fewshot(exp, run_dir), exp.primary))
    print(f"results in {run_dir / 'results.json'}")
    _report(run_dir)
    return 0


def cmd_atlas(args) -> int:
    from auxlearn.atlas.config import load_atlas
    from auxlearn.atlas.worker import run_atlas

    overrides = list(args.set or [])
    if args.storage:
        overrides.append(f"atlas.storage={json.dumps(args.storage)}")
    atlas = load_atlas(args.config, overrides, data_dir=args.data_dir)
    out = _hold(args, Path(args.out or Path("runs") / atlas.name))
    doc = run_atlas(atlas, out, max_cells=args.max_cells)
    print(f"atlas: {doc['cells_done']} of {doc['cells_planned']} cells done"
          + ("" if doc["complete"] else " (re-run to go on)") + f"; {out / 'atlas.json'}")
    _report(out)
    return 0


def _report(run_dir: Path) -> None:
    from auxlearn.report import write_report

    try:
        print(f"report in {write_report(run_dir)}")
    except Exception as error:  # the results are written; a failed report must not hide them
        print(f"auxlearn: warning: the report failed ({type(error).__name__}: {error}); "
              f"retry with `auxlearn report {run_dir}`", file=sys.stderr)


def cmd_report(args) -> int:
    from auxlearn.report import write_report

    print(f"report in {write_report(args.run_dir)}")
    return 0


def cmd_evaluate(args) -> int:
    from auxlearn.inference import evaluate_model

    print(json.dumps(evaluate_model(args.model_dir, task=args.task, split=args.split, data_dir=args.data_dir),
                     indent=2))
    return 0


def cmd_predict(args) -> int:
    from auxlearn.inference import predict_file
    from auxlearn.io import check_writable

    if args.output:
        if Path(args.output).is_dir():
            raise AuxlearnError(f"--output {args.output} is a folder; give a file name")
        try:
            check_writable(Path(args.output).parent)
        except AuxlearnError as error:
            raise AuxlearnError(f"--output {args.output}: {error}") from None

    count = predict_file(args.model_dir, task=args.task, input_path=args.input, output_path=args.output,
                         invalid_utf8=args.invalid_utf8)
    if args.output:
        print(f"wrote {count} predictions to {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auxlearn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"auxlearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the known tasks with their sizes and metrics")
    p.add_argument("--data-dir", help="offline mirror in the hub's layout (default: $AUXLEARN_DATA_DIR)")
    p.add_argument("--task-file", action="append", help="a YAML file of user tasks (repeatable)")
    p.set_defaults(func=cmd_tasks)

    experiment_commands = {}
    for name, help_text, func in (
        ("train", "train one experiment (primary + auxiliaries)", cmd_train),
        ("select", "choose the auxiliary tasks (the config's select method)", cmd_select),
        ("mix", "choose the mixing ratios of the selected tasks (the config's mix method)", cmd_mix),
        ("run", "the whole pipeline: baseline, select, mix, final, per seed", cmd_run),
        ("adapt", "pre-train skills and routing on the auxiliary tasks, then adapt to the primary from k shots "
                  "per class by every few-shot arm, per seed", cmd_adapt),
    ):
        p = experiment_commands[name] = sub.add_parser(name, help=help_text)
        _experiment_arguments(p)
        p.set_defaults(func=func)
    _run_arguments(experiment_commands["run"])
    for name in ("mix", "run"):
        experiment_commands[name].add_argument(
            "--storage", metavar="URL",
            help="Optuna storage of the gp-bo / random study (default: SQLite in the run folder). Share one "
                 "study between machines with postgresql:// or mysql://, between processes of one machine "
                 "with a journal file; never share the SQLite file")
    p = sub.add_parser("atlas", help="train every primary alone, with each candidate, and its control, over "
                                     "paired seeds: the transfer atlas (atlas.json and a heatmap report)")
    _experiment_arguments(p)
    p.add_argument("--storage", metavar="URL",
                   help="Optuna storage the cells are queued in (default: a journal file in the atlas folder); "
                        "workers on several machines share one atlas through postgresql://")
    p.add_argument("--max-cells", type=int, metavar="N", help="stop after training N cells here (re-run to go on)")
    p.set_defaults(func=cmd_atlas)
    p = sub.add_parser("report", help="write report.html and report.md of a finished run folder, or of a study")
    p.add_argument("run_dir", help="the folder of `auxlearn run` (with results.json), or a study folder holding "
                                   "several run folders (e.g. one per primary): adds a task x task matrix")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("evaluate", help="score a saved model; metrics as JSON on stdout")
    p.add_argument("model_dir")
    p.add_argument("--task", help="default: every task of the model that has the split")
    p.add_argument("--split", choices=["eval", "dev"], default="eval")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", help="predict a JSONL file of inputs with a saved model")
    p.add_argument("model_dir")
    p.add_argument("--task", required=True)
    p.add_argument("--input", required=True, help="JSONL with the task's text fields")
    p.add_argument("--output", help="JSONL to write (default: stdout)")
    p.add_argument("--invalid-utf8", choices=["error", "replace"], default="error",
                   help="lines that are not UTF-8: an error (default), or bad bytes read as U+FFFD, lines counted")
    p.set_defaults(func=cmd_predict)
    return parser


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline-from", metavar="RUN_DIR",
                   help="reuse the baseline of an earlier run with the same primary, data, train settings and seeds "
                        "(e.g. to compare selectors) instead of training it again")
    p.add_argument("--dry-run", action="store_true", help="print the plan (the arms, their steps, the wall time "
                   "estimated from a timed warm-up) and exit without training or writing the run folder")


def _experiment_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML; compose several with +, later files override earlier "
                                  "ones (base.yaml+mhr.yaml)")
    p.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                   help="override config keys, e.g. --set train.lr=3e-5 train.steps=200 (repeatable)")
    p.add_argument("--data-dir", help="offline mirror in the hub's layout (default: $AUXLEARN_DATA_DIR)")
    p.add_argument("--out", help="output folder (default: runs/<name>)")


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.simplefilter("default")
    return_freed_memory()  # before the libraries allocate: a run's resident memory stays near what it uses
    try:
        with contextlib.ExitStack() as args.held:  # the folder the command holds, released at its end
            if getattr(args, "out", None) and not getattr(args, "dry_run", False):
                _hold(args, Path(args.out))  # before the imports and the config: a second process stops at once
            import datasets
            import transformers

            datasets.disable_progress_bars()
            transformers.utils.logging.disable_progress_bar()
            return args.func(args)
    except AuxlearnError as error:
        print(f"auxlearn: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a file-system fault outside auxlearn's own writers: still the file and the cause
        from auxlearn.io import describe_fault

        fault = describe_fault(error)
        if fault is None:
            raise
        print(f"auxlearn: error: {fault}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("auxlearn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
