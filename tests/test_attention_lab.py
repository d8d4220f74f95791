"""Unit 3's reversal task and tiny transformer: the task is right, and the model,
trained with the student-mode budget, really looks where it should."""

import numpy as np
import pytest

from course import attention_lab


def test_reversal_targets_are_the_inputs_back_to_front():
    inputs, targets = attention_lab.reversal_task(50, seed=1)
    assert inputs.shape == targets.shape == (50, attention_lab.LENGTH)
    np.testing.assert_array_equal(targets, inputs[:, ::-1])
    np.testing.assert_array_equal(attention_lab.reversal_task(50, seed=1)[0], inputs)
    assert attention_lab.as_words([0, 1]) == ["red", "white"]


def test_mirror_hit_rate_counts_argmax_on_the_anti_diagonal():
    length = 6
    mirror = np.eye(length)[::-1]
    weights = np.stack([mirror, np.eye(length)])[None, None]  # (1 sequence, 1 layer, 2 heads, T, T)
    np.testing.assert_array_equal(attention_lab.mirror_hit_rate(weights), [[1.0, 0.0]])


@pytest.mark.slow
def test_trained_model_attends_to_the_mirror_word():
    """The student-mode budget of the notebook (8,000 sequences, 15 epochs) reaches the 90% target."""
    import keras

    keras.utils.set_random_seed(42)
    model, probe = attention_lab.build_reversal_attention()
    x_train, y_train = attention_lab.reversal_task(8_000, seed=42)
    x_test, y_test = attention_lab.reversal_task(200, seed=43)
    model.fit(x_train, y_train, epochs=15, batch_size=64, verbose=0)
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.95
    assert attention_lab.mirror_hit_rate(probe.predict(x_test, verbose=0)).max() >= 0.9


def test_country_reader_beats_the_majority_and_its_weights_cover_the_real_words():
    """On the shipped reviews, the one-query country reader clearly beats always guessing the most common country,
    and its attention weights sum to 1 over each description's real words, none on padding."""
    import keras
    from keras import layers

    from course import data

    keras.utils.set_random_seed(0)
    train, validation = data.train_validation_split(data.review_records(), validation_fraction=0.1, seed=0)
    texts, countries, names = attention_lab.country_task(train)
    held_texts, held_countries, _ = attention_lab.country_task(validation, names)
    vectorizer = layers.TextVectorization(max_tokens=4_000, output_sequence_length=60)
    vectorizer.adapt(texts)
    model, probe = attention_lab.build_country_reader(4_000, len(names))
    model.fit(np.asarray(vectorizer(texts)), countries, epochs=4, batch_size=64, verbose=0)
    held_ids = np.asarray(vectorizer(held_texts))
    majority = np.mean(held_countries == np.bincount(countries).argmax())
    assert model.evaluate(held_ids, held_countries, verbose=0)[1] > majority + 0.2
    weights = probe.predict(held_ids, verbose=0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(weights[held_ids == 0] < 1e-6)
