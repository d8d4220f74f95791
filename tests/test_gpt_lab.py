"""Unit 4's workshop: batches, the loss every pipeline is judged by, the weight
cache, attention steps, the two widgets, and a short real training run that must
beat the unigram baseline."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.units import find_unit  # noqa: E402
from course import cpu_training, data, gpt_lab, settings, widgets  # noqa: E402

from . import notebooks as nb  # noqa: E402

MODEL_CELLS = ("shift_inputs_targets", "causal_attention_mask", "token_position_embedding",
               "transformer_block", "gpt_model", "temperature_probabilities")
TINY = dict(vocab_size=300, max_len=12, embed_dim=16, key_dim=8, num_heads=2, ff_dim=16)


@pytest.fixture(scope="module")
def unit4():
    """The model code as Unit 4's source notebook defines it (reference solutions)."""
    import keras
    import tensorflow as tf
    from keras import layers, ops

    namespace = dict(np=np, keras=keras, layers=layers, ops=ops, tf=tf, cpu_training=cpu_training)
    return nb.run_cells(find_unit("04").notebook, MODEL_CELLS, namespace)


def shift(ids):
    return ids[..., :-1], ids[..., 1:]


def test_pack_removes_padding_and_marks_each_review_end():
    ids = np.array([[5, 6, 0, 0], [7, 8, 9, 0], [4, 4, 4, 4]])
    np.testing.assert_array_equal(gpt_lab.pack(ids, window=3), [[5, 6, 0, 7], [8, 9, 0, 4]])
    assert gpt_lab.padding_share(ids) == pytest.approx(3 / 12)


def test_padded_and_packed_batches_shift_every_row():
    ids = np.arange(1, 41).reshape(8, 5)
    ids[:, 4] = 0
    for make in (gpt_lab.padded_batches, gpt_lab.packed_batches):
        inputs, targets = next(iter(make(ids, shift, batch_size=2, seed=0)))
        assert inputs.shape == targets.shape == (2, 4)
        np.testing.assert_array_equal(inputs.numpy()[:, 1:], targets.numpy()[:, :-1])
    packed_inputs = np.concatenate([x.numpy() for x, _ in gpt_lab.packed_batches(ids, shift, 2, seed=0)])
    assert np.count_nonzero(packed_inputs == 0) <= len(ids), "packed batches hold one end marker per review, no padding"


def test_punctuation_is_split_off_as_words_of_its_own():
    assert gpt_lab.split_punctuation(["Ripe, juicy fruit!", "It's $20.", "a...b"]) == [
        "Ripe , juicy fruit !", "It ' s $ 20 .", "a . . . b"]
    vectorizer = gpt_lab.make_vectorizer(["Ripe, ripe fruit!"], vocab_size=10, max_len=5)
    vocabulary = vectorizer.get_vocabulary()
    np.testing.assert_array_equal(gpt_lab.to_ids(vectorizer, ["RIPE fruit, plum"])[0],
                                  [vocabulary.index(w) for w in ("ripe", "fruit", ",")] + [1, 0, 0])


def test_validation_loss_is_the_mean_over_real_tokens_only():
    vocab = 4
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))

    def uniform_model(inputs, training=False):
        return np.broadcast_to(logits, inputs.shape + (vocab,))

    ids = np.array([[1, 2, 3, 0], [3, 3, 0, 0]])
    expected = -np.mean(np.log([0.3, 0.4, 0.4]))  # targets 2, 3 and 3; the padding targets are ignored
    inputs, targets = shift(ids)
    assert gpt_lab.validation_loss(uniform_model, inputs, targets, batch_size=1) == pytest.approx(expected)
    assert gpt_lab.unigram_loss(ids, targets) < np.log(vocab)


def test_train_or_load_trains_once_then_loads(unit4, tmp_path, monkeypatch):
    monkeypatch.setenv(settings.CACHE_DIR.variable, str(tmp_path))
    path = gpt_lab.cache_path("wine-gpt", TINY)
    assert path.parent == tmp_path and path != gpt_lab.cache_path("wine-gpt", dict(TINY, embed_dim=32))
    first, _ = unit4["build_gpt"](**TINY)
    first(np.ones((1, 3), dtype="int32"))
    runs = []
    history = gpt_lab.train_or_load(first, path, lambda: runs.append(1) or {"validation_loss": [3.0]})
    second, _ = unit4["build_gpt"](**TINY)
    second(np.ones((1, 3), dtype="int32"))
    assert gpt_lab.train_or_load(second, path, lambda: runs.append(1) or {}) == history
    assert runs == [1], "the second model loads the weights instead of training"
    for mine, theirs in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert gpt_lab.train_or_load(second, None, lambda: {"fresh": True}) == {"fresh": True}


def test_attention_steps_read_one_forward_pass(unit4):
    _, probe = unit4["build_gpt"](**TINY)
    vocabulary = [""] + [f"w{i}" for i in range(1, TINY["vocab_size"])]
    ids = [3, 4, 5, 6, 7]
    softmax = unit4["temperature_probabilities"]
    steps = gpt_lab.attention_steps(probe, ids, vocabulary, prompt_length=2, probabilities=lambda z: softmax(z, 1.0))
    assert len(steps) == 3
    assert steps[0]["context"] == ["w3", "w4"] and steps[0]["next_word"] == "w5"
    assert steps[-1]["attention"].shape == (1, TINY["num_heads"], 4)
    np.testing.assert_allclose(steps[-1]["attention"].sum(axis=-1), 1.0, rtol=1e-5)
    probabilities = [p for _, p in steps[0]["top_words"]]
    assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)

    def always_w7(logits):
        return np.eye(logits.shape[-1])[np.full(len(logits), 7)]

    steps = gpt_lab.attention_steps(probe, ids, vocabulary, prompt_length=2, probabilities=always_w7)
    assert all(step["top_words"][0] == ("w7", 1.0) for step in steps), "the notebook's probabilities are shown"


def test_sampling_explorer_redraws_when_a_control_moves():
    calls = []

    def distribution(prompt, temperature, top_k, top_p):
        calls.append(("distribution", prompt, temperature, top_k, top_p))
        return ["riesling", "mosel"], np.array([0.7, 0.3])

    def generate(prompt, temperature, top_k, top_p, seed):
        return f"{prompt} at {temperature:.1f} <b>"

    panel = widgets.sampling_explorer(distribution, generate, prompt="wine review :", temperature=1.0)
    text, (heat, seed), (top_k, top_p), (picture, table), sample = (
        panel.children[0], panel.children[1].children, panel.children[2].children, panel.children[3].children,
        panel.children[4])
    assert calls[-1] == ("distribution", "wine review :", 1.0, 0, 1.0)
    assert "<td>riesling</td><td class='probability'>0.700</td>" in table.value
    first_picture = bytes(picture.value)
    assert first_picture.startswith(b"\x89PNG")
    heat.value = 3.0
    assert calls[-1][2] == 3.0 and "at 3.0 &lt;b&gt;" in sample.value, "text is regenerated and escaped"
    top_k.value, top_p.value = 5, 0.5
    assert calls[-1][3:] == (5, 0.5)
    assert bytes(picture.value) != first_picture


def test_generation_inspector_steps_through_the_text():
    steps = [dict(context=["wine", "review"], attention=np.array([[[0.2, 0.8], [0.6, 0.4]]]),
                  top_words=[("germany", 0.5), ("italy", 0.2)], next_word="germany"),
             dict(context=["wine", "review", "germany"], attention=np.array([[[0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]]),
                  top_words=[("mosel", 0.6), ("riesling", 0.1)], next_word="mosel")]
    panel = widgets.generation_inspector(steps)
    step, layer, head = panel.children[0].children
    words = panel.children[1]
    assert 'title="0.400"' in words.value, "the heads' average is shown first"
    head.value = 0
    assert 'title="0.200"' in words.value
    step.value = 1
    assert "mosel" in words.value and "germany" in words.value
    with pytest.raises(ValueError, match="nothing to inspect"):
        widgets.generation_inspector([])


@pytest.mark.parametrize("precision", [cpu_training.FLOAT32, cpu_training.MIXED_BFLOAT16])
def test_short_training_on_real_reviews_beats_the_unigram_baseline(unit4, precision):
    """Ten seconds of the course's training (batches by length, the fused loss) already
    predicts better than word frequencies, in either precision."""
    import keras

    keras.utils.set_random_seed(0)
    train_texts, validation_texts = data.train_validation_split(data.load_reviews(limit=2_000, seed=0), seed=0)
    config = dict(vocab_size=1_000, max_len=40, embed_dim=32, key_dim=16, num_heads=2, ff_dim=64)
    vectorizer = gpt_lab.make_vectorizer(train_texts, config["vocab_size"], config["max_len"])
    train_ids, validation_ids = gpt_lab.to_ids(vectorizer, train_texts), gpt_lab.to_ids(vectorizer, validation_texts)
    with cpu_training.precision(precision):
        model, _ = unit4["build_gpt"](**config)
    batches = cpu_training.length_batches(train_ids, unit4["shift_inputs_targets"], 32, seed=0)
    validation = unit4["shift_inputs_targets"](validation_ids)
    history = gpt_lab.train(model, batches, validation, epochs=3, verbose=False)
    assert all(np.isfinite(history["train_loss"]))
    assert len(history["validation_loss"]) == 3
    assert history["validation_loss"][-1] < history["validation_loss"][0]
    assert history["validation_loss"][-1] < gpt_lab.unigram_loss(train_ids, validation[1]) - 0.3
