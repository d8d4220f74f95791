"""Two small attention models Unit 3 trains and opens up.

- Reversal, a task whose right attention is known: the model reads a sequence
  of wine words and must write it back to front, every position at once (no
  causal mask). To put the right word at output position t, attention must look
  at input position T - 1 - t, so we can check how often the strongest weight
  lands there, and open the result in the attention inspector.
- Real language: one learned query reads a review's description and guesses the
  country; its weights say which words it read most.

Left out on purpose: anything a unit grades. The models use Keras'
MultiHeadAttention (students write their own attention in the notebook) and no
transformer block (residuals, layer norms, feed-forward: Unit 4's exercise); the
reversal model knows where each word is from one vector per (word, position)
pair, which only a task this small affords: Unit 4's GPT adds a word vector and
a position vector, and students write that layer there.
"""

from __future__ import annotations

import numpy as np

WORDS = (
    "red", "white", "rosé", "oak", "cherry", "plum", "lemon", "apple", "pepper", "honey",
    "tannin", "acid", "spice", "smoke", "vanilla", "mint", "earth", "cedar", "peach", "berry",
)
LENGTH = 8  # words per sequence


def reversal_task(num_sequences: int, seed: int, length: int = LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Random word-id sequences (num_sequences, length) and the same sequences reversed."""
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, len(WORDS), size=(num_sequences, length))
    return inputs, inputs[:, ::-1].copy()


def as_words(ids) -> list[str]:
    return [WORDS[i] for i in ids]


def build_reversal_attention(num_heads: int = 2, embed_dim: int = 32, length: int = LENGTH):
    """(model, attention_probe): one attention layer between the words and a softmax over the words, nothing
    else; the probe returns its attention weights, shape (batch, 1 layer, num_heads, length, length).

    One layer of attention is all reversal needs: every output position fetches one input word. On 8,000
    sequences and 15 epochs it reverses held-out sequences without error for every seed tried (42, 0, 1, 2).
    """
    import keras
    from keras import layers

    tokens = keras.Input(shape=(length,), dtype="int32", name="word_ids")
    word_at_position = tokens * length + keras.ops.arange(length)  # one id per (word, position) pair
    hidden = layers.Embedding(len(WORDS) * length, embed_dim, name="word_at_position_embedding")(word_at_position)
    attended, weights = layers.MultiHeadAttention(num_heads, embed_dim // num_heads, name="attention")(
        hidden, hidden, return_attention_scores=True)
    word_probabilities = layers.Dense(len(WORDS), activation="softmax", name="word_probabilities")(attended)
    model = keras.Model(tokens, word_probabilities, name="reversal_attention")
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe = keras.Model(tokens, keras.ops.expand_dims(weights, axis=1), name="attention_probe")
    return model, probe


def mirror_hit_rate(weights: np.ndarray) -> np.ndarray:
    """Share of queries whose strongest weight is on the mirror position, per (layer, head).

    ``weights`` has shape (batch, layers, heads, T, T); the result (layers, heads).
    """
    length = weights.shape[-1]
    mirror = np.arange(length)[::-1]
    return (weights.argmax(axis=-1) == mirror).mean(axis=(0, 3))


# --- real language: which words tell the country? ------------------------------------------------------


def country_task(reviews, countries: list[str] | None = None, num_countries: int = 5):
    """(descriptions, country ids, country names) of the reviews from ``countries``, by default the
    ``num_countries`` most common ones (``reviews`` are ``course.data.Review`` records). The description never
    names the country's field, so the model must find it in the words: "chianti", "malbec", "oaky"."""
    from collections import Counter

    names = countries or [country for country, _ in Counter(r.country for r in reviews).most_common(num_countries)]
    kept = [review for review in reviews if review.country in names]
    return [review.description for review in kept], np.array([names.index(r.country) for r in kept]), names


def build_country_reader(vocabulary_size: int, num_countries: int, embed_dim: int = 32):
    """(model, probe): one learned query, "which country?", attends over a description's word vectors
    (padding, id 0, masked); the vector it reads goes to a softmax over the countries. The probe returns
    the query's attention weights over the words, (batch, T).

    One query and no positions: where a word stands does not matter here, only which words there are and
    how much the query trusts each one.
    """
    import keras
    from keras import layers

    word_ids = keras.Input(shape=(None,), dtype="int32", name="word_ids")
    words = layers.Embedding(vocabulary_size, embed_dim, name="word_embedding")(word_ids)
    question = layers.Embedding(1, embed_dim, name="country_query")(keras.ops.zeros_like(word_ids[:, :1]))
    real_words = keras.ops.expand_dims(keras.ops.not_equal(word_ids, 0), axis=1)  # (batch, 1, T)
    read, weights = layers.MultiHeadAttention(1, embed_dim, name="country_attention")(
        question, words, attention_mask=real_words, return_attention_scores=True)
    probabilities = layers.Dense(num_countries, activation="softmax", name="country")(layers.Reshape((embed_dim,))(read))
    model = keras.Model(word_ids, probabilities, name="country_reader")
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe = keras.Model(word_ids, weights[:, 0, 0, :], name="country_attention_probe")
    return model, probe
