"""AANG's objective space on hand-checked tiny inputs: which positions each transform changes, which positions
each attention pattern lets attend to which, and which (I, T, R, O) combinations are legal."""

from __future__ import annotations

import pytest
import torch

from auxlearn.aang.objectives.attention import attention_pattern
from auxlearn.aang.objectives.space import PRESETS, Objective, SearchSpace, enumerate_space
from auxlearn.aang.objectives.transforms import TokenTransform

PADDED = torch.tensor([[1, 1, 1, 1, 0]])  # four real tokens, one padding position


def _mask(pattern, attention_mask=PADDED, seed=0):
    return attention_pattern(pattern, attention_mask, torch.Generator().manual_seed(seed))[:, 0].int()


def test_the_one_way_patterns_by_hand():
    assert _mask("left_to_right")[0].tolist() == [[1, 0, 0, 0, 0],
                                                  [1, 1, 0, 0, 0],
                                                  [1, 1, 1, 0, 0],
                                                  [1, 1, 1, 1, 0],
                                                  [1, 1, 1, 1, 0]]  # padding query: sees the real tokens
    assert _mask("right_to_left")[0].tolist() == [[1, 1, 1, 1, 0],
                                                  [0, 1, 1, 1, 0],
                                                  [0, 0, 1, 1, 0],
                                                  [0, 0, 0, 1, 0],
                                                  [0, 0, 0, 0, 1]]  # padding query: sees nothing else, so itself
    assert _mask("bidirectional")[0].tolist() == [[1, 1, 1, 1, 0]] * 5


def test_random_factorisation_is_an_order_of_the_positions():
    masks = _mask("random_factorised", torch.ones(8, 6, dtype=torch.long), seed=3)
    for mask in masks:
        assert mask.diagonal().all()
        off = mask - torch.eye(6, dtype=torch.int)
        assert (off + off.T).eq(1).sum() == 30  # every pair ordered one way exactly
        assert sorted(mask.sum(1).tolist()) == [1, 2, 3, 4, 5, 6]  # first sees itself, last sees all
    assert not torch.equal(masks[0], masks[1])  # an order per sequence
    assert torch.equal(masks, _mask("random_factorised", torch.ones(8, 6, dtype=torch.long), seed=3))


@pytest.mark.parametrize("pattern, unaffected", [("left_to_right", slice(0, 3)), ("right_to_left", slice(4, 6))])
def test_an_encoder_under_a_one_way_pattern_never_sees_the_other_side(pattern, unaffected):
    """Changing token 3 leaves the outputs before it (left to right) or after it (right to left) unchanged."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    encoder = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=32)).eval()
    ids = torch.randint(5, 50, (1, 6))
    changed = ids.clone()
    changed[0, 3] = 4
    mask = attention_pattern(pattern, torch.ones(1, 6, dtype=torch.long))
    with torch.no_grad():
        before, after = (encoder(input_ids=x, attention_mask=mask).last_hidden_state for x in (ids, changed))
    assert torch.allclose(before[0, unaffected], after[0, unaffected], atol=1e-6)
    assert not torch.allclose(before[0, 3], after[0, 3])


@pytest.fixture(scope="module")
def words(tokenizer):
    encoded = tokenizer(["the cat sat on the mat and looked at the dog for a long while"] * 64, padding="max_length",
                        max_length=24, return_special_tokens_mask=True, return_tensors="pt")
    return encoded["input_ids"], encoded["special_tokens_mask"]  # padding counts as special


@pytest.mark.parametrize("transform", ["none", "replace", "mask", "bert"])
def test_a_transform_changes_only_selected_ordinary_tokens(tokenizer, words, transform):
    ids, special = words
    changed, labels = TokenTransform(transform, tokenizer, rate=0.5, seed=1)(ids, special)
    selected = labels != -100
    assert not (selected & special.bool()).any()  # special tokens and padding are never selected
    assert torch.equal(labels[selected], ids[selected])  # the labels are the original tokens
    assert torch.equal(changed[~selected], ids[~selected])  # nothing else changes
    assert 0.4 < selected.sum() / (~special.bool()).sum() < 0.6
    moved = changed[selected] != ids[selected]
    if transform == "none":
        assert not moved.any()
    if transform == "mask":
        assert (changed[selected] == tokenizer.mask_token_id).all()
    if transform == "replace":
        assert (changed[selected] != tokenizer.mask_token_id).all() and moved.float().mean() > 0.9


def test_bert_masks_80_replaces_10_keeps_10(tokenizer, words):
    ids, special = words
    changed, labels = TokenTransform("bert", tokenizer, rate=0.5, seed=2)(ids.repeat(8, 1), special.repeat(8, 1))
    selected = labels != -100
    masked = (changed[selected] == tokenizer.mask_token_id).float().mean()
    kept = (changed[selected] == labels[selected]).float().mean()
    assert abs(masked - 0.8) < 0.03 and abs(kept - 0.1) < 0.02  # about 3,500 selected tokens


def test_a_transform_resumes_its_draws(tokenizer, words):
    ids, special = words
    first = TokenTransform("bert", tokenizer, seed=5)
    first(ids, special)
    state = first.state_dict()
    expected = first(ids, special)
    second = TokenTransform("bert", tokenizer, seed=99)
    second.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(second(ids, special), expected))


def test_the_presets_recover_the_named_objectives():
    def only(name):
        legal, _ = enumerate_space(PRESETS[name], "citation_intent")
        return [o.name for o in legal]

    assert only("tapt") == ["citation_intent/bert/bidirectional/denoise"]
    assert only("gpt") == ["citation_intent/none/left_to_right/denoise"]
    assert only("xlnet") == ["citation_intent/mask/random_factorised/denoise"]
    legal, illegal = enumerate_space(PRESETS["vbasic"], "ci")
    assert len(legal) == 14 and set(illegal) == {Objective("ci", "none", "bidirectional", "denoise"),
                                                 Objective("ci", "none", "random_factorised", "denoise")}


def test_illegal_combinations_are_listed_with_their_reason():
    space = SearchSpace(inputs=["task", "domain"], outputs=["denoise", "task"])
    legal, illegal = enumerate_space(space, "ci")
    assert len(legal) + len(illegal) == 2 * 4 * 4 * 2
    reasons = {o.name: r for o, r in illegal.items()}
    assert "copy task" in reasons["ci/none/bidirectional/denoise"]
    assert "task 'ci' itself" in reasons["ci/none/bidirectional/ci"]
    assert "one-way" in reasons["ci/mask/left_to_right/ci"]
    assert "own task's text" in reasons["domain/mask/bidirectional/ci"]
    assert Objective("ci", "mask", "bidirectional", "ci") in legal  # the label from corrupted text
    assert Objective("domain", "none", "right_to_left", "denoise") in legal  # a backward LM on domain text


def test_a_search_space_rejects_repeats_and_unknown_values():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="repeated: mask"):
        SearchSpace(transforms=["mask", "mask"])
    with pytest.raises(ValidationError, match="transforms"):
        SearchSpace(transforms=["shuffle"])


def _batch(tokenizer):
    encoded = tokenizer(["the cat sat on the mat and looked at the dog", "a short one"], padding=True,
                        return_tensors="pt")
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
            "labels": torch.tensor([1, 0])}


@pytest.mark.parametrize("attention, step", [("left_to_right", 1), ("right_to_left", -1)])
def test_denoising_without_a_transform_predicts_the_next_token_in_the_patterns_direction(tokenizer, attention, step):
    from auxlearn.aang.objectives.batches import ObjectiveBatcher

    batch = _batch(tokenizer)
    out = ObjectiveBatcher(Objective("task", "none", attention, "denoise"), tokenizer, rate=0.9, seed=0)(batch)
    ids, labels, real = batch["input_ids"], out["labels"], batch["attention_mask"].bool()
    assert torch.equal(out["input_ids"], ids)  # nothing hidden: the target is a token the position cannot see
    targets = (labels != -100).nonzero().tolist()
    assert len(targets) > 8
    for row, position in targets:
        assert real[row, position + step] and labels[row, position] == ids[row, position + step]
        assert ids[row, position] not in tokenizer.all_special_ids
    assert out["attention_pattern"].shape == (2, 1, ids.shape[1], ids.shape[1])
    assert torch.equal(out["attention_mask"], batch["attention_mask"])  # pooling still reads the padding mask


def test_a_supervised_output_keeps_its_labels_and_corrupts_its_input(tokenizer):
    from auxlearn.aang.objectives.batches import ObjectiveBatcher

    batch = _batch(tokenizer)
    out = ObjectiveBatcher(Objective("task", "mask", "bidirectional", "rte"), tokenizer, rate=0.5, seed=0)(batch)
    assert torch.equal(out["labels"], batch["labels"])
    assert (out["input_ids"] == tokenizer.mask_token_id).sum() > 0


def test_the_model_attends_by_the_objectives_pattern(tokenizer):
    """Through MultiTaskModel: a left-to-right pattern makes the first token's output blind to the rest."""
    from transformers import BertConfig, BertModel

    from auxlearn.models.multitask import MultiTaskModel
    from auxlearn.aang.objectives.batches import ObjectiveBatcher
    from auxlearn.tasks.builtin import builtin_tasks

    torch.manual_seed(0)
    encoder = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=32))
    model = MultiTaskModel(encoder, {"rte": builtin_tasks()["rte"]}, pooling="cls").eval()
    batch = _batch(tokenizer)
    out = ObjectiveBatcher(Objective("task", "none", "left_to_right", "denoise"), tokenizer, seed=0)(batch)
    other = {**out, "input_ids": out["input_ids"].clone()}
    other["input_ids"][:, 2:] = tokenizer.mask_token_id
    with torch.no_grad():
        assert torch.allclose(model("rte", out), model("rte", other))  # [CLS] sees only itself
        assert not torch.allclose(model("rte", batch), model("rte", {**batch, "input_ids": other["input_ids"]}))
