"""The sums behind Unit 4's training benchmark (benchmarks/gpt_training.py): the FLOPs
it credits a pipeline with, the tokens it counts and the time it reads off a curve.
benchmarks/README.md's share of the matmul peak and its wall-time ratios rest on these."""

import numpy as np
import pytest

from benchmarks import gpt_training

TINY = dict(vocab_size=300, max_len=12, embed_dim=16, key_dim=8, num_heads=2, ff_dim=24)


def test_the_flop_count_is_the_notebook_models_own_products():
    model, _ = gpt_training.notebook_definitions()["build_gpt"](**TINY)
    kernels = [weight for weight in model.weights if weight.path.endswith("kernel")]
    assert len(kernels) == 7  # query, key, value, attention output, feed-forward in and out, next-token logits
    multiply_adds = sum(int(np.prod(weight.shape)) for weight in kernels)
    for window in (5, 12):
        attention = 2 * TINY["num_heads"] * TINY["key_dim"] * window  # scores, then the weighted values
        expected = 3 * 2 * (multiply_adds + attention)  # forward 2 FLOPs per multiply-add, backward twice that
        assert gpt_training.training_flops_per_position(TINY, window) == expected


def test_tokens_and_positions_per_batch_count_what_each_batching_pays_for():
    ids = np.zeros((3, 81), dtype="int32")
    for row, length in enumerate((3, 20, 81)):  # reviews of 3, 20 and 81 ids: 2, 19 and 80 real targets
        ids[row, :length] = 7
    padded = dict(batching="padded", batch_size=3)
    assert gpt_training.real_tokens_per_batch(padded, ids) == pytest.approx(3 * np.mean([2, 19, 80]))
    assert gpt_training.real_tokens_per_batch(dict(padded, batching="packed"), ids) == 3 * 80
    assert gpt_training.window(padded, ids) == 80
    # By length, each row pays for its inputs rounded up to a multiple of 8 positions: 8, 24 and 80.
    assert gpt_training.window(dict(padded, batching="length"), ids) == pytest.approx(np.mean([8, 24, 80]))


def test_time_to_reach_reads_the_first_crossing_between_evaluations():
    curve = [(10.0, 100, 5.0), (20.0, 200, 4.0), (30.0, 300, 3.0), (40.0, 400, 3.5)]
    assert gpt_training.time_to_reach(curve, 3.5) == pytest.approx(25.0)
    assert gpt_training.time_to_reach(curve, 4.0) == pytest.approx(20.0)
    assert gpt_training.time_to_reach(curve, 6.0) == pytest.approx(10.0)  # reached at the first evaluation
    assert gpt_training.time_to_reach(curve, 2.9) is None
