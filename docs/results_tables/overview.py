"""The tables of results/index.md ("On a 2-core CPU"): the demo, precision, costs, robustness, RTE (speed: speed.py)."""

from __future__ import annotations

from .common import example_steps, interval, load, mean_std, minutes, name, span, spearman, table


# ------------------------------------------------------------------------------------------ make demo, precision


def demo() -> str:
    doc = load("demo")
    rows = []
    for run in doc["runs"]:
        config = run.get("config") or {}
        ratios = run.get("ratios") or config.get("mix", {}).get("ratios")
        steps = config.get("train", {}).get("steps") or example_steps("demo.yaml")
        where = DEMO_MACHINES.get(run["date"], run.get("note", ""))
        final, base, control = (list(run["eval"][arm].values()) for arm in ("final", "baseline", "control"))
        gain, versus = run["final_vs_baseline"], run["final_vs_control"]
        improved = round(gain["improved"] * len(gain["per_seed"]))
        rows.append([f"{run['date']}: {where}", f"{ratios['mnli'] * steps} ({ratios['mnli']}:{ratios['rte']})",
                     minutes(run["wall_seconds"]), mean_std(final), mean_std(base), mean_std(control),
                     f"{interval(gain)}, {improved} of {len(gain['per_seed'])}", interval(versus)])
    choice = f"\n\nThe ratio of `examples/demo.yaml`, as `bench/demo.py` recorded: {doc['choice']}." if doc.get(
        "choice") else ""
    return table(["run: machine", "MNLI batches (MNLI:RTE)", "wall time", "final, RTE eval accuracy",
                  "RTE alone", "control", "final − alone (95 % t-interval), seeds improved",
                  "final − control (95 % t-interval)"], rows) + choice


# The demo runs' machines, by date (demo.json records the machine of its later runs only by its platform string).
DEMO_MACHINES = {
    "2026-11-29": "AVX-512 BF16 EPYC (bf16), warm tokenization cache",
    "2026-12-03 13:08": "AVX2-only EPYC (fp32), cold cache",
}


MEMORY_JOBS = {"demo": "`make demo`'s job (`auxlearn run examples/demo.yaml`, 5 seeds)",
               "rte_single_train": "`auxlearn train examples/rte_single.yaml`",
               "rte_single_train_mmap_8mib": "the same with 8 MiB mmap and trim thresholds (faster, higher peak)",
               "demo_short": "the demo's run, 10 steps, 3 seeds",
               "demo_short_without_release": "the same, finished runs not collected (the code before the fix)"}


def memory() -> str:
    doc = load("memory")
    rows = [[MEMORY_JOBS.get(name, name), f"{job['peak_rss_gb']:.2f} GB", minutes(job["wall_seconds"]),
             job["machine"]["cpu"], job["date"]]
            for name, job in sorted(doc["jobs"].items(), key=lambda kv: list(MEMORY_JOBS).index(kv[0]))]
    check = ""
    if "release_keeps_scores" in doc:
        check = (f"\n\nCollecting the finished runs saves {doc['release_saves_gb']:.2f} GB at the short run's peak; "
                 f"its eval scores are {'identical' if doc['release_keeps_scores'] else 'NOT identical'} with and "
                 "without it.")
    return table(["job", "peak resident memory", "wall time", "CPU", "date"], rows) + check


FROZEN = "auto_frozen_word_embeddings"  # bench/precision_parity.py's arm


def precision() -> str:
    doc = load("precision_parity")
    rows = []
    for task, summary in doc["summary"].items():
        example = f"{task}_single.yaml"
        bf16, fp32 = summary["auto"], summary["fp32"]
        seeds = summary["seeds"]
        rows.append([f"`examples/{example}` ({example_steps(example)} steps)",
                     f"{seeds[0]}–{seeds[-1]}",
                     f"{bf16['train_seconds_mean'] / 60:.1f} / {fp32['train_seconds_mean'] / 60:.1f}",
                     f"{bf16['eval_mean']:.3f} ± {bf16['eval_std']:.3f}",
                     f"{fp32['eval_mean']:.3f} ± {fp32['eval_std']:.3f}",
                     mean_std_of(summary.get("auto_torch_dropout")),
                     frozen_of(summary)])
    return table(["recipe", "seeds", "minutes of training, bf16 / fp32 (trained in different sessions: speed is "
                  "`bench/throughput.py`'s)",
                  "eval main metric, bf16 (the default)", "eval main metric, fp32",
                  "bf16 with torch's dropout (the default before)",
                  "the default with the word embeddings frozen (paired difference from the default)"],
                 rows).replace("%", " %")


def frozen_of(summary: dict) -> str:
    stats = summary.get(FROZEN)
    if not stats:
        return "–"
    gap = summary["vs_auto"][FROZEN]
    low, high = gap["paired_interval"]
    return f"{mean_std_of(stats)} ({gap['paired_difference'][0]:+.3f}, 95% interval {low:+.3f} to {high:+.3f})"


def mean_std_of(stats) -> str:
    return "–" if not stats else f"{stats['eval_mean']:.3f} ± {stats['eval_std']:.3f}"


def weighting_costs() -> str:
    doc = load("weightings")
    rows = []
    for weighting, result in doc["weightings"].items():
        per_step = result["task_batches"] / result["steps"]
        rows.append([f"`{weighting}`", f"{result['seconds_per_step']:.2f} s", f"{per_step:.0f}",
                     f"{result['vs_static']:.1f}×"])
    tasks = " + ".join(name(t) for t in doc["tasks"])
    precision = next(iter(doc["weightings"].values()))["precision"]
    return table([f"`train.weighting` ({tasks}, batch {doc['batch_size']}, {precision})", "seconds per step",
                  "task batches per step", "vs `static`"], rows)


# ------------------------------------------------------------------------------------------- costs, robustness


def stage_costs() -> str:
    autosem, gradts, compare = load("autosem"), load("gradts"), load("gradts_compare")
    seconds = {method: [compare["results"][p][method]["select_seconds"] for p in compare["results"]]
               for method in ("gradts", "autosem", "exhaustive")}
    primaries = " / ".join(name(p) for p in compare["results"])
    candidates = len(next(iter(compare["results"].values()))["gradts"]["scores"])
    rows = [
        [f"AutoSeM stage 1 vs the single-task baseline, same steps ({autosem['a']['steps']})",
         f"{autosem['a']['ratio']:.2f}× wall time"],
        [f"GradTS head importance ({name(gradts['primary'])} + {len(gradts['candidates'])} candidates) vs one "
         f"{name(gradts['primary'])} baseline", f"{gradts['ratio']:.2f}× wall time"],
        [f"selection on {primaries}, {candidates} candidates, {compare['steps']}-step runs "
         "(`bench/gradts.py --compare`)",
         f"GradTS {span(seconds['gradts'])} s, AutoSeM {span(seconds['autosem'])} s, exhaustive pairs "
         f"{span(seconds['exhaustive'])} s"],
    ]
    return table(["what", "figure"], rows)


def robustness() -> str:
    kill, ckpt = load("kill_resume"), load("checkpoint_overhead")
    summary = kill["summary"]
    stages = ", ".join(f"{count} {KILL_STAGES.get(stage, stage)}" for stage, count in summary["stages"].items()
                       if count)
    rows = [
        [f"`kill -9` at {summary['kills']} random moments of a small `run` (`bench/kill_resume.py`: a tiny BERT, RTE "
         f"with MRPC and STS-B, 2 seeds, exhaustive selection, GP-BO mixing, final, control; "
         f"{kill['reference_seconds']:.1f} s uninterrupted), then re-run into its folder",
         f"{summary['identical']} of {summary['kills']} resumed runs end with the uninterrupted `results.json` "
         f"(timings aside); {summary['with_rewritten_training'] or 'none'} retrained a finished seed, trial, phase or "
         f"stage; {summary['resumed_from_checkpoint']} went on from a mid-arm checkpoint (the kills landed in: "
         f"{stages})"],
        [f"checkpoints at the default interval (`bench/checkpoint_overhead.py`: `examples/rte_single.yaml`, "
         f"{ckpt['steps']} steps, a checkpoint every {ckpt['checkpoint_every']}), {ckpt['precision']}",
         f"{ckpt['seconds_per_checkpoint']:.2f} s per checkpoint ({ckpt['checkpoint_megabytes']:.0f} MB: model, "
         f"AdamW moments, best weights so far, generators) against {ckpt['seconds_per_step']:.2f} s per training "
         f"step: {ckpt['overhead_percent']:.2f} % of the training time"],
    ]
    return table(["what (AVX2-only EPYC)", "figure"], rows)


KILL_STAGES = {"started": "before the baseline folder", "preparing": "while preparing data", "select": "selection",
               "mix": "mixing"}


def workers() -> str:
    doc = load("workers")
    settings = doc["settings"]
    rows = []
    for case in ("together", "killed"):
        result = doc[case]
        study = result["study"]
        states = ", ".join(f"{n} {state.lower()}" for state, n in study["states"].items())
        rows.append([case, f"{study['scored']} ({states})", study["distinct_scored_params"], study["duplicate_params"],
                     len(study["reruns"]), " / ".join(str(n) for n in study["scored_by_worker"].values()),
                     f"{result['seconds']:.0f} s", "yes" if result["met"] else "no"])
    return table([f"{settings['workers']} PostgreSQL workers, {settings['trials']} `{settings['method']}` trials",
                  "trials scored (states)", "distinct ratios", "duplicates", "reruns", "scored by each worker",
                  "seconds", "all checks met"], rows)


# ---------------------------------------------------------------------------------------------- RTE recipes


def rte_recipes() -> str:
    doc = load("rte_single")
    chosen = doc["choices"][-1]
    rows = []
    for variant, result in doc["variants"].items():
        runs = result["runs"]
        label = f"**{variant}** (dev's choice)" if variant == chosen["variant"] else variant
        finalist = "yes" if variant in chosen["among"] else ""
        rows.append([label, ", ".join(f"`{o}`" for o in result["overrides"]) or "(as shipped)",
                     f"{runs[0]['seed']}–{runs[-1]['seed']}" if len(runs) > 1 else str(runs[0]["seed"]),
                     f"{result['dev_mean']:.3f}", mean_std(r["eval"] for r in runs), finalist])
    every = [r for result in doc["variants"].values() for r in result["runs"]]
    rho = spearman([r["dev"] for r in every], [r["eval"] for r in every])
    return (table(["recipe (`bench/rte_single.py`)", "overrides", "seeds", "dev mean", "eval accuracy",
                   f"finalist (seeds {chosen['seeds'][0]}–{chosen['seeds'][-1]})"], rows)
            + f"\n\n{len(doc['variants'])} recipes, {len(every)} runs; Spearman's ρ between dev and eval over the "
              f"runs: {rho:.2f}.")


def rte_probe() -> str:
    doc = load("rte_frozen_probe")
    cosine, logistic = doc["cosine_threshold"], doc["logistic_regression"]
    rows = [[f"cosine threshold ({cosine['threshold']:.3f})", *(f"{cosine[s]:.3f}" for s in ("train", "dev", "eval"))]]
    for probe in logistic["grid"]:
        chosen = " (dev's choice)" if probe["C"] == logistic["chosen_by_dev"]["C"] else ""
        rows.append([f"logistic regression, C = {probe['C']:g}{chosen}",
                     *(f"{probe[s]:.3f}" for s in ("train", "dev", "eval"))])
    sizes = doc["sizes"]
    return table(["probe on frozen embeddings (`bench/rte_frozen_probe.py`)", f"train ({sizes['train']:,})",
                  f"dev ({sizes['dev']})", f"eval ({sizes['eval']})"], rows)
