"""Training faster on a CPU, measured rather than assumed.

Three things decide how fast a language model trains on a laptop CPU, and the
lecture notes' training pipeline pays for all three:

- **precision**: CPUs with bfloat16 units (recent Intel Xeons, AMD Zen 4) multiply
  bfloat16 matrices two or more times faster than float32; elsewhere bfloat16 is
  emulated and slower. ``fastest_precision`` times both on this machine and picks.
- **the loss**: over a 10,000-word vocabulary, the softmax cross-entropy of a batch
  touches 2560 x 10,000 numbers several times; TensorFlow's own kernel for it
  takes a third of a training step. ``cross_entropy`` is the same loss written so
  that XLA compiles it into one pass, three times faster (``next_token_loss`` wraps
  it for Keras).
- **padding**: reviews padded to 80 tokens make a third of every batch padding.
  ``length_batches`` puts reviews of about the same length together, padded only to
  the next multiple of 8 tokens, so a batch is still 32 whole reviews.
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable

import numpy as np

FLOAT32, MIXED_BFLOAT16 = "float32", "mixed_bfloat16"
WORTH_IT = 1.3  # bfloat16 must multiply at least this much faster to be chosen


def matmul_rate(dtype: str, size: int = 1024, seconds: float = 0.5) -> float:
    """Measured FLOP/s of square matrix products in ``dtype`` ("float32" or "bfloat16")."""
    import tensorflow as tf

    matrix = tf.cast(tf.random.normal((size, size)), dtype)
    product = tf.function(lambda x: tf.matmul(x, x))
    product(matrix).numpy()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        product(matrix).numpy()
        runs += 1
    return 2 * size**3 * runs / (time.perf_counter() - started)


def fastest_precision(verbose: bool = True) -> str:
    """``"mixed_bfloat16"`` if this CPU multiplies bfloat16 at least WORTH_IT times faster
    than float32, else ``"float32"``."""
    float32, bfloat16 = matmul_rate("float32"), matmul_rate("bfloat16")
    choice = MIXED_BFLOAT16 if bfloat16 >= WORTH_IT * float32 else FLOAT32
    if verbose:
        print(f"matrix products: float32 {float32 / 1e9:.0f} GFLOP/s, bfloat16 {bfloat16 / 1e9:.0f} GFLOP/s "
              f"-> training in {choice}")
    return choice


@contextlib.contextmanager
def precision(policy: str):
    """Layers built inside take Keras' dtype policy ``policy``; the global policy is restored after."""
    import keras

    before = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def next_token_loss():
    """``cross_entropy`` as a Keras loss, averaged over the positions whose sample weight is
    1 (``length_batches`` gives padding weight 0), or over all positions without weights."""
    import keras

    class NextTokenLoss(keras.losses.Loss):
        def call(self, token_ids, logits):
            return cross_entropy(token_ids, logits)

    return NextTokenLoss(reduction="mean_with_sample_weight", name="next_token_cross_entropy")


def cross_entropy(token_ids, logits):
    """Per-position cross-entropy of the next token, logsumexp(logits) - logits[token], in float32.

    The same number as ``SparseCategoricalCrossentropy(from_logits=True)`` without
    reduction, compiled by XLA into one fused pass (the rest of the model is not).
    """
    return _fused_cross_entropy()(token_ids, logits)


_compiled = {}


def _fused_cross_entropy() -> Callable:
    if "loss" not in _compiled:
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def loss(token_ids, logits):
            logits = tf.cast(logits, tf.float32)
            token_ids = tf.cast(token_ids, tf.int32)
            picked = tf.gather(logits, token_ids[..., None], batch_dims=len(logits.shape) - 1)[..., 0]
            return tf.reduce_logsumexp(logits, axis=-1) - picked

        _compiled["loss"] = loss
    return _compiled["loss"]


def length_buckets(token_ids: np.ndarray, step: int = 8) -> np.ndarray:
    """Each row's width in its batch: room for its n tokens as inputs, rounded up to a
    multiple of ``step``, plus the one id the shift takes, so that the targets end with
    the review's end-of-review 0. At most the full width."""
    real = (token_ids != 0).sum(axis=1)
    return np.minimum(token_ids.shape[1], -(-real // step) * step + 1)


def real_positions(targets):
    """Weight 1 for each target up to and including the review's end marker (its first 0), 0 after."""
    import tensorflow as tf

    ends = tf.cast(targets == 0, tf.int32)
    return tf.cast(tf.cumsum(ends, axis=-1) - ends == 0, tf.float32)


def length_batches(token_ids: np.ndarray, shift: Callable, batch_size: int, seed: int, step: int = 8):
    """Whole reviews, batched with others of the same width (``length_buckets``) by tf.data's
    bucketing, reshuffled every epoch; ``shift`` makes (inputs, targets), and the padding
    after each review's end marker gets weight 0: (inputs, targets, weights). Every
    review is in every epoch; a bucket's last batch may be smaller."""
    import tensorflow as tf

    widths = length_buckets(token_ids, step)
    boundaries = list(range(step + 2, token_ids.shape[1], step))  # one bucket per width: 9, 17, 25, ...

    def with_weights(batch):
        inputs, targets = shift(batch)
        return inputs, targets, real_positions(targets)

    rows = tf.data.Dataset.from_tensor_slices((token_ids, widths)).shuffle(len(token_ids), seed=seed)
    batches = rows.map(lambda ids, width: ids[:width]).bucket_by_sequence_length(
        lambda ids: tf.shape(ids)[0], boundaries, [batch_size] * (len(boundaries) + 1))
    count = sum(-(-n // batch_size) for n in np.unique(widths, return_counts=True)[1])
    batches = batches.apply(tf.data.experimental.assert_cardinality(count))  # so Keras knows where an epoch ends
    options = tf.data.Options()
    options.autotune.enabled = False  # its autotuner can stall for seconds when fit() ends
    return batches.map(with_weights).prefetch(2).with_options(options)
