"""Where one training step's time goes, on this machine: the PyTorch profiler over the Trainer's steps.

The batches, model and settings of ``bench/throughput.py`` (all-MiniLM-L6-v2, an RTE + MRPC + SST-2 mix, batch 16,
length grouping). Two measurements of the same steps:

1. Wall-clock phases, timed without the profiler (it slows small operators): data collation, forward (with the
   head's loss), backward, gradient clipping, the optimiser, and the rest of the Trainer's step (sampler,
   bookkeeping, progress) as what is left of the step.
2. Operator self time under ``torch.profiler``, by kind: the linear layers' matrix multiplies (with the
   multiply-adds the profiler counts, as GFLOP/s while they run), attention (its batched products, softmax or the
   fused kernel), dropout masks, number-format casts, embeddings, the optimiser and clipping, layer norm, GELU and
   the other element-wise work.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/step_profile.py [--precision bf16|fp32] [--steps 40]
[--dropout bits|torch] (nothing else running); writes bench/results/step_profile.json (one entry per precision
and dropout) and prints a table.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from auxlearn.config import experiment_from_dict
from auxlearn.data.batching import EndlessBatches
from auxlearn.experiment import prepare
from auxlearn.io import read_json, write_json_atomic
from auxlearn.train.threads import usable_cores
from machine import machine
from throughput import experiment, make_trainer, matmul_peak

RESULT = Path(__file__).parent / "results" / "step_profile.json"
PHASES = ("collation", "forward", "backward", "clipping", "optimizer")

# Operator name -> kind; the first matching prefix wins. Batched products (bmm) are attention's: BERT's linear
# layers multiply 2-D matrices (mm/addmm).
KINDS = [
    ("aten::addmm", "linear matmuls"), ("aten::mm", "linear matmuls"), ("aten::_addmm_activation", "linear matmuls"),
    ("aten::bmm", "attention"), ("aten::baddbmm", "attention"), ("aten::_softmax", "attention"),
    ("aten::_safe_softmax", "attention"), ("aten::_scaled_dot_product", "attention"),
    ("aten::_flash_attention", "attention"),
    ("aten::native_dropout", "dropout"), ("aten::bernoulli", "dropout"), ("aten::random_", "dropout"),
    ("aten::copy_", "casts and copies"), ("aten::_to_copy", "casts and copies"), ("aten::clone", "casts and copies"),
    ("aten::contiguous", "casts and copies"),
    ("aten::embedding", "embeddings"),
]


@contextmanager
def phase_timers(trainer, totals: dict[str, float]):
    """Wall time of each phase of the step, summed into ``totals``, each phase also a profiler scope (patched on
    this bench's objects only). The Trainer calls ``model.loss(task, batch, forward(task, batch))``: the encoder's
    forward pass and the head's loss are timed one after the other, both as the forward phase."""
    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                with record_function(f"auxlearn::{name}"):
                    return function(*args, **kwargs)
            finally:
                totals[name] += time.perf_counter() - started
        return wrapper

    saved_next, saved_clip = EndlessBatches.__next__, torch.nn.utils.clip_grad_norm_
    EndlessBatches.__next__ = timed("collation", saved_next)
    torch.nn.utils.clip_grad_norm_ = timed("clipping", saved_clip)
    trainer.forward = timed("forward", trainer.forward)
    trainer.model.loss = timed("forward", trainer.model.loss)
    trainer.weighting.backward = timed("backward", trainer.weighting.backward)
    for optimizer in {id(pair[0]): pair[0] for pair in trainer.optimizers.values()}.values():  # tasks may share one
        optimizer.step = timed("optimizer", optimizer.step)
    try:
        yield
    finally:
        EndlessBatches.__next__, torch.nn.utils.clip_grad_norm_ = saved_next, saved_clip


def train(exp, prepared, steps: int, profiled: bool, dropout: str):
    """A fresh Trainer over ``steps`` steps: its outcome, its phases' seconds, and the profile if ``profiled``."""
    trainer = make_trainer(exp.variant(steps=steps), prepared, dropout=dropout)
    totals: dict[str, float] = defaultdict(float)
    with phase_timers(trainer, totals):
        if not profiled:
            return trainer.train(), dict(totals), None
        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            outcome = trainer.train()
    return outcome, dict(totals), prof


def kind_of(name: str, scope: str | None) -> str:
    if scope in ("clipping", "optimizer"):
        return "optimizer and clipping"
    if scope == "collation":
        return "collation"
    for prefix, kind in KINDS:
        if name.startswith(prefix):
            return kind
    return "layer norm, GELU, element-wise"


def operator_kinds(prof) -> tuple[dict[str, float], dict[str, float]]:
    """Self CPU seconds by kind, and the linear matmuls' multiply-adds; an operator's scope is its nearest
    ``auxlearn::`` or optimiser ancestor."""
    seconds: dict[str, float] = defaultdict(float)
    flops: dict[str, float] = defaultdict(float)
    for event in prof.events():
        if event.name.startswith(("auxlearn::", "Optimizer.")):
            continue
        scope, parent = None, event.cpu_parent
        while parent is not None and scope is None:
            if parent.name.startswith("auxlearn::"):
                scope = parent.name.split("::", 1)[1]
            elif parent.name.startswith("Optimizer."):
                scope = "optimizer"
            parent = parent.cpu_parent
        kind = kind_of(event.name, scope)
        seconds[kind] += event.self_cpu_time_total / 1e6
        flops[kind] += event.flops or 0
    return dict(seconds), dict(flops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--dropout", default="bits", choices=["bits", "torch"],
                        help="the default's bit dropout, or torch's (the previous default)")
    parser.add_argument("--top", type=int, default=25, help="operators listed one by one")
    args = parser.parse_args()
    exp = experiment_from_dict(experiment(steps=args.steps, precision=args.precision, threads=usable_cores()))
    prepared = prepare(exp)
    train(exp, prepared, 10, profiled=False, dropout=args.dropout)  # warm-up: allocation, kernel choice
    outcome, phases, _ = train(exp, prepared, args.steps, profiled=False, dropout=args.dropout)
    step_seconds = outcome.seconds - outcome.eval_seconds
    phases["trainer's own (rest of the step)"] = step_seconds - sum(phases.values())
    _, _, prof = train(exp, prepared, args.steps, profiled=True, dropout=args.dropout)
    seconds, flops = operator_kinds(prof)
    top = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:args.top]
    operators = sum(seconds.values())
    peak = matmul_peak(torch.bfloat16 if args.precision == "bf16" else torch.float32)
    linear = seconds.get("linear matmuls", 0.0)
    entry = {
        "machine": machine(), "steps": args.steps, "batch_size": 16, "examples": outcome.examples,
        "tokens": outcome.tokens, "step_seconds": step_seconds / args.steps,
        "phases_seconds_per_step": {k: v / args.steps for k, v in phases.items()},
        "phases_share": {k: v / step_seconds for k, v in phases.items()},
        "operators_seconds_per_step": {k: v / args.steps for k, v in sorted(seconds.items(), key=lambda x: -x[1])},
        "operators_share": {k: v / operators for k, v in seconds.items()},
        "top_operators_ms_per_step": {e.key: e.self_cpu_time_total / 1e3 / args.steps for e in top},
        "linear_matmul_flop_per_s": flops.get("linear matmuls", 0.0) / linear if linear else None,
        "matmul_peak_flop_per_s": peak,
        "note": "phases: wall time without the profiler; operators: self CPU time under the profiler (it adds "
                "overhead to small operators); FLOP/s: the profiler's multiply-add count / those operators' time",
    }
    done = read_json(RESULT) if RESULT.is_file() else {}
    done[f"{args.precision}, {args.dropout} dropout"] = entry
    write_json_atomic(RESULT, done)
    print(f"{args.precision}, {args.dropout} dropout: {entry['step_seconds'] * 1000:.0f} ms a step, "
          f"{outcome.examples / step_seconds:.1f} ex/s")
    for name, share in entry["phases_share"].items():
        print(f"  {name:<36}{100 * share:5.1f} %")
    print("  operators (self time):")
    for name, value in entry["operators_seconds_per_step"].items():
        print(f"  {name:<36}{100 * entry['operators_share'][name]:5.1f} %  {value * 1000:6.1f} ms")
    print("  top operators (self time, ms a step):")
    for name, value in entry["top_operators_ms_per_step"].items():
        print(f"    {name:<44}{value:7.1f}")
    if entry["linear_matmul_flop_per_s"]:
        print(f"  linear matmuls run at {entry['linear_matmul_flop_per_s'] / 1e9:.0f} GFLOP/s; "
              f"peak {peak / 1e9:.0f}")


if __name__ == "__main__":
    main()
