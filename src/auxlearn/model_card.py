"""The model card (``README.md``) of a saved model folder, in the Hugging Face Hub's format.

A folder pushed to the Hub then has a page that says what the model is for and how well it does: YAML metadata
(base model, datasets, metrics, a model-index entry with the primary's eval score, which the Hub shows as its
evaluation results) and a body with how it was trained. `auxlearn run` adds the run's evidence (``extra``): the
gain over the primary alone and the control, the selection and its reasons, the ratios and the seeds.
``huggingface_hub`` renders the metadata, so the card is what its own parser and the Hub read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from auxlearn.io import write_text_atomic
from auxlearn.models.encoder import hub_model_id
from auxlearn.tasks.spec import TaskSpec
from auxlearn.version import __version__

CARD = "README.md"
TAGS = ["auxlearn", "multi-task-learning", "auxiliary-tasks"]


def write_model_card(folder: str | Path, results: Mapping[str, Any], specs: Mapping[str, TaskSpec], *,
                     peft: bool = False, extra: Sequence[str] = ()) -> Path:
    """Write ``folder/README.md`` for the arm whose ``results.json`` is ``results``; ``extra``: sections (Markdown,
    each with its own heading) placed after the evaluation."""
    card = model_card(results, specs, peft=peft, extra=extra)
    return write_text_atomic(Path(folder) / CARD, str(card))


def model_card(results: Mapping[str, Any], specs: Mapping[str, TaskSpec], *, peft: bool = False,
               extra: Sequence[str] = ()) -> ModelCard:
    config, primary = results["config"], results["primary"]
    spec = specs[primary]
    scores = {k: v for k, v in (results.get("eval") or {}).get(primary, {}).items() if k != "main"}
    name = f"{config['name']}-{primary}"
    evals = [EvalResult(task_type=spec.task_type.hub_task, dataset_type=_dataset_id(spec), dataset_name=
                        _dataset_name(spec), dataset_config=spec.source.config, dataset_split=_eval_split(spec),
                        metric_type=metric, metric_value=round(float(value), 4)) for metric, value in scores.items()]
    data = ModelCardData(
        base_model=hub_model_id(config["model"]), library_name="peft" if peft else "transformers",
        tags=[*TAGS, spec.task_type.hub_task], model_name=name, metrics=list(scores) or None,
        datasets=sorted({_dataset_id(specs[t]) for t in results["tasks"] if t in specs and specs[t].source.path}) or None,
        eval_results=evals or None)
    body = [f"# {name}", _summary(results, spec), _evaluation(scores, spec), *extra, _training(results, specs),
            _usage(peft, primary)]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(body) + "\n")


def _summary(results: Mapping[str, Any], spec: TaskSpec) -> str:
    auxiliary = [t for t in results["tasks"] if t != results["primary"]]
    trained = (f"together with the auxiliary task(s) {', '.join(f'`{t}`' for t in auxiliary)}" if auxiliary
               else "on it alone")
    base = hub_model_id(results["config"]["model"]) or "a local encoder"
    return (f"A {spec.type} model for `{results['primary']}` ({spec.task_type.hub_task}), fine-tuned from {base} "
            f"{trained} with auxlearn {__version__}. The folder holds the "
            "encoder, its tokenizer and the task heads (`heads.safetensors`, described by `tasks.json`).")


def _evaluation(scores: Mapping[str, float], spec: TaskSpec) -> str:
    if not scores:
        return "## Evaluation\n\nNot scored on an eval split."
    rows = "\n".join(f"| {metric} | {value:.4f} |" for metric, value in scores.items())
    return (f"## Evaluation\n\nOn `{_dataset_name(spec)}`'s `{_eval_split(spec)}` split, which chose nothing "
            f"(early stopping and every choice used a dev split carved from train):\n\n| metric | score |\n"
            f"|---|---|\n{rows}")


def _training(results: Mapping[str, Any], specs: Mapping[str, TaskSpec]) -> str:
    config, train = results["config"], results["config"]["train"]
    sizes, steps = results.get("train_sizes") or {}, _task_steps(results)
    tasks = "\n".join(f"| `{t}` | {specs[t].type if t in specs else '–'} | "
                      f"{_dataset_name(specs[t]) if t in specs else '–'} | {sizes.get(t, '–')} | "
                      f"{steps.get(t, '–')} |" for t in results["tasks"])
    phases = ", ".join(f"{p['label']} ({p['steps']} steps)" for p in results.get("phases") or [])
    lines = [
        "## Training", "",
        "| task | type | data | training examples | steps on it |", "|---|---|---|---|---|", tasks, "",
        f"- protocol: {results.get('protocol', 'single')}" + (f" ({results['protocol_rule']})"
                                                              if results.get("protocol_rule") else "")
        + (f"; phases: {phases}" if phases else ""),
        f"- sampler: {_sampler(results.get('sampler') or {})}",
        f"- steps: {results.get('steps')} (best dev step {results.get('best_step')}), batch size "
        f"{train['batch_size']}, learning rate {train['lr']:g}, precision {results.get('precision', '–')}",
        f"- seed: {config['seed']}; adapter: {config.get('adapter', {}).get('method', 'full')}",
    ]
    return "\n".join(lines)


def _task_steps(results: Mapping[str, Any]) -> dict[str, int]:
    """Each task's batches over the arm's phases (a sequential arm trains its auxiliary tasks in the first)."""
    steps: dict[str, int] = {}
    for phase in results.get("phases") or [results]:
        for task, count in (phase.get("task_steps") or {}).items():
            steps[task] = steps.get(task, 0) + count
    return steps


def _sampler(sampler: Mapping[str, Any]) -> str:
    ratios = sampler.get("ratios") or sampler.get("probabilities")
    shares = f" ({', '.join(f'{t} {r:.3g}' for t, r in ratios.items())})" if isinstance(ratios, Mapping) else ""
    return f"{sampler.get('name', 'uniform')}{shares}"


def _usage(peft: bool, primary: str) -> str:
    load = ("from peft import AutoPeftModel\nencoder = AutoPeftModel.from_pretrained(folder)  # the encoder with "
            "its adapter" if peft else "from transformers import AutoModel\nencoder = AutoModel.from_pretrained("
            "folder)  # the fine-tuned encoder")
    return ("## Use\n\n```python\nfrom auxlearn.models.multitask import MultiTaskModel\nmodel, tokenizer, meta = "
            f"MultiTaskModel.load(folder)  # encoder and task heads\n\n{load}\n```\n\nor from the command line: "
            f"`auxlearn predict FOLDER --task {primary} --input rows.jsonl`.")


def _dataset_id(spec: TaskSpec) -> str:
    return spec.source.path or spec.name


def _dataset_name(spec: TaskSpec) -> str:
    source = spec.source
    if source.path:
        return f"{source.path} ({source.config})" if source.config else source.path
    return spec.name if source.files is None else f"{spec.name} (local files)"


def _eval_split(spec: TaskSpec) -> str:
    return spec.source.splits.get("eval", "eval") if spec.source.files is None else "eval"
