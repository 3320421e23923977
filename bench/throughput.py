"""Trainer throughput on CPU with all-MiniLM-L6-v2.

1. The auxlearn Trainer against a plain hand-written PyTorch loop over the identical batches with the
   same model (target: ratio >= 0.97 in examples/s).
2. Dynamic padding with length grouping against padding every batch to 128 tokens on an RTE + MRPC +
   SST-2 mix (target: >= 1.5x examples/s).
3. Achieved training FLOP/s next to this machine's fp32 matrix-multiply peak, measured in the same run.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/throughput.py [--steps 40]
Writes bench/results/throughput.json and prints a table.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from auxlearn.config import experiment_from_dict
from auxlearn.experiment import build_model, prepare, prepared_pad_length
from auxlearn.io import write_json_atomic
from auxlearn.train.samplers import build_sampler
from auxlearn.train.trainer import Trainer

RESULTS = Path(__file__).parent / "results"


def experiment(padding: str, group: bool, steps: int) -> dict:
    return {
        "name": "bench",
        "primary": "rte",
        "auxiliary": ["mrpc", "sst2"],
        "data": {"max_length": 128, "padding": padding, "group_by_length": group,
                 "max_train_examples": {"sst2": 5000}},
        "train": {"steps": steps, "batch_size": 16, "eval_every": 10**6, "progress": False, "lr": 5e-5,
                  "eval_batch_size": 128},
        "seed": 0,
    }


def make_trainer(exp, prepared):
    model = build_model(exp, prepared, exp.tasks)
    data = {t: prepared.data[t] for t in exp.tasks}
    # Evaluate on a tiny dev slice: the benchmark times training, and the final evaluation is excluded anyway.
    for task_data in data.values():
        task_data.dev = task_data.dev.select(range(8))
    sampler = build_sampler("proportional", {}, exp.tasks, {t: len(d.train) for t, d in data.items()},
                            total_steps=exp.train.steps, seed=exp.seed)
    return Trainer(model, data, exp.primary, exp.train, sampler=sampler, pad_id=prepared.tokenizer.pad_token_id,
                   seed=exp.seed, pad_to=prepared_pad_length(exp, prepared), group_by_length=exp.data.group_by_length)


def run_trainer(exp, prepared) -> dict:
    trainer = make_trainer(exp, prepared)
    outcome = trainer.train()
    seconds = outcome.seconds - outcome.eval_seconds
    return {"seconds": seconds, "examples": outcome.examples, "tokens": outcome.tokens}


def recorded_batches(exp, prepared):
    """The exact (task, batch) sequence the Trainer consumes: same sampler, same iterators, same seeds."""
    trainer = make_trainer(exp, prepared)
    return [(task, next(trainer.iterators[task])) for task in
            (trainer.sampler.next_task(step) for step in range(exp.train.steps))]


def run_plain_loop(exp, prepared, batches) -> dict:
    """A hand-written loop: forward, loss, backward, clip, AdamW, linear schedule. No sampler, no collation."""
    model = build_model(exp, prepared, exp.tasks)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=exp.train.lr, weight_decay=exp.train.weight_decay)
    warmup = exp.train.warmup_steps()
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else (exp.train.steps - s) / (exp.train.steps - warmup))
    examples = tokens = 0
    started = time.perf_counter()
    for task, batch in batches:
        loss = model.loss(task, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), exp.train.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        examples += batch["input_ids"].shape[0]
        tokens += int(batch["attention_mask"].sum())
    return {"seconds": time.perf_counter() - started, "examples": examples, "tokens": tokens}


def matmul_peak(size: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / min(times)


def training_flops(model, tokens: int) -> float:
    """6 x (non-embedding parameters) x tokens: the standard forward + backward estimate (Kaplan et al. 2020)."""
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    return 6.0 * non_embedding * tokens


def rates(result: dict) -> dict:
    return {**result, "examples_per_s": result["examples"] / result["seconds"],
            "tokens_per_s": result["tokens"] / result["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)

    dynamic = experiment_from_dict(experiment("longest", True, args.steps))
    padded = experiment_from_dict(experiment("max_length", False, args.steps))
    prepared = prepare(dynamic)

    # Warm-up: first steps allocate and tune kernels.
    run_trainer(experiment_from_dict(experiment("longest", True, 5)), prepared)

    batches = recorded_batches(dynamic, prepared)
    trainer_runs, plain_runs, dyn_runs, pad_runs = [], [], [], []
    for _ in range(args.repeats):
        trainer_runs.append(rates(run_trainer(dynamic, prepared)))
        plain_runs.append(rates(run_plain_loop(dynamic, prepared, copy.deepcopy(batches))))
    for _ in range(args.repeats):
        pad_runs.append(rates(run_trainer(padded, prepared)))
        dyn_runs.append(rates(run_trainer(dynamic, prepared)))

    def median(runs, key):
        return statistics.median(r[key] for r in runs)

    peak = matmul_peak()
    model = build_model(dynamic, prepared, dynamic.tasks)
    trainer_eps = median(trainer_runs, "examples_per_s")
    plain_eps = median(plain_runs, "examples_per_s")
    flops = training_flops(model, int(median(trainer_runs, "tokens_per_s")))
    report = {
        "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(), "torch": torch.__version__},
        "steps": args.steps, "repeats": args.repeats, "batch_size": dynamic.train.batch_size,
        "trainer_vs_plain": {
            "trainer": trainer_runs, "plain": plain_runs,
            "trainer_examples_per_s": trainer_eps, "plain_examples_per_s": plain_eps,
            "trainer_tokens_per_s": median(trainer_runs, "tokens_per_s"),
            "plain_tokens_per_s": median(plain_runs, "tokens_per_s"),
            "ratio": trainer_eps / plain_eps, "target": 0.97,
        },
        "dynamic_vs_pad128": {
            "dynamic": dyn_runs, "pad128": pad_runs,
            "dynamic_examples_per_s": median(dyn_runs, "examples_per_s"),
            "pad128_examples_per_s": median(pad_runs, "examples_per_s"),
            "speedup": median(dyn_runs, "examples_per_s") / median(pad_runs, "examples_per_s"), "target": 1.5,
        },
        "flops": {"achieved_training_flop_per_s": flops, "matmul_peak_flop_per_s": peak,
                  "fraction_of_peak": flops / peak,
                  "note": "6 x non-embedding parameters x non-pad tokens per second; peak = fp32 1024^3 matmul"},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS / "throughput.json", report)
    t, d, f = report["trainer_vs_plain"], report["dynamic_vs_pad128"], report["flops"]
    print(f"trainer {t['trainer_examples_per_s']:.1f} ex/s, {t['trainer_tokens_per_s']:.0f} tok/s; "
          f"plain loop {t['plain_examples_per_s']:.1f} ex/s, {t['plain_tokens_per_s']:.0f} tok/s; "
          f"ratio {t['ratio']:.3f} (target >= 0.97)")
    print(f"dynamic+grouped {d['dynamic_examples_per_s']:.1f} ex/s vs pad-to-128 {d['pad128_examples_per_s']:.1f} "
          f"ex/s: {d['speedup']:.2f}x (target >= 1.5)")
    print(f"training {f['achieved_training_flop_per_s'] / 1e9:.1f} GFLOP/s vs fp32 matmul peak "
          f"{f['matmul_peak_flop_per_s'] / 1e9:.1f} GFLOP/s ({100 * f['fraction_of_peak']:.0f} %)")
    print(json.dumps({"written": str(RESULTS / "throughput.json")}))


if __name__ == "__main__":
    main()
