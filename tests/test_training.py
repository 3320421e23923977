"""The trainer end to end on real slices with a tiny BERT: loss goes down, checkpoints, seeds, optimisers and the
results file (early stopping: test_early_stopping.py)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from transformers import AutoModel

from auxlearn.config import experiment_from_dict
from auxlearn.data.batching import collate
from auxlearn.data.loading import load_split
from auxlearn.data.task_data import build_task_data
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import build_model, build_trainer, prepare, train_experiment
from auxlearn.inference import evaluate_model, predict_file
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.tasks import builtin_tasks
from auxlearn.train.evaluation import Inference, evaluate, predict

pytestmark = pytest.mark.data

CPU = torch.device("cpu")


def read_metrics(out) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def window_loss(records: list[dict], task: str | None = None) -> float:
    """Mean training loss over the batches of ``records`` (of one task, or all)."""
    total = count = 0.0
    for record in records:
        for name, loss in record["train_loss"].items():
            if task is None or name == task:
                total += loss * record["batches"][name]
                count += record["batches"][name]
    return total / count


# --- a 30-step multi-task run (shared fixture: RTE + MRPC, 16 examples each) ------------------------------------

def test_multitask_run_lowers_the_training_loss(trained_run):
    records = read_metrics(trained_run["out"])
    assert [r["step"] for r in records] == [6, 12, 18, 24, 30]
    batches = {task: sum(r["batches"].get(task, 0) for r in records) for task in ("rte", "mrpc")}
    assert sum(batches.values()) == 30 and min(batches.values()) >= 5  # both tasks trained
    first, last = window_loss(records[:1]), window_loss(records[-1:])
    assert first > 0.5  # about ln 2 at the start: nothing learned yet
    assert last < 0.6 * first, [window_loss([r]) for r in records]
    for task in ("rte", "mrpc"):  # each task's own loss drops, not only the mix
        assert window_loss(records[-3:], task) < 0.75 * window_loss(records[:3], task)


def test_results_json_has_the_documented_keys(trained_run):
    out, exp = trained_run["out"], trained_run["exp"]
    results = json.loads((out / "results.json").read_text())
    assert results == json.loads(json.dumps(trained_run["results"]))
    for key in ("primary", "eval", "dev_best", "best_step", "steps", "seconds", "config"):
        assert key in results
    assert results["primary"] == "rte"
    assert set(results["eval"]["rte"]) == {"accuracy", "main"}
    assert all(isinstance(v, float) and 0 <= v <= 1 for v in results["eval"]["rte"].values())
    assert results["steps"] == 30 and isinstance(results["best_step"], int)
    assert results["seconds"] > 0
    assert experiment_from_dict(results["config"]) == exp  # the config is complete: it rebuilds the run
    records = read_metrics(out)
    best = max(records, key=lambda r: r["dev"]["rte"]["main"])  # first of the maxima (strict improvement)
    assert results["best_step"] == best["step"]
    assert results["dev_best"] == best["dev"]


def test_saved_model_reloads_the_best_checkpoint(trained_run, tokenizer):
    """The eval scores in results.json are those of the saved folder's model."""
    model, loaded_tokenizer, meta = MultiTaskModel.load(trained_run["out"] / "model")
    assert loaded_tokenizer.get_vocab() == tokenizer.get_vocab()
    assert meta["data"]["dev_size"] == 64 and meta["data"]["max_length"] == {"rte": 64, "mrpc": 64}
    exp = trained_run["exp"]
    prepared = prepare(exp)
    how = Inference.for_device(CPU, tokenizer.pad_token_id, meta["precision"], exp.train.eval_batch_size)
    scores = evaluate(model, "rte", prepared.data["rte"].eval, how)
    assert scores == trained_run["results"]["eval"]["rte"]


def test_saved_encoder_loads_with_plain_transformers(trained_run):
    folder = trained_run["out"] / "model"
    encoder = AutoModel.from_pretrained(folder)
    model, _, _ = MultiTaskModel.load(folder)
    plain, ours = encoder.state_dict(), model.encoder.state_dict()
    assert plain.keys() == ours.keys()
    assert all(torch.equal(plain[k], ours[k]) for k in plain)
    # ... and the encoder was trained: it differs from the random initialisation it started from.
    start = AutoModel.from_pretrained(trained_run["exp"].model).state_dict()
    assert not torch.equal(start["embeddings.word_embeddings.weight"], plain["embeddings.word_embeddings.weight"])


# --- save / load -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pair_encoding", ["cross", "siamese"])
def test_save_load_gives_identical_predictions(make_experiment, tmp_path, pair_encoding):
    exp = make_experiment(auxiliary=["mrpc", "stsb"], pooling="cls",
                          head_dropout=0.3, pair_encoding=pair_encoding)
    prepared = prepare(exp)
    model = build_model(exp, prepared, exp.tasks)
    torch.manual_seed(1)
    with torch.no_grad():  # move away from the initial weights so that a missed tensor shows
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    model.save(tmp_path / "model", prepared.tokenizer, {"note": "x"})
    loaded, _, meta = MultiTaskModel.load(tmp_path / "model")
    assert meta["pooling"] == "cls" and meta["head_dropout"] == 0.3 and meta["note"] == "x"
    assert loaded.pair_encoding == meta["pair_encoding"] == pair_encoding
    assert loaded.specs == model.specs
    model.eval()
    loaded.eval()
    pad = prepared.tokenizer.pad_token_id
    for task in exp.tasks:
        split = prepared.data[task].dev
        batch = collate(split, list(range(32)), pad)
        with torch.no_grad():
            assert torch.equal(model(task, batch), loaded(task, batch))
        how = Inference(CPU, pad, batch_size=64)
        assert predict(model, task, split, how) == predict(loaded, task, split, how)


def test_siamese_head_reads_both_texts_encoded_apart(make_experiment):
    exp = make_experiment(auxiliary=["stsb", "conll2003_ner"],
                          pair_encoding="siamese", head_dropout=0.0)
    prepared = prepare(exp)
    model = build_model(exp, prepared, exp.tasks).eval()
    hidden = model.encoder.config.hidden_size
    assert model.head("rte").out.in_features == model.head("stsb").out.in_features == 4 * hidden
    assert model.head("conll2003_ner").out.in_features == hidden  # one text: nothing to compare
    batch = collate(prepared.data["rte"].dev, list(range(8)), prepared.tokenizer.pad_token_id)

    def mean_pooled(ids, mask):
        states = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)

    with torch.no_grad():
        u = mean_pooled(batch["input_ids"], batch["attention_mask"])
        v = mean_pooled(batch["pair_input_ids"], batch["pair_attention_mask"])
        expected = model.head("rte").out(torch.cat([u, v, (u - v).abs(), u * v], dim=-1))
        assert torch.allclose(model("rte", batch), expected, atol=1e-6)
        # An example's logits do not depend on the other examples' padding.
        alone = torch.cat([model("rte", collate(prepared.data["rte"].dev, [i], prepared.tokenizer.pad_token_id))
                           for i in range(8)])
        assert torch.allclose(model("rte", batch), alone, atol=1e-5)
    cross = build_task_data(prepared.data["rte"].spec, prepared.tokenizer, data_dir=os.environ["AUXLEARN_DATA_DIR"],
                            max_length=64, dev_size=32, max_train_examples=8)
    with pytest.raises(AuxlearnError, match="siamese"):
        model("rte", collate(cross.dev, [0, 1], prepared.tokenizer.pad_token_id))


def test_a_saved_siamese_model_evaluates_and_predicts_as_it_was_trained(make_experiment, tmp_path):
    exp = make_experiment(pair_encoding="siamese")
    results = train_experiment(exp, tmp_path / "run")
    assert evaluate_model(tmp_path / "run" / "model", task="rte", split="dev") == results["dev_best"]
    assert evaluate_model(tmp_path / "run" / "model", task="rte") == results["eval"]
    rows = load_split(builtin_tasks()["rte"], "eval", os.environ["AUXLEARN_DATA_DIR"]).select(range(6))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"sentence1": r["sentence1"], "sentence2": r["sentence2"]}) + "\n"
                              for r in rows))
    predict_file(tmp_path / "run" / "model", task="rte", input_path=source, output_path=tmp_path / "out.jsonl")
    model, tokenizer, meta = MultiTaskModel.load(tmp_path / "run" / "model")
    eval_split = prepare(exp).data["rte"].eval
    how = Inference.for_device(CPU, tokenizer.pad_token_id, meta["precision"])  # as predict_file runs it
    expected = predict(model, "rte", eval_split.select(range(6)), how)
    names = model.specs["rte"].label_names
    assert [json.loads(line)["prediction"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == \
        [names[i] for i in expected]


def test_saving_over_a_model_folder_replaces_it(make_experiment, tmp_path):
    exp = make_experiment()
    prepared = prepare(exp)
    folder = tmp_path / "model"
    (folder / "stale").mkdir(parents=True)
    build_model(exp, prepared, exp.tasks).save(folder, prepared.tokenizer)
    assert not (folder / "stale").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left behind


# --- determinism -----------------------------------------------------------------------------------------------

def test_same_seed_twice_gives_identical_metrics(make_experiment, tmp_path):
    def run(seed, name):
        exp = make_experiment(
            auxiliary=["mrpc"], seed=seed,
            train={"steps": 12, "eval_every": 4, "sampler": {"name": "proportional"}})
        results = train_experiment(exp, tmp_path / name)
        records = [{k: v for k, v in r.items() if k != "seconds"} for r in read_metrics(tmp_path / name)]
        return results, records

    first, second, other = run(0, "a"), run(0, "b"), run(1, "c")
    assert first[1] == second[1]  # every dev score, train loss, batch count and lr
    assert first[0]["eval"] == second[0]["eval"]
    assert first[0]["best_step"] == second[0]["best_step"]
    assert [r["train_loss"] for r in first[1]] != [r["train_loss"] for r in other[1]]  # the seed matters


# --- optimisers ------------------------------------------------------------------------------------------------

def make_trainer(exp, prepared=None):
    prepared = prepared or prepare(exp)
    return build_trainer(exp, prepared, build_model(exp, prepared, exp.tasks))


def test_per_task_optimizer_gives_each_task_its_own_optimiser(make_experiment):
    exp = make_experiment(
        auxiliary=["mrpc", "stsb"], train={"optimizer": "per_task", "steps": 12, "eval_every": 6,
                                           "sampler": {"name": "uniform"}})
    trainer = make_trainer(exp)
    model = trainer.model
    optimizers = {task: trainer.optimizers[task][0] for task in exp.tasks}
    schedulers = {task: trainer.optimizers[task][1] for task in exp.tasks}
    assert len({id(o) for o in optimizers.values()}) == 3
    assert len({id(s) for s in schedulers.values()}) == 3
    encoder = {id(p) for p in model.encoder.parameters()}
    for task, optimizer in optimizers.items():
        params = {id(p) for group in optimizer.param_groups for p in group["params"]}
        assert params == encoder | {id(p) for p in model.heads[task].parameters()}
    heads_before = {t: model.heads[t].out.weight.detach().clone() for t in exp.tasks}
    outcome = trainer.train()
    assert outcome.steps == 12 and outcome.stopped == "budget"
    for task in exp.tasks:
        assert optimizers[task].state  # each task's optimiser stepped ...
        assert not torch.equal(heads_before[task], model.heads[task].out.weight)  # ... and moved its head


def test_shared_optimizer_is_one_object(make_experiment):
    exp = make_experiment(auxiliary=["mrpc"])
    trainer = make_trainer(exp)
    assert trainer.optimizers["rte"] is trainer.optimizers["mrpc"]
    params = {id(p) for group in trainer.optimizers["rte"][0].param_groups for p in group["params"]}
    assert params == {id(p) for p in trainer.model.parameters()}


@pytest.mark.parametrize("optimizer", ["shared", "per_task"])
def test_head_lr_moves_the_heads_at_their_own_rate(make_experiment, optimizer):
    """One Adam step moves a parameter by about its learning rate: heads by head_lr, the encoder by lr."""
    exp = make_experiment(
        auxiliary=["mrpc"],
        train={"optimizer": optimizer, "steps": 1, "warmup": 0, "eval_every": 1, "lr": 1e-4, "head_lr": 1e-2})
    trainer = make_trainer(exp)
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    moved = {name: (p.detach() - before[name]).abs().max().item() for name, p in trainer.model.named_parameters()}
    head_moves = [m for name, m in moved.items() if name.startswith("heads.") and m > 0]
    encoder_moves = [m for name, m in moved.items() if name.startswith("encoder.") and m > 0]
    assert head_moves and max(head_moves) == pytest.approx(1e-2, rel=0.05)
    assert encoder_moves and max(encoder_moves) == pytest.approx(1e-4, rel=0.05)


@pytest.mark.parametrize("optimizer", ["shared", "per_task"])
def test_every_step_uses_the_global_learning_rate_schedule(make_experiment, optimizer):
    """Warm-up then linear decay by the global step, also for a task's optimiser that skipped steps."""
    exp = make_experiment(
        auxiliary=["mrpc"],
        train={"optimizer": optimizer, "steps": 20, "warmup": 5, "eval_every": 20, "lr": 1e-3,
               "sampler": {"name": "fixed", "ratios": {"rte": 1, "mrpc": 3}}})
    trainer = make_trainer(exp)
    used = []
    for opt in {id(o): o for o, _ in trainer.optimizers.values()}.values():
        opt.register_step_pre_hook(lambda opt, args, kwargs: used.append((trainer.step, opt.param_groups[0]["lr"])))
    trainer.train()
    assert [step for step, _ in used] == list(range(20))
    for step, lr in used:
        expected = 1e-3 * (step + 1) / 5 if step < 5 else 1e-3 * (20 - step) / 15
        assert lr == pytest.approx(expected), (step, lr, expected)
