"""course.cpu_training: length batches keep whole reviews with little padding, the fused
loss is the usual cross-entropy, and the precision is chosen by measuring."""

import numpy as np
import pytest

from course import cpu_training


def reviews(lengths, width=81, seed=0):
    """Rows of token ids (2..99) with the given numbers of real tokens, zero-padded to ``width``."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), width), dtype="int32")
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(2, 100, size=length)
    return ids


def shift(ids):
    return ids[..., :-1], ids[..., 1:]


def test_each_review_gets_room_for_itself_and_its_end_marker():
    ids = reviews([3, 8, 9, 57, 80, 81])
    np.testing.assert_array_equal(cpu_training.length_buckets(ids), [9, 9, 17, 65, 81, 81])


def epoch_of(dataset) -> list[tuple[np.ndarray, ...]]:
    return [tuple(part.numpy() for part in batch) for batch in dataset]


def test_length_batches_hold_every_whole_review_once_with_little_padding():
    ids = reviews(np.random.default_rng(1).integers(5, 81, size=203))
    dataset = cpu_training.length_batches(ids, shift, batch_size=16, seed=2)
    batches = epoch_of(dataset)
    assert len(batches) == dataset.cardinality().numpy(), "Keras is told how many batches an epoch has"
    rows = [tuple(row[row != 0]) for inputs, _, _ in batches for row in inputs]
    assert sorted(rows) == sorted(tuple(row[row != 0]) for row in ids), "every review once, whole"
    partial = [inputs.shape[1] for inputs, _, _ in batches if len(inputs) < 16]
    assert all(len(inputs) <= 16 for inputs, _, _ in batches) and len(partial) == len(set(partial)), (
        "batches of 16, but for the last one of each width")
    for inputs, targets, _ in batches:
        real = (inputs != 0).sum(axis=1)
        assert np.all(targets[np.arange(len(real)), real - 1] == 0), "every review's end marker is among the targets"
        assert inputs.shape[1] - real.max() < 8 and inputs.shape[1] % 8 == 0 or inputs.shape[1] == 80
    padding = np.mean(np.concatenate([targets.ravel() for _, targets, _ in batches]) == 0)
    assert padding < np.mean(ids[:, 1:] == 0) / 2, "less than half the padding of padding every review to 80"


def test_length_batches_reshuffle_every_epoch_shift_and_weigh_only_real_targets():
    ids = reviews(np.random.default_rng(3).integers(5, 81, size=64))
    dataset = cpu_training.length_batches(ids, shift, batch_size=8, seed=0)
    epochs = [epoch_of(dataset) for _ in range(2)]
    for x, y, weights in epochs[0]:
        assert x.shape == y.shape == weights.shape
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        real = (x != 0).sum(axis=1)  # each row's review: its targets are its tokens after the first, and its end 0
        np.testing.assert_array_equal(weights.sum(axis=1), real)
        assert np.all(weights[np.arange(len(real)), real - 1] == 1)
    assert [b[0].tobytes() for b in epochs[0]] != [b[0].tobytes() for b in epochs[1]]


def test_the_keras_loss_averages_over_weighted_positions_only():
    import tensorflow as tf

    logits = tf.math.log(tf.constant([[[0.5, 0.5], [0.9, 0.1], [0.1, 0.9]]]))
    targets = tf.constant([[0, 0, 0]])
    loss = cpu_training.next_token_loss()
    np.testing.assert_allclose(float(loss(targets, logits, sample_weight=tf.constant([[1.0, 1.0, 0.0]]))),
                               -(np.log(0.5) + np.log(0.9)) / 2, rtol=1e-5)
    np.testing.assert_allclose(float(loss(targets, logits)), -(np.log(0.5) + np.log(0.9) + np.log(0.1)) / 3, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_fused_loss_is_the_usual_cross_entropy(dtype):
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(4)
    logits = rng.normal(scale=4.0, size=(3, 7, 50)).astype("float32")
    targets = rng.integers(0, 50, size=(3, 7))
    reference = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(targets, logits)
    fused = cpu_training.cross_entropy(tf.constant(targets), tf.cast(logits, dtype))
    assert fused.dtype == tf.float32 and tuple(fused.shape) == (3, 7)
    tolerance = 1e-5 if dtype == "float32" else 0.1  # bfloat16 logits keep about three digits
    np.testing.assert_allclose(fused.numpy(), np.asarray(reference), atol=tolerance)


def test_precision_applies_inside_only_and_the_choice_is_measured(capsys):
    import keras

    before = keras.config.dtype_policy().name
    with cpu_training.precision(cpu_training.MIXED_BFLOAT16):
        layer = keras.layers.Dense(3)
    assert layer.dtype_policy.name == cpu_training.MIXED_BFLOAT16 and layer.compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == before
    assert cpu_training.fastest_precision() in (cpu_training.FLOAT32, cpu_training.MIXED_BFLOAT16)
    assert "GFLOP/s" in capsys.readouterr().out
