"""The model cards of a run's final models, with the run's evidence: a model pushed to the Hub from ``final/``
then says what it gained over the primary alone and over the control (paired by seed, with the t-interval), which
auxiliary tasks were chosen and why, the ratios, the protocol and the seeds.

`auxlearn run` writes each arm's card as it saves the model (``auxlearn.model_card``); the report adds this run
section to the final models' cards, so `auxlearn report` also brings them up to date.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from auxlearn.errors import DamagedFileError
from auxlearn.io import read_json_mapping
from auxlearn.model_card import write_model_card
from auxlearn.report.content import context_text
from auxlearn.report.verdict import headline_table, lead, outcome, run_gains, verdict_text
from auxlearn.report_kit.markdown import table_markdown
from auxlearn.report_kit.run_data import RunData
from auxlearn.tasks.spec import TaskSpec


def write_run_cards(data: RunData) -> list[Path]:
    """Rewrite the card of every seed's final model (the baseline's when the final model is the baseline) with
    the run's section; the folders that hold no saved model are left alone."""
    arm = "baseline" if data.same_as_baseline else "final"
    section, written = run_section(data), []
    for seed in data.seeds:
        folder = data.run_dir / arm / f"seed_{seed}"
        if not (folder / "model" / "tasks.json").is_file() or not (folder / "results.json").is_file():
            continue
        results = read_json_mapping(folder / "results.json", "config", "primary", "tasks")
        written.append(write_model_card(folder / "model", results, _specs(folder / "model"),
                                        peft=(folder / "model" / "adapter_config.json").is_file(),
                                        extra=[f"{section}\n\nThis folder is the model of seed {seed}; the run "
                                               f"trained seeds {', '.join(data.seeds)}, each arm once per seed, "
                                               "and the gains pair them seed by seed."]))
    return written


def run_section(data: RunData) -> str:
    """The run's answer, its gain table, how the final model came about and the selection's scores (the same in
    every seed's card)."""
    gains = run_gains(data)
    answer = outcome(data, gains)
    scores = data.selection_scores
    rows = "\n".join(f"| `{task}` | {score:.4f} | {'yes' if task in data.selected else 'no'} |"
                     for task, score in sorted(scores.items(), key=lambda kv: -kv[1]))
    selection = (f"\n\nSelection scores ({data.selection_method}):\n\n| candidate | score | kept |\n|---|---|---|\n"
                 f"{rows}" if rows else "")
    return (f"## The run that chose it\n\n**{lead(gains, answer)}** {verdict_text(data, gains, answer)}\n\n"
            f"{table_markdown(headline_table(data, gains))}\n\n{context_text(data)}{selection}")


def _specs(model: Path) -> dict[str, TaskSpec]:
    """The task specs a saved model keeps in tasks.json (their data sources name the datasets)."""
    document = read_json_mapping(model / "tasks.json")
    try:
        return {name: TaskSpec.model_validate(spec) for name, spec in document.items()}
    except ValidationError as error:
        raise DamagedFileError(f"{model / 'tasks.json'}: not the task specs auxlearn wrote "
                               f"({error.errors()[0]['msg']})") from None
