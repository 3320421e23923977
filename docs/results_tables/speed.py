"""The speed tables of results/index.md: training and evaluation throughput, where a step's time goes, the peer."""

from __future__ import annotations

from .common import load, table


def training_speed() -> str:
    doc = load("throughput")
    rows = []
    for variant, result in doc["training"].items():
        compiled = result.get("compile_seconds")
        note = f" after {compiled:.0f} s of compiling" if compiled else ""
        rows.append([variant, f"{result['examples_per_s']:.0f}", f"{result['vs_before']:.2f}×{note}"])
    return table([f"training, RTE + MRPC + SST-2 batches of {doc['batch_size']} ({doc['steps']} steps, median of "
                  f"{doc['repeats']})", "examples/s", "vs fp32 with multi-tensor AdamW"], rows)


def speed() -> str:
    doc = load("throughput")
    ev, conc, plain, pad, flops = (doc[k] for k in ("evaluation", "concurrency", "trainer_vs_plain",
                                                    "dynamic_vs_pad128", "flops"))
    peak = flops["matmul_peak_flop_per_s"]
    rows = [
        ["1024³ matrix multiply", f"bf16 {peak['bf16'] / 1e9:.0f} GFLOP/s, fp32 {peak['fp32'] / 1e9:.0f} "
                                  f"({peak['bf16'] / peak['fp32']:.1f}×)"],
        [f"dev evaluation (RTE + MRPC + SST-2 dev sets, {ev['examples']:,} examples)",
         f"{ev['default_examples_per_s']:.0f} vs {ev['before_examples_per_s']:.0f} examples/s "
         f"({ev['speedup']:.2f}×): {ev['default']}; before: {ev['before']}".replace("<=", "≤")],
        [f"two training processes at once on the {conc['cores']} cores, each vs one alone",
         f"{conc['two_shared_ratio']:.2f}× with auxlearn's thread share, {conc['two_all_cores_ratio']:.2f}× with a "
         "thread per core in each (PyTorch's default)"],
        ["trainer vs a plain PyTorch loop over the same batches (both bf16 + fused AdamW)",
         f"{plain['ratio']:.3f}× examples/s" + (
             f" (95 % interval {plain['ratio_interval'][0]:.3f} to {plain['ratio_interval'][1]:.3f}, "
             f"{len(plain['paired_ratios'])} alternating pairs)" if "ratio_interval" in plain else "")],
        ["dynamic padding + length grouping vs padding to 128", f"{pad['speedup']:.1f}× examples/s"],
        ["training FLOP/s vs the matmul peaks", f"{flops['achieved_training_flop_per_s'] / 1e9:.0f} GFLOP/s: "
                                                f"{flops['share_of_bf16_peak']:.0%} of the bf16 peak, "
                                                f"{flops['share_of_fp32_peak']:.0%} of the fp32 peak"],
    ]
    return table(["what (`bench/throughput.py`)", "figure"], rows).replace("%", " %")


def step_profile() -> str:
    """Where a training step's time goes (``bench/step_profile.py``), one column per profiled variant."""
    doc = load("step_profile")
    variants = list(doc)
    phases = list(next(iter(doc.values()))["phases_share"])
    kinds = sorted({k for v in doc.values() for k in v["operators_share"]},
                   key=lambda k: -max(v["operators_share"].get(k, 0.0) for v in doc.values()))
    rows = [["step", *(f"{doc[v]['step_seconds'] * 1000:.0f} ms, "
                       f"{doc[v]['examples'] / doc[v]['steps'] / doc[v]['step_seconds']:.0f} examples/s"
                       for v in variants)]]
    rows += [[f"phase: {p}", *(f"{100 * doc[v]['phases_share'][p]:.1f} %" for v in variants)] for p in phases]
    rows += [[f"operators: {k}", *(f"{100 * doc[v]['operators_share'].get(k, 0.0):.1f} %" for v in variants)]
             for k in kinds]
    rows.append(["linear layers' matrix multiplies while they run",
                 *(f"{doc[v]['linear_matmul_flop_per_s'] / 1e9:.0f} of "
                   f"{doc[v]['matmul_peak_flop_per_s'] / 1e9:.0f} GFLOP/s" for v in variants)])
    machine = next(iter(doc.values()))["machine"]
    return table([f"one step, batch 16 ({machine['cpu']}, {machine['cores']} cores)", *variants], rows)


def vs_transformers() -> str:
    """auxlearn's Trainer against ``transformers.Trainer`` on the same RTE fine-tuning."""
    doc = load("throughput")
    peer = doc.get("vs_transformers_trainer")
    if not peer:
        return "*(not measured yet: bench/throughput.py)*"
    rows = [[precision, f"{v['auxlearn_examples_per_s']:.0f}", f"{v['transformers_examples_per_s']:.0f}",
             f"{v['ratio']:.2f}× (paired {v['paired_ratio']:.2f}×)"] for precision, v in peer.items()]
    return table(["RTE fine-tuning, batch 16, length grouping, fused AdamW", "auxlearn train, examples/s",
                  "transformers.Trainer, examples/s", "auxlearn / transformers"], rows)
