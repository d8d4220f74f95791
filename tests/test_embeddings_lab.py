"""Unit 2's embedding helpers: the quality score is right, and skip-gram trained on
the real reviews with the student-mode budget meets the 80% bar."""

import re
import string
from collections import Counter

import numpy as np
import pytest

from course import data, embeddings_lab


def test_group_quality_counts_words_closer_to_their_own_group():
    groups = {"a": ["x", "y"], "b": ["z", "w"]}
    index = {"x": 0, "y": 1, "z": 2, "w": 3}
    clustered = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    clustered /= np.linalg.norm(clustered, axis=1, keepdims=True)
    assert embeddings_lab.group_quality(clustered, index, groups) == 1.0
    crossed = clustered[[0, 2, 1, 3]]  # y and z swapped: x and w are closer to the other group
    assert embeddings_lab.group_quality(crossed, index, groups) == 0.0
    with pytest.raises(ValueError, match="vocabulary"):
        embeddings_lab.group_quality(clustered, {}, groups)


def test_word_groups_are_big_enough_to_judge_by():
    groups = embeddings_lab.WORD_GROUPS
    assert len(groups) >= 4 and sum(len(words) for words in groups.values()) >= 40
    all_words = [word for words in groups.values() for word in words]
    assert len(all_words) == len(set(all_words)), "a word belongs to one group only"


def test_subsampling_thins_frequent_targets_only():
    frequencies = np.array([0.5, 1e-6])
    targets = np.array([0] * 1000 + [1] * 1000)
    kept, _ = embeddings_lab.subsample(targets, targets.copy(), frequencies, seed=0)
    assert (kept == 1).sum() == 1000 and (kept == 0).sum() < 50


@pytest.mark.slow
def test_skipgram_on_wine_reviews_meets_the_quality_bar():
    """The notebook's student budget (all reviews up to 30,000, window 2, 3 epochs) reaches 80%."""
    reviews = data.load_reviews(limit=30_000, seed=42)
    pad = re.compile(f"([{re.escape(string.punctuation)}])")
    sentences = [pad.sub(r" \1 ", review).lower().split() for review in reviews]
    counts = Counter(word for words in sentences for word in words)
    words = sorted(word for word, count in counts.items() if count >= 5)
    index = {word: i for i, word in enumerate(words)}
    pairs = []
    for sentence in sentences:
        ids = [index[w] for w in sentence if w in index]
        pairs += [(ids[i], ids[j]) for i in range(len(ids)) for j in range(max(0, i - 2), min(len(ids), i + 3)) if j != i]
    vectors, losses = embeddings_lab.train_skipgram(np.array(pairs), np.array([counts[w] for w in words], float), epochs=3)
    assert losses[-1] < losses[0]
    assert embeddings_lab.group_quality(vectors, index) >= 0.8
