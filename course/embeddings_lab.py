"""Word embeddings for Unit 2: skip-gram with negative sampling in Keras, and a
check of what the vectors learned.

Training follows word2vec (Mikolov et al., 2013): frequent words are thinned
out, every (target, context) pair is shown with a few "negative" words drawn
from the unigram distribution raised to 3/4, and a logistic loss pushes the
true context's dot product up and the negatives' down.

Left out on purpose: making the (target, context) pairs and finding nearest
neighbours. Students write those in the notebook.
"""

from __future__ import annotations

import numpy as np

# Held-out word groups for judging the vectors. Not used in training.
WORD_GROUPS = {
    "grapes": "cabernet merlot pinot chardonnay sauvignon syrah riesling zinfandel malbec sangiovese tempranillo grenache".split(),
    "fruits": "cherry plum apple lemon peach blackberry raspberry strawberry pear lime currant apricot".split(),
    "countries": "italy france spain portugal chile argentina austria germany australia israel".split(),
    "descriptors": "dry sweet crisp ripe soft firm rich bright fresh smooth juicy elegant".split(),
}


def subsample(targets: np.ndarray, contexts: np.ndarray, frequencies: np.ndarray, seed: int,
              threshold: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Drop pairs whose target is a very frequent word, keeping each with probability sqrt(threshold / f)."""
    keep_probability = np.minimum(1.0, np.sqrt(threshold / frequencies[targets]))
    keep = np.random.default_rng(seed).random(len(targets)) < keep_probability
    return targets[keep], contexts[keep]


def build_skipgram_model(vocab_size: int, embed_dim: int, negatives: int):
    """Scores a target against its true context and ``negatives`` noise words (logits)."""
    import keras
    from keras import layers

    target = keras.Input(shape=(1,), dtype="int32", name="target_word")
    candidates = keras.Input(shape=(negatives + 1,), dtype="int32", name="context_and_noise_words")
    target_vector = layers.Embedding(vocab_size, embed_dim, name="word_vectors")(target)  # (batch, 1, dim)
    candidate_vectors = layers.Embedding(vocab_size, embed_dim, name="context_vectors")(candidates)  # (batch, n+1, dim)
    logits = layers.Dot(axes=-1, name="similarity")([candidate_vectors, target_vector])  # (batch, n+1, 1)
    model = keras.Model([target, candidates], layers.Flatten(name="logits")(logits), name="skip_gram")
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def train_skipgram(pairs: np.ndarray, counts: np.ndarray, embed_dim: int = 64, negatives: int = 4,
                   epochs: int = 3, seed: int = 42, batch_size: int = 1024) -> tuple[np.ndarray, list[float]]:
    """Train on (target, context) id pairs; return the unit-length word vectors and the loss per epoch.

    ``counts[i]`` is how often word i occurs: it sets subsampling and the noise distribution.
    """
    import keras

    keras.utils.set_random_seed(seed)
    frequencies = counts / counts.sum()
    targets, contexts = subsample(pairs[:, 0], pairs[:, 1], frequencies, seed)
    noise = frequencies ** 0.75
    noise /= noise.sum()
    model = build_skipgram_model(len(counts), embed_dim, negatives)
    rng = np.random.default_rng(seed)
    labels = np.zeros((len(targets), negatives + 1), dtype="float32")
    labels[:, 0] = 1.0  # column 0 is the true context, the rest are noise
    losses = []
    for _ in range(epochs):
        noise_words = rng.choice(len(counts), size=(len(targets), negatives), p=noise)
        candidates = np.concatenate([contexts[:, None], noise_words], axis=1)
        history = model.fit([targets[:, None], candidates], labels, batch_size=batch_size, epochs=1, verbose=0)
        losses.append(history.history["loss"][0])
    vectors = model.get_layer("word_vectors").get_weights()[0]
    return keras.utils.normalize(vectors, axis=1), losses  # Keras' own: the notebook's exercise does it by hand


def group_quality(vectors: np.ndarray, index: dict[str, int], groups: dict[str, list[str]] = WORD_GROUPS) -> float:
    """Share of group words whose mean cosine similarity to their own group beats that to the other groups.

    ``vectors`` must have unit-length rows; words missing from ``index`` are skipped.
    """
    present = {name: [index[w] for w in words if w in index] for name, words in groups.items()}
    wins, total = 0, 0
    for name, ids in present.items():
        others = [i for other, other_ids in present.items() if other != name for i in other_ids]
        for word_id in ids:
            own = [vectors[word_id] @ vectors[i] for i in ids if i != word_id]
            if not own or not others:
                continue
            wins += np.mean(own) > np.mean([vectors[word_id] @ vectors[i] for i in others])
            total += 1
    if total == 0:
        raise ValueError("none of the group words is in the vocabulary")
    return wins / total
