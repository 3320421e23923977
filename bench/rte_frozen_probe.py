"""How much RTE all-MiniLM-L6-v2 knows before any fine-tuning: linear probes on its frozen sentence embeddings.

The model was trained as a bi-encoder, so each text of a pair is embedded alone (``pair_encoding: siamese``)
and compared. Two probes, each fitted on train and chosen on dev (carved from train); eval (the official
validation set) is only reported:

- the cosine similarity of the two embeddings, thresholded (one parameter, the model's own notion of "same
  meaning");
- logistic regression (scikit-learn) on ``[u, v, |u - v|, u * v, cos]`` of the unit-normalised embeddings,
  its inverse regularisation ``C`` chosen on dev.

A fine-tuned recipe that cannot beat these on eval has learnt nothing that transfers beyond what the
embeddings already hold. Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/rte_frozen_probe.py
Writes bench/results/rte_frozen_probe.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from auxlearn.config_files import load_experiment
from auxlearn.data.batching import eval_batches
from auxlearn.experiment import build_model, prepare
from auxlearn.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "rte_single.yaml"
RESULTS = ROOT / "bench" / "results" / "rte_frozen_probe.json"
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)


@torch.no_grad()
def features(model, split, pad_id: int) -> np.ndarray:
    """``[u, v, |u - v|, u * v, cos]`` of the unit-normalised embeddings of each pair, in the split's order."""
    rows = np.zeros((len(split), 4 * model.encoder.config.hidden_size + 1), dtype=np.float32)
    for indices, batch in eval_batches(split, 64, pad_id):
        u = torch.nn.functional.normalize(model.embed(batch["input_ids"], batch["attention_mask"]), dim=-1)
        v = torch.nn.functional.normalize(model.embed(batch["pair_input_ids"], batch["pair_attention_mask"]), dim=-1)
        rows[indices] = torch.cat([u, v, (u - v).abs(), u * v, (u * v).sum(-1, keepdim=True)], dim=-1).numpy()
    return rows


def main() -> None:
    exp = load_experiment(CONFIG, ["pair_encoding=siamese"])
    prepared = prepare(exp)
    model = build_model(exp, prepared, [exp.primary]).eval()
    data = prepared.data[exp.primary]
    entailment = data.spec.label_names.index("entailment")
    x = {name: features(model, data.split(name), prepared.tokenizer.pad_token_id) for name in ("train", "dev", "eval")}
    y = {name: np.asarray(data.split(name).labels) for name in x}

    cos = {name: x[name][:, -1] for name in x}
    thresholds = np.unique(cos["train"])
    train_accuracy = [((cos["train"] > t) == (y["train"] == entailment)).mean() for t in thresholds]
    threshold = float(thresholds[int(np.argmax(train_accuracy))])
    cosine = {name: float(((cos[name] > threshold) == (y[name] == entailment)).mean()) for name in x}

    fits = []
    for c in C_GRID:
        probe = LogisticRegression(C=c, max_iter=5000).fit(x["train"], y["train"])
        fits.append({"C": c, **{name: float(probe.score(x[name], y[name])) for name in x}})
    chosen = max(fits, key=lambda fit: fit["dev"])
    record = {"config": CONFIG.name, "model": exp.model, "sizes": {name: len(y[name]) for name in x},
              "cosine_threshold": {"threshold": threshold, **cosine},
              "logistic_regression": {"chosen_by_dev": chosen, "grid": fits}}
    write_json_atomic(RESULTS, record)
    print(f"cosine threshold {threshold:.3f}: train {cosine['train']:.3f} dev {cosine['dev']:.3f} "
          f"eval {cosine['eval']:.3f}")
    for fit in fits:
        print(f"logistic regression C={fit['C']}: train {fit['train']:.3f} dev {fit['dev']:.3f} eval {fit['eval']:.3f}"
              + ("  <- chosen by dev" if fit is chosen else ""))


if __name__ == "__main__":
    main()
