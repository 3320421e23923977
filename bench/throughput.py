"""Training and evaluation throughput on CPU with all-MiniLM-L6-v2, against this machine's own limits.

On identical batches of an RTE + MRPC + SST-2 mix, measured side by side in one run (each repeat runs every
variant once, so drift in the machine's speed touches all of them alike):

1. Training: fp32 as auxlearn trained before ``train.precision`` (multi-tensor AdamW, torch's dropout) against
   each faster variant: fp32 with fused AdamW and bit dropout (``models/cpu_dropout.py``), bfloat16 autocast
   with fused AdamW and torch's dropout (the previous default), with bit dropout (the default on a CPU with
   bfloat16 units), that under ``torch.compile`` of the encoder (its compile time reported apart), the compiled
   encoder with torch's dropout (whose masks inductor generates in its fused kernels), and the default with the
   word embeddings frozen (``adapter.freeze_word_embeddings``).
   Examples/s, non-pad tokens/s, ratios.
2. The Trainer against a plain hand-written loop over the same batches, both in the new default (target >= 0.99;
   alternating pairs, the mean ratio with its 95 % interval), and against ``transformers.Trainer`` on the same RTE
   fine-tuning in each precision (target >= 1.5x).
3. Dynamic padding with length grouping against padding every batch to 128 tokens (target >= 1.5x).
4. The fp32 and bf16 matrix-multiply peaks, and training FLOP/s as a share of each.
5. Dev evaluation examples/s: as before (fp32, 128 examples a batch, collated every time) against the new
   default (bf16, cache-sized batches collated once).
6. Two concurrent training processes against a lone one (steps/s): all cores each, or auxlearn's thread share.
Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/throughput.py [--steps 40] [--repeats 3] (nothing
else running); writes bench/results/throughput.json and prints a table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets
import scipy.stats
import torch
from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainerCallback,
                          TrainingArguments)

from auxlearn.config import experiment_from_dict
from auxlearn.config_types import DEFAULT_MODEL
from auxlearn.experiment import build_model, build_trainer, prepare
from auxlearn.io import write_json_atomic
from auxlearn.models.encoder import resolve_model_name
from auxlearn.models.cpu_dropout import BitDropout
from auxlearn.train.device import autocast, bf16_units, pick_device, resolve_precision
from auxlearn.train.evaluation import Inference, evaluate
from auxlearn.train.optim import build_optimizers, linear_warmup_decay
from auxlearn.train.threads import usable_cores
from machine import machine

RESULTS = Path(__file__).parent / "results"

# name -> (precision, fused AdamW, torch.compile of the encoder, dropout masks: "bits" (the default) or "torch",
# the word embeddings frozen: adapter.freeze_word_embeddings)
VARIANTS = {
    "fp32 (before)": ("fp32", False, False, "torch", False),
    "fp32 + fused AdamW + bit dropout": ("fp32", True, False, "bits", False),
    "bf16 + fused AdamW, torch dropout": ("bf16", True, False, "torch", False),
    "bf16 + fused AdamW + bit dropout (default)": ("bf16", True, False, "bits", False),
    "bf16 + fused AdamW + bit dropout + compile": ("bf16", True, True, "bits", False),
    "bf16 + fused AdamW + compile, torch dropout (inductor's masks)": ("bf16", True, True, "torch", False),
    "default + frozen word embeddings": ("bf16", True, False, "bits", True),
}
BEFORE, DEFAULT = "fp32 (before)", "bf16 + fused AdamW + bit dropout (default)"
FP32_NOW = "fp32 + fused AdamW + bit dropout"


def torch_dropout(model):
    """``model`` as transformers builds it: torch's dropout and the ``sdpa`` attention path in training too."""
    for module in model.modules():
        if isinstance(module, BitDropout):
            module.__class__ = torch.nn.Dropout
    model.encoder.set_attn_implementation("sdpa")
    return model


def experiment(padding: str = "longest", group: bool = True, steps: int = 40, precision: str = "auto",
               threads: int | None = None, frozen_embeddings: bool = False) -> dict:
    return {
        "name": "bench",
        "adapter": {"method": "full", "freeze_word_embeddings": frozen_embeddings},
        "primary": "rte",
        "auxiliary": ["mrpc", "sst2"],
        "data": {"max_length": 128, "padding": padding, "group_by_length": group,
                 "max_train_examples": {"sst2": 5000}},
        "train": {"steps": steps, "batch_size": 16, "eval_every": 10**6, "progress": False, "lr": 5e-5,
                  "precision": precision, "threads": threads},
        "seed": 0,
    }


def make_trainer(exp, prepared, fused: bool = True, compiled: bool = False, dropout: str = "bits"):
    model = build_model(exp, prepared, exp.tasks)
    if dropout == "torch":
        torch_dropout(model)
    data = {t: copy.copy(prepared.data[t]) for t in exp.tasks}
    # Evaluate on a tiny dev slice: the benchmark times training, and the final evaluation is excluded anyway.
    for task_data in data.values():
        task_data.dev = task_data.dev.select(range(8))
    trainer = build_trainer(exp.variant(sampler={"name": "proportional"}), prepared, model, data=data)
    if not fused:
        config = exp.train
        trainer.optimizers = build_optimizers(
            model, list(data), per_task=False, lr=config.lr, head_lr=config.head_lr,
            weight_decay=config.weight_decay, schedule=linear_warmup_decay(config.steps, config.warmup_steps()),
            global_step=lambda: trainer.step, fused=False)
    if compiled:
        model.encoder.compile(dynamic=True)
    return trainer


def run_trainer(exp, prepared, fused: bool = True, compiled: bool = False, dropout: str = "bits") -> dict:
    outcome = make_trainer(exp, prepared, fused, compiled, dropout).train()
    return {"seconds": outcome.seconds - outcome.eval_seconds, "examples": outcome.examples, "tokens": outcome.tokens}


def recorded_batches(exp, prepared):
    """The exact (task, batch) sequence the Trainer consumes: same sampler, same iterators, same seeds."""
    trainer = make_trainer(exp, prepared)
    return [(task, next(trainer.iterators[task])) for task in
            (trainer.sampler.next_task(step) for step in range(exp.train.steps))]


def run_plain_loop(exp, prepared, batches) -> dict:
    """A hand-written loop in the new default: bf16 autocast, fused AdamW, clip, linear schedule. No sampler."""
    model = build_model(exp, prepared, exp.tasks)
    model.train()
    device = pick_device("auto")
    precision = resolve_precision(exp.train.precision, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=exp.train.lr, weight_decay=exp.train.weight_decay,
                                  fused=True)
    warmup = exp.train.warmup_steps()
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else (exp.train.steps - s) / (exp.train.steps - warmup))
    examples = tokens = 0
    started = time.perf_counter()
    for task, batch in batches:
        with autocast(device, precision):
            loss = model.loss(task, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), exp.train.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        examples += batch["input_ids"].shape[0]
        tokens += int(batch["attention_mask"].sum())
    return {"seconds": time.perf_counter() - started, "examples": examples, "tokens": tokens}


def trainer_and_plain(exp, prepared, pairs: int) -> dict:
    """The Trainer and the plain loop on the same batches, in alternating order (Trainer first in even pairs, the
    loop first in odd ones), so that neither always runs on the warmer or the cooler machine. One run's ratio
    swings by +-5 % on a 2-core machine; the paired ratios' mean with its 95 % t-interval says what is measured."""
    batches = recorded_batches(exp, prepared)
    trainer, plain = [], []
    arms = [(trainer, lambda: run_trainer(exp, prepared)),
            (plain, lambda: run_plain_loop(exp, prepared, copy.deepcopy(batches)))]
    for pair in range(pairs):
        for runs, run in arms if pair % 2 == 0 else arms[::-1]:
            runs.append(rates(run()))
    ratios = [t["examples_per_s"] / p["examples_per_s"] for t, p in zip(trainer, plain)]
    interval = scipy.stats.ttest_1samp(ratios, 1.0).confidence_interval(0.95)
    return {"trainer_runs": trainer, "plain_runs": plain, "paired_ratios": ratios,
            "trainer_examples_per_s": median(trainer, "examples_per_s"),
            "plain_examples_per_s": median(plain, "examples_per_s"),
            "ratio": statistics.fmean(ratios), "ratio_interval": [interval.low, interval.high],
            "median_ratio": statistics.median(ratios), "target": 0.99}


def matmul_peak(dtype: torch.dtype, size: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / min(times)


def training_flops(model, tokens: float) -> float:
    """6 x (non-embedding parameters) x tokens: the standard forward + backward estimate (Kaplan et al. 2020)."""
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    return 6.0 * non_embedding * tokens


def rates(result: dict) -> dict:
    return {**result, "examples_per_s": result["examples"] / result["seconds"],
            "tokens_per_s": result["tokens"] / result["seconds"]}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def evaluation(exp, prepared, repeats: int) -> dict:
    """Dev evaluation of the three tasks, before and now; one model, so both score the same weights."""
    model = build_model(exp, prepared, exp.tasks)
    device, pad = pick_device("auto"), prepared.tokenizer.pad_token_id
    before = Inference(device, pad, "fp32", batch_size=128)
    now = Inference.for_device(device, pad, resolve_precision("auto", device), exp.train.eval_batch_size)
    cached = {t: now.batches(prepared.data[t].dev) for t in exp.tasks}
    examples = sum(len(prepared.data[t].dev) for t in exp.tasks)
    runs = {"before": [], "default": []}
    for _ in range(repeats + 1):  # the first round warms up
        for name, how, batches in (("before", before, {}), ("default", now, cached)):
            started = time.perf_counter()
            for task in exp.tasks:
                evaluate(model, task, prepared.data[task].dev, how, batches.get(task))
            runs[name].append(examples / (time.perf_counter() - started))
    before_eps, now_eps = statistics.median(runs["before"][1:]), statistics.median(runs["default"][1:])
    return {"examples": examples, "before_examples_per_s": before_eps, "default_examples_per_s": now_eps,
            "speedup": now_eps / before_eps, "target": 2.5, "runs": runs,
            "before": "fp32, 128 examples a batch, collated at every evaluation",
            "default": f"{now.precision}, <= {now.max_tokens} padded tokens a batch, collated once"}


def peer_run(prepared, precision: str, steps: int) -> dict:
    """``transformers.Trainer`` fine-tuning all-MiniLM-L6-v2 on RTE as its users would: the stock model, batch 16,
    length grouping, fused AdamW, bfloat16 autocast or fp32, nothing logged, saved or evaluated."""
    split = prepared.data["rte"].train
    dataset = datasets.Dataset.from_dict({"input_ids": list(split.input_ids),
                                          "token_type_ids": list(split.token_type_ids), "labels": split.labels})
    model = AutoModelForSequenceClassification.from_pretrained(resolve_model_name(DEFAULT_MODEL), num_labels=2)
    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, per_device_train_batch_size=16, max_steps=steps, learning_rate=5e-5,
                                 warmup_steps=max(1, steps // 10), train_sampling_strategy="group_by_length",
                                 optim="adamw_torch_fused",
                                 bf16=precision == "bf16", use_cpu=True, report_to=[], save_strategy="no",
                                 logging_strategy="no", eval_strategy="no", disable_tqdm=True, seed=0)
        clock = TrainingClock()
        trainer = Trainer(model=model, args=args, train_dataset=dataset, callbacks=[clock],
                          data_collator=DataCollatorWithPadding(prepared.tokenizer))
        trainer.train()
    return {"seconds": clock.seconds, "examples": 16 * steps, "tokens": None}


class TrainingClock(TrainerCallback):
    """The seconds from the first step's start to the end of training, as auxlearn's Trainer times itself (the
    model, data loader and optimiser built before, not counted)."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = time.perf_counter() - self.started


def peer(prepared, steps: int, repeats: int, threads: int) -> dict:
    """auxlearn's Trainer against transformers' on the same RTE fine-tuning, each precision, paired repeats."""
    result = {}
    for precision in ("bf16", "fp32"):
        document = experiment(steps=steps, precision=precision, threads=threads)
        document["auxiliary"], document["data"]["max_train_examples"] = [], None
        exp = experiment_from_dict(document)
        ours, theirs = [], []
        run_trainer(exp.variant(steps=5), prepared)
        peer_run(prepared, precision, 5)
        for _ in range(repeats):
            ours.append(rates(run_trainer(exp, prepared)))
            theirs.append({**peer_run(prepared, precision, steps)})
            theirs[-1]["examples_per_s"] = theirs[-1]["examples"] / theirs[-1]["seconds"]
        result[precision] = {
            "auxlearn_examples_per_s": median(ours, "examples_per_s"),
            "transformers_examples_per_s": median(theirs, "examples_per_s"),
            "ratio": median(ours, "examples_per_s") / median(theirs, "examples_per_s"),
            "paired_ratio": statistics.median(a["examples_per_s"] / b["examples_per_s"] for a, b in zip(ours, theirs)),
            "auxlearn_runs": ours, "transformers_runs": theirs, "target": 1.5}
    return result


def worker(steps: int, threads: int | None) -> None:
    """One training process of the concurrency measurement: prints its steps/s after a warm-up."""
    exp = experiment_from_dict(experiment(steps=steps, threads=threads))
    prepared = prepare(exp)
    run_trainer(experiment_from_dict(experiment(steps=3, threads=threads)), prepared)
    result = run_trainer(exp, prepared)
    print(json.dumps({"steps_per_s": steps / result["seconds"]}))


def concurrency(steps: int) -> dict:
    """Steps/s of one process alone, and of each of two at once: all cores each (before) vs the thread share."""
    def launch(count: int, threads: int | None) -> list[float]:
        command = [sys.executable, __file__, "--worker", str(steps)] + (["--threads", str(threads)] if threads else [])
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True) for _ in range(count)]
        return [json.loads(p.communicate()[0].strip().splitlines()[-1])["steps_per_s"] for p in processes]

    cores = usable_cores()
    lone = launch(1, None)[0]
    before = launch(2, cores)  # PyTorch's default: every process takes one thread per core
    shared = launch(2, None)
    return {"cores": cores, "lone_steps_per_s": lone,
            "two_all_cores_steps_per_s": before, "two_all_cores_ratio": min(before) / lone,
            "two_shared_steps_per_s": shared, "two_shared_ratio": min(shared) / lone, "target": 0.45}


def training_rates(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Ratios of medians, and the median of each repeat's own ratio (variants of one repeat ran seconds apart)."""
    before_eps = median(runs[BEFORE], "examples_per_s")
    return {name: {"runs": r, "examples_per_s": median(r, "examples_per_s"),
                   "tokens_per_s": median(r, "tokens_per_s"),
                   "vs_before": median(r, "examples_per_s") / before_eps,
                   "vs_before_paired": statistics.median(
                       a["examples_per_s"] / b["examples_per_s"] for a, b in zip(r, runs[BEFORE]))}
            for name, r in runs.items()}


def show(report: dict, compile_seconds: dict[str, float], peaks: dict) -> None:
    for name, t in report["training"].items():
        print(f"{name:<32}{t['examples_per_s']:7.1f} ex/s {t['tokens_per_s']:7.0f} tok/s  {t['vs_before']:.2f}x "
              f"(paired {t['vs_before_paired']:.2f}x)")
    for name, seconds in compile_seconds.items():
        print(f"{name}: {seconds:.0f} s of compiling before the first step")
    p, d, f = report["trainer_vs_plain"], report["dynamic_vs_pad128"], report["flops"]
    print(f"trainer / plain loop (default): {p['ratio']:.3f} (95 % {p['ratio_interval'][0]:.3f} to "
          f"{p['ratio_interval'][1]:.3f}, {len(p['paired_ratios'])} pairs); dynamic / pad-128: {d['speedup']:.2f}x")
    print(f"training {f['achieved_training_flop_per_s'] / 1e9:.1f} GFLOP/s = {100 * f['share_of_bf16_peak']:.0f} % "
          f"of the bf16 peak {peaks['bf16'] / 1e9:.0f} GFLOP/s (fp32 peak {peaks['fp32'] / 1e9:.0f})")
    for precision, v in report["vs_transformers_trainer"].items():
        print(f"{precision}: auxlearn {v['auxlearn_examples_per_s']:.1f} ex/s vs transformers.Trainer "
              f"{v['transformers_examples_per_s']:.1f}: {v['ratio']:.2f}x (paired {v['paired_ratio']:.2f}x)")
    e, c = report["evaluation"], report["concurrency"]
    print(f"dev evaluation {e['before_examples_per_s']:.0f} -> {e['default_examples_per_s']:.0f} ex/s "
          f"({e['speedup']:.2f}x)")
    print(f"two workers: {c['two_all_cores_ratio']:.2f}x of a lone one on all cores each, "
          f"{c['two_shared_ratio']:.2f}x with the thread share")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=10, help="alternating Trainer / plain-loop pairs")
    parser.add_argument("--worker-steps", type=int, default=60, help="steps of each concurrent worker")
    parser.add_argument("--peer-steps", type=int, default=80, help="steps of the transformers.Trainer comparison")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        return worker(args.worker, args.threads)
    threads = usable_cores()
    device = pick_device("auto")
    if bf16_units(device) is None:
        sys.exit(f"this {device.type} has no bfloat16 units: nothing to compare against fp32")

    def exp_of(name: str, steps: int = args.steps, **kw):
        precision, *_, frozen = VARIANTS[name]
        return experiment_from_dict(experiment(steps=steps, precision=precision, threads=threads,
                                               frozen_embeddings=frozen, **kw))

    prepared = prepare(exp_of(DEFAULT))
    for name, (_, fused, compiled, dropout, _) in VARIANTS.items():  # warm-up: allocation, kernel choice
        if not compiled:
            run_trainer(exp_of(name, steps=5), prepared, fused, compiled, dropout)
    compile_seconds = {}
    for name, (_, fused, compiled, dropout, _) in VARIANTS.items():  # each compiled graph once, timed
        if compiled:
            started = time.perf_counter()
            run_trainer(exp_of(name, steps=5), prepared, fused, compiled, dropout)
            compile_seconds[name] = time.perf_counter() - started

    runs = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name, (_, fused, compiled, dropout, _) in VARIANTS.items():
            runs[name].append(rates(run_trainer(exp_of(name), prepared, fused, compiled, dropout)))
    trainer_vs_plain = trainer_and_plain(exp_of(DEFAULT), prepared, args.pairs)
    padded = [rates(run_trainer(exp_of(DEFAULT, padding="max_length", group=False), prepared))
              for _ in range(args.repeats)]

    before_eps = median(runs[BEFORE], "examples_per_s")
    training = training_rates(runs)
    for name, seconds in compile_seconds.items():
        training[name]["compile_seconds"] = seconds
    default_eps = training[DEFAULT]["examples_per_s"]
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    flops = training_flops(build_model(exp_of(DEFAULT), prepared, ["rte"]), training[DEFAULT]["tokens_per_s"])
    report = {
        "machine": {**machine(), "cpu_threads": threads, "platform": platform.platform()},
        "steps": args.steps, "repeats": args.repeats, "batch_size": 16,
        "training": training,
        "default_vs_before": {"ratio": default_eps / before_eps,
                              "paired_ratio": training[DEFAULT]["vs_before_paired"], "target": 2.5},
        "default_vs_fp32_now": {"ratio": default_eps / training[FP32_NOW]["examples_per_s"],
                                "note": "bfloat16's own share: fp32 with every other change of the default"},
        "trainer_vs_plain": trainer_vs_plain,
        "dynamic_vs_pad128": {"pad128_runs": padded, "pad128_examples_per_s": median(padded, "examples_per_s"),
                              "dynamic_examples_per_s": default_eps,
                              "speedup": default_eps / median(padded, "examples_per_s"), "target": 1.5},
        "flops": {"matmul_peak_flop_per_s": peaks, "achieved_training_flop_per_s": flops,
                  "share_of_bf16_peak": flops / peaks["bf16"], "share_of_fp32_peak": flops / peaks["fp32"],
                  "note": "6 x non-embedding parameters x non-pad tokens per second of the default; "
                          "peaks: 1024^3 matmul"},
        "vs_transformers_trainer": peer(prepared, args.peer_steps, args.repeats, threads),
        "evaluation": evaluation(exp_of(DEFAULT), prepared, args.repeats),
        "concurrency": concurrency(steps=args.worker_steps),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS / "throughput.json", report)
    show(report, compile_seconds, peaks)
    print(json.dumps({"written": str(RESULTS / "throughput.json")}))


if __name__ == "__main__":
    main()
