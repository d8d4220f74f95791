"""A task whose right attention is known, and a tiny transformer that learns it.

The task is reversal: the model reads a sequence of wine words and must write
it back to front, every position at once (an encoder: no causal mask). To put
the right word at output position t, attention must look at input position
T - 1 - t, so we can check how often the strongest attention weight lands
there. Unit 3 trains it and opens the result in the attention inspector.

Left out on purpose: anything a unit grades. The model uses Keras'
MultiHeadAttention (students write their own attention in the notebook), and
it knows where each word is from one vector per (word, position) pair, which
only a task this small affords: Unit 4's GPT adds a word vector and a position
vector, and students write that layer there.
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


def build_reversal_transformer(num_layers: int = 2, num_heads: int = 2, embed_dim: int = 32, length: int = LENGTH):
    """(model, attention_probe): the probe returns the attention weights of every
    layer, shape (batch, num_layers, num_heads, length, length)."""
    import keras
    from keras import layers

    tokens = keras.Input(shape=(length,), dtype="int32", name="word_ids")
    word_at_position = tokens * length + keras.ops.arange(length)  # one id per (word, position) pair
    hidden = layers.Embedding(len(WORDS) * length, embed_dim, name="word_at_position_embedding")(word_at_position)
    weights_per_layer = []
    for layer in range(num_layers):
        attended, weights = layers.MultiHeadAttention(
            num_heads, embed_dim // num_heads, name=f"attention_{layer}"
        )(hidden, hidden, return_attention_scores=True)
        weights_per_layer.append(weights)
        hidden = layers.LayerNormalization(name=f"norm_attention_{layer}")(hidden + attended)
        expanded = layers.Dense(2 * embed_dim, activation="relu", name=f"feed_forward_in_{layer}")(hidden)
        hidden = layers.LayerNormalization(name=f"norm_feed_forward_{layer}")(
            hidden + layers.Dense(embed_dim, name=f"feed_forward_out_{layer}")(expanded)
        )
    word_probabilities = layers.Dense(len(WORDS), activation="softmax", name="word_probabilities")(hidden)
    model = keras.Model(tokens, word_probabilities, name="reversal_transformer")
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe = keras.Model(tokens, keras.ops.stack(weights_per_layer, axis=1), name="attention_probe")
    return model, probe


def mirror_hit_rate(weights: np.ndarray) -> np.ndarray:
    """Share of queries whose strongest weight is on the mirror position, per (layer, head).

    ``weights`` has shape (batch, layers, heads, T, T); the result (layers, heads).
    """
    length = weights.shape[-1]
    mirror = np.arange(length)[::-1]
    return (weights.argmax(axis=-1) == mirror).mean(axis=(0, 3))
