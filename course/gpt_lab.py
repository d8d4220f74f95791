"""The workshop around Unit 4's GPT: text to token ids, batches, training, a weight
cache, and the numbers the widgets show.

Two ways to make batches, both from whole reviews turned into token ids (the
course trains on a third, ``course.cpu_training.length_batches``; the benchmark
compares all three):

- ``padded_batches``: the lecture notes' way. Every review is cut or padded to the
  same length, so about a third of each batch is padding the model still pays for.
- ``packed_batches``: reviews laid end to end, each followed by one 0 that marks
  its end, and cut into windows: no position is wasted on padding, but most
  windows start in the middle of a review.

Left out on purpose: the graded pieces. The input/target shift, the causal mask,
the embedding layer, the softmax, sampling and decoding are the students';
functions here take them (or what they made) as arguments, and split punctuation
with a library's tokenizer rather than Unit 2's exercise.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .cpu_training import cross_entropy
from .settings import cache_dir



def split_punctuation(texts: Sequence[str]) -> list[str]:
    """Each text with every punctuation mark as a word of its own (``fruit,`` -> ``fruit ,``).

    The splitting is BERT's pre-tokenizer from Hugging Face ``tokenizers`` (at
    whitespace, and around every punctuation mark), not the course's own: Unit 2
    has students write it.
    """
    from tokenizers.pre_tokenizers import BertPreTokenizer

    splitter = BertPreTokenizer()
    return [" ".join(word for word, _ in splitter.pre_tokenize_str(text)) for text in texts]


def make_vectorizer(texts: Sequence[str], vocab_size: int, max_len: int):
    """A Keras TextVectorization layer fitted on ``texts``: lower case, punctuation split off
    (``split_punctuation``), 0 is padding, 1 is ``[UNK]``, every text becomes ``max_len + 1``
    ids (one extra, because inputs and targets are shifted by one). Use it through ``to_ids``."""
    from keras import layers

    vectorizer = layers.TextVectorization(
        max_tokens=vocab_size, standardize="lower", output_mode="int", output_sequence_length=max_len + 1
    )
    vectorizer.adapt(np.asarray(split_punctuation(texts), dtype=object), batch_size=1024)
    return vectorizer


def to_ids(vectorizer, texts: Sequence[str]) -> np.ndarray:
    """Token ids, shape (len(texts), max_len + 1), in one pass."""
    return np.asarray(vectorizer(np.asarray(split_punctuation(texts), dtype=object)), dtype="int32")


def padding_share(token_ids: np.ndarray) -> float:
    """Fraction of positions that are padding (id 0)."""
    return float(np.mean(token_ids == 0))


def _without_autotune(dataset):
    """tf.data's autotuner can stall for many seconds when fit() ends; a fixed pipeline does not."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def padded_batches(token_ids: np.ndarray, shift: Callable, batch_size: int, seed: int):
    """One review per row, padded, shuffled each epoch; ``shift`` makes (inputs, targets)."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(token_ids).shuffle(len(token_ids), seed=seed)
    return _without_autotune(dataset.batch(batch_size, drop_remainder=True).map(shift).prefetch(2))


def pack(token_ids: np.ndarray, window: int) -> np.ndarray:
    """Reviews end to end, each followed by one 0 (end of review) unless it was cut,
    then cut into rows of ``window + 1`` ids. Padding beyond that first 0 is dropped."""
    lengths = (token_ids != 0).sum(axis=1, keepdims=True)
    first_padding = np.arange(token_ids.shape[1])[None, :] == lengths
    stream = token_ids[(token_ids != 0) | first_padding]
    rows = len(stream) // (window + 1)
    return stream[: rows * (window + 1)].reshape(rows, window + 1)


def packed_batches(token_ids: np.ndarray, shift: Callable, batch_size: int, seed: int, window: int | None = None):
    """Packed windows (no padding at all), shuffled each epoch; ``shift`` makes (inputs, targets)."""
    import tensorflow as tf

    windows = pack(token_ids, window or token_ids.shape[1] - 1)
    dataset = tf.data.Dataset.from_tensor_slices(windows).shuffle(len(windows), seed=seed)
    return _without_autotune(dataset.batch(batch_size, drop_remainder=True).map(shift).prefetch(2))


def validation_loss(model, inputs: np.ndarray, targets: np.ndarray, batch_size: int = 32) -> float:
    """Mean cross-entropy (nats) per real next token of whole reviews, padding (target 0) ignored.

    ``inputs`` and ``targets`` come from the notebook's shift of the validation ids.
    Models trained on padded, packed or length batches are judged by this same number.
    """
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    total, count = 0.0, 0
    for start in range(0, len(inputs), batch_size):
        batch_targets = targets[start:start + batch_size]
        logits = model(inputs[start:start + batch_size], training=False)
        losses = np.asarray(cross_entropy(batch_targets, logits))
        real = batch_targets != 0
        total += float(losses[real].sum(dtype="float64"))
        count += int(real.sum())
    return total / count


def unigram_loss(train_ids: np.ndarray, targets: np.ndarray) -> float:
    """The loss on ``targets`` of a model that ignores context and predicts word frequencies:
    the bar to beat."""
    targets = np.asarray(targets)
    counts = np.bincount(train_ids[train_ids != 0], minlength=int(targets.max()) + 1) + 1.0
    log_probs = np.log(counts / counts.sum())
    return float(-log_probs[targets[targets != 0]].mean())


class EpochReport:
    """Keras callback: after each epoch, the validation loss on whole reviews and one generated review."""

    def __init__(self, validation: tuple[np.ndarray, np.ndarray], sample: Callable[[], str] | None, verbose: bool):
        import keras

        outer = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                outer.end_epoch(self.model, epoch, logs or {})

        self.callback = _Callback()
        self.validation = validation
        self.sample = sample
        self.verbose = verbose
        self.history = {"train_loss": [], "validation_loss": [], "seconds": []}
        self.started = time.perf_counter()

    def end_epoch(self, model, epoch: int, logs: dict) -> None:
        loss = validation_loss(model, *self.validation)
        self.history["train_loss"].append(float(logs.get("loss", np.nan)))
        self.history["validation_loss"].append(loss)
        self.history["seconds"].append(time.perf_counter() - self.started)
        if self.verbose:
            print(f"epoch {epoch + 1}: validation loss {loss:.3f} (perplexity {np.exp(loss):.1f})")
            if self.sample is not None:
                print("   ", self.sample())


def train(model, batches, validation: tuple[np.ndarray, np.ndarray], epochs: int,
          sample: Callable[[], str] | None = None, verbose: bool = True) -> dict:
    """Fit the model; return the history (train and validation loss, seconds) per epoch.

    ``validation`` is (inputs, targets) of the validation reviews, as the notebook's shift makes them.
    """
    report = EpochReport(validation, sample, verbose)
    model.fit(batches, epochs=epochs, callbacks=[report.callback], shuffle=False, verbose=1 if verbose else 0)
    return report.history


def cache_path(name: str, settings: dict) -> Path:
    """A file name that changes whenever anything that shapes the weights changes."""
    import keras

    fingerprint = json.dumps(dict(settings, keras=keras.__version__), sort_keys=True, default=str)
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:12]
    return cache_dir() / f"{name}-{digest}.weights.h5"


def behaviour_fingerprint(model, length: int = 8) -> str:
    """A short hash of what a freshly built model computes on fixed token ids (its logits, rounded).

    Put in ``cache_path``'s settings, it gives a model whose layers compute something else (another
    transformer block, say) a cache file of its own, so it never loads weights trained for a different one.
    """
    token_ids = np.arange(1, length + 1, dtype="int32")[None]
    logits = np.asarray(model(token_ids, training=False), dtype=np.float32)
    return hashlib.sha256(np.round(logits, 4).tobytes()).hexdigest()[:12]


def train_or_load(model, path: Path | None, train_once: Callable[[], dict]) -> dict:
    """Load cached weights and history from ``path`` if there; else train, then save both.

    ``path=None`` means no cache (CI and grading always train their tiny model afresh).
    """
    history_file = None if path is None else path.with_suffix(".history.json")
    if path is not None and path.exists() and history_file.exists():
        try:
            model.load_weights(path)
            print(f"Loaded trained weights from {path} (delete the file to train again).")
            return json.loads(history_file.read_text())
        except (ValueError, OSError) as error:  # the notebook's layers changed since
            print(f"Cached weights in {path} do not fit this model ({error}); training again.")
    history = train_once()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(path)
        history_file.write_text(json.dumps(history))
        print(f"Saved the trained weights to {path}.")
    return history


def attention_steps(probe, token_ids: Sequence[int], vocabulary: Sequence[str], prompt_length: int,
                    probabilities: Callable[[np.ndarray], np.ndarray], top: int = 5) -> list[dict]:
    """What the model saw and predicted at each generated position, from one forward pass.

    ``probe(ids)`` returns (logits, attention scores): logits (1, T, vocab) and scores
    (1, heads, T, T) or a list of those, one per layer; ``probabilities(logits)`` turns
    logits (T, vocab) into next-word probabilities (the notebook's softmax). The probe
    reads every id but the last, which has no next word to show. Step i is the
    prediction of token ``prompt_length + i`` from the tokens before it.
    """
    words = [vocabulary[i] for i in token_ids]
    logits, scores = probe(np.asarray(token_ids, dtype="int32")[None, :-1], training=False)
    scores = scores if isinstance(scores, (list, tuple)) else [scores]
    scores = np.stack([np.asarray(layer, dtype="float32")[0] for layer in scores])  # (layers, heads, T, T)
    next_word = np.asarray(probabilities(np.asarray(logits, dtype="float32")[0]))  # float32 even from bfloat16
    steps = []
    for position in range(prompt_length - 1, len(token_ids) - 1):
        best = np.argsort(next_word[position])[::-1][:top]
        steps.append(dict(
            context=words[: position + 1],
            attention=scores[:, :, position, : position + 1],  # (layers, heads, context)
            top_words=[(vocabulary[i], float(next_word[position, i])) for i in best],
            next_word=words[position + 1],
        ))
    return steps
