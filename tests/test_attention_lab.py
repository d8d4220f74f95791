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
    model, probe = attention_lab.build_reversal_transformer()
    x_train, y_train = attention_lab.reversal_task(8_000, seed=42)
    x_test, y_test = attention_lab.reversal_task(200, seed=43)
    model.fit(x_train, y_train, epochs=15, batch_size=64, verbose=0)
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.95
    assert attention_lab.mirror_hit_rate(probe.predict(x_test, verbose=0)).max() >= 0.9
