"""Unit 5's workbench: the data, tokenizers, tiny models and training loops around the student's code.

The notebook's exercises are the ideas (the attention masks of the three families, BERT's masking and
sentence pairs, T5's span corruption, mean pooling, retrieval, prompts). What is here is plumbing: it takes
the student's functions as arguments where a loop needs them, so the lesson trains on the student's code.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Sequence

import numpy as np

from . import data
from .runtime import History

# The colour of the most common varieties of the Wine Reviews data; blends, rosés and sparkling wines are left
# out so the label is never in doubt.
WINE_COLOURS = {
    **dict.fromkeys(["Pinot Noir", "Cabernet Sauvignon", "Red Blend", "Bordeaux-style Red Blend", "Syrah",
                     "Nebbiolo", "Sangiovese", "Malbec", "Zinfandel", "Merlot", "Tempranillo", "Cabernet Franc",
                     "Rhône-style Red Blend", "Shiraz", "Grenache", "Garnacha", "Barbera", "Gamay",
                     "Tempranillo Blend", "Petite Sirah", "Carmenère", "Aglianico", "Portuguese Red",
                     "Sangiovese Grosso", "Corvina, Rondinella, Molinara", "Nero d'Avola", "Primitivo",
                     "Mourvèdre", "Montepulciano", "Blaufränkisch", "Pinot Nero", "Tannat", "Zweigelt"], "red"),
    **dict.fromkeys(["Chardonnay", "Sauvignon Blanc", "Riesling", "Pinot Gris", "Pinot Grigio", "Grüner Veltliner",
                     "Viognier", "Chenin Blanc", "Gewürztraminer", "Albariño", "Bordeaux-style White Blend",
                     "Portuguese White", "White Blend", "Verdejo", "Garganega", "Torrontés", "Vermentino",
                     "Sémillon", "Melon", "Pinot Blanc", "Rhône-style White Blend", "Moscato", "Muscat",
                     "Friulano", "Fiano", "Assyrtiko", "Godello", "Verdicchio"], "white"),
}
COLOURS = ("white", "red")  # label 0, label 1
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


def colour_of(review: data.Review) -> int | None:
    """1 for a red, 0 for a white, None for a variety whose colour the table does not give."""
    colour = WINE_COLOURS.get(review.variety)
    return None if colour is None else COLOURS.index(colour)


def sentences(text: str) -> list[str]:
    """A review's sentences (a full stop, ! or ? followed by a capital or a digit ends one)."""
    return [part for part in SENTENCE_END.split(text.strip()) if part]


# --- tokenizers ------------------------------------------------------------------------------------------------

def train_wordpiece(texts: Sequence[str], vocab_size: int = 4000, extra_special_tokens: Sequence[str] = ()):
    """A lower-casing WordPiece tokenizer trained on ``texts``, as a transformers BertTokenizerFast.

    It adds [CLS] ... [SEP] (and segment ids for pairs) the way BERT does. The vocabulary is handed over as a
    dict: ``BertTokenizerFast(vocab_file=...)`` is silently ignored by transformers 5 and turns every word
    into [UNK].
    """
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(list(texts), vocab_size=vocab_size, min_frequency=2, show_progress=False)
    tokenizer = BertTokenizerFast(vocab=trainer.get_vocab(), do_lower_case=True)
    if extra_special_tokens:
        tokenizer.add_special_tokens({"additional_special_tokens": list(extra_special_tokens)})
    if tokenizer.convert_tokens_to_ids("wine") == tokenizer.unk_token_id:
        raise RuntimeError("the WordPiece vocabulary lost the word 'wine': the tokenizer was built wrongly")
    return tokenizer


def sentinel_tokens(count: int) -> list[str]:
    """T5's sentinel tokens: <extra_id_0>, <extra_id_1>, ..."""
    return [f"<extra_id_{i}>" for i in range(count)]


# --- a tiny BERT ------------------------------------------------------------------------------------------------

def tiny_bert_config(vocab_size: int, **overrides):
    """BERT's architecture at 1/6 of BERT-base's width and 1/6 of its depth: about a million parameters."""
    from transformers import BertConfig

    settings = dict(vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=512, max_position_embeddings=128, attn_implementation="eager")
    return BertConfig(**{**settings, **overrides})


def pretraining_batch(tokenizer, pairs: Sequence[tuple[str, str, int]], mask_tokens: Callable, rng,
                      max_length: int = 64) -> dict:
    """Tensors for BertForPreTraining from (sentence A, sentence B, NSP label) triples, masked by ``mask_tokens``.

    ``mask_tokens(input_ids, special_tokens_mask, mask_token_id, vocab_size, rng)`` is the student's function.
    """
    import torch

    first, second, labels = zip(*pairs)
    encoded = tokenizer(list(first), list(second), truncation="longest_first", max_length=max_length,
                        padding=True, return_special_tokens_mask=True, return_tensors="np")
    special = encoded["special_tokens_mask"].astype(bool) | (encoded["attention_mask"] == 0)
    inputs, mlm_labels = mask_tokens(encoded["input_ids"], special, tokenizer.mask_token_id, len(tokenizer), rng)
    return {"input_ids": torch.as_tensor(np.asarray(inputs), dtype=torch.long),
            "token_type_ids": torch.as_tensor(encoded["token_type_ids"], dtype=torch.long),
            "attention_mask": torch.as_tensor(encoded["attention_mask"], dtype=torch.long),
            "labels": torch.as_tensor(np.asarray(mlm_labels), dtype=torch.long),
            "next_sentence_label": torch.as_tensor(labels, dtype=torch.long)}


def pretraining_accuracy(model, batch: dict) -> tuple[float, float]:
    """Masked-token accuracy and next-sentence accuracy of ``model`` on one prepared batch."""
    import torch

    model.eval()
    with torch.no_grad():
        output = model(**{k: v for k, v in batch.items() if k not in ("labels", "next_sentence_label")})
    model.train()
    masked = batch["labels"] != -100
    token_accuracy = (output.prediction_logits.argmax(-1)[masked] == batch["labels"][masked]).float().mean()
    sentence_accuracy = (output.seq_relationship_logits.argmax(-1) == batch["next_sentence_label"]).float().mean()
    return float(token_accuracy), float(sentence_accuracy)


def train(model, batches: Callable[[int], dict], steps: int, learning_rate: float = 1e-3,
          evaluate: Callable[[], dict] | None = None, every: int = 50, description: str = "training") -> History:
    """AdamW with a linear warm-up over the first 10% of ``steps``; ``batches(step)`` gives each step's tensors.

    ``evaluate()`` (numbers by name) runs every ``every`` steps and at the end; the loss is recorded each time.
    """
    import torch
    from tqdm.auto import tqdm

    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warm_up = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, (step + 1) / warm_up))
    history, started, recent = History(), time.perf_counter(), []
    model.train()
    for step in tqdm(range(1, steps + 1), desc=description, leave=False):
        loss = model(**batches(step)).loss
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        recent.append(loss.item())
        if step % every == 0 or step == steps:
            history.record(step, loss=np.mean(recent), **(evaluate() if evaluate else {}))
            recent = []
    history.seconds = time.perf_counter() - started
    model.eval()
    return history


def as_masked_lm(pretrained):
    """A BertForMaskedLM sharing nothing with, but copied from, a BertForPreTraining (for ``pipeline``)."""
    from transformers import BertForMaskedLM

    model = BertForMaskedLM(pretrained.config)
    model.load_state_dict(pretrained.state_dict(), strict=False)  # all but the next-sentence head
    return model.eval()


def as_classifier(pretrained, num_labels: int, seed: int = 42):
    """A BertForSequenceClassification whose encoder starts from a BertForPreTraining's weights."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    model = BertForSequenceClassification(pretrained.config.__class__(**{**pretrained.config.to_dict(),
                                                                         "num_labels": num_labels}))
    model.bert.load_state_dict(pretrained.bert.state_dict())
    return model


def encoder_outputs(encoder, tokenizer, texts: Sequence[str], batch_size: int = 64, max_length: int = 128):
    """Yield (last hidden states (batch, T, width), attention mask (batch, T)) as NumPy arrays, batch by batch."""
    import torch
    from tqdm.auto import tqdm

    encoder.eval()
    for start in tqdm(range(0, len(texts), batch_size), desc="encoding", leave=False):
        encoded = tokenizer(list(texts[start:start + batch_size]), truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = encoder(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).last_hidden_state
        yield hidden.numpy(), encoded["attention_mask"].numpy()


def sentence_embeddings(encoder, tokenizer, texts: Sequence[str], pool: Callable, normalise: bool = True,
                        max_length: int = 128) -> np.ndarray:
    """One vector per text: ``pool(hidden_states, attention_mask)`` (the student's pooling), unit length if asked.

    Texts are encoded longest first, so each batch holds texts of similar length and little padding; the vectors
    come back in the order of ``texts``.
    """
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    batches = encoder_outputs(encoder, tokenizer, [texts[i] for i in order], max_length=max_length)
    vectors = np.empty((len(texts), encoder.config.hidden_size), dtype=np.float32)
    vectors[order] = np.concatenate([np.asarray(pool(hidden, mask), dtype=np.float32) for hidden, mask in batches])
    if normalise:
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def search_box(search: Callable[[str], list[str]], placeholder: str = "a crisp white with citrus"):
    """A text box; on Enter, the reviews ``search(query)`` returns are listed below it."""
    import html

    import ipywidgets as w

    query = w.Text(value=placeholder, description="query", layout=w.Layout(width="60%"), continuous_update=False)
    results = w.HTML()

    def render(_=None):
        items = "".join(f"<li>{html.escape(text)}</li>" for text in search(query.value))
        results.value = f"<ol>{items}</ol>"

    query.observe(render, names="value")
    render()
    return w.VBox([query, results])


def model_size_megabytes(model) -> float:
    """The bytes of a model's saved state (weights and quantisation scales), in MiB."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 2**20


def quantise_linear_layers(model):
    """A copy of ``model`` whose linear layers hold INT8 weights (PyTorch's dynamic quantisation, on the CPU)."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao, still there in 2.13
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization.*")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def classification_batch(tokenizer, texts: Sequence[str], labels: Sequence[int], max_length: int = 64) -> dict:
    import torch

    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    return {**encoded, "labels": torch.as_tensor(list(labels), dtype=torch.long)}


def predict_classes(model, tokenizer, texts: Sequence[str], batch_size: int = 128, max_length: int = 64) -> np.ndarray:
    import torch

    predictions = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            encoded = tokenizer(list(texts[start:start + batch_size]), truncation=True, max_length=max_length,
                                padding=True, return_tensors="pt")
            predictions.append(model(**encoded).logits.argmax(-1).numpy())
    return np.concatenate(predictions)


def bag_of_words_accuracy(train_texts, train_labels, test_texts, test_labels) -> float:
    """A logistic regression on word counts: the baseline a transformer has to beat."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = CountVectorizer(min_df=2)
    classifier = LogisticRegression(max_iter=2000).fit(vectoriser.fit_transform(train_texts), train_labels)
    return float(classifier.score(vectoriser.transform(test_texts), test_labels))


def features_accuracy(train_features, train_labels, test_features, test_labels) -> float:
    """A logistic regression on frozen features (a pretrained encoder's sentence embeddings)."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=2000).fit(train_features, train_labels)
    return float(classifier.score(test_features, test_labels))


# --- a tiny T5 -------------------------------------------------------------------------------------------------

def tiny_t5_config(vocab_size: int, pad_token_id: int, eos_token_id: int, **overrides):
    """T5's encoder-decoder at d_model 128 with 2 + 2 layers: about 1.4 million parameters."""
    from transformers import T5Config

    settings = dict(vocab_size=vocab_size, d_model=128, d_kv=32, d_ff=512, num_layers=2, num_decoder_layers=2,
                    num_heads=4, pad_token_id=pad_token_id, eos_token_id=eos_token_id,
                    decoder_start_token_id=pad_token_id, attn_implementation="eager")
    return T5Config(**{**settings, **overrides})


def token_ids(tokenizer, text: str, max_length: int = 64) -> list[int]:
    """A text's token ids with no [CLS] or [SEP]: T5's inputs and targets are plain token sequences."""
    return tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]


def padded(sequences: Sequence[Sequence[int]], end_id: int, fill: int) -> np.ndarray:
    """Each sequence with ``end_id`` appended, padded with ``fill`` to the longest: (batch, longest + 1)."""
    longest = max(len(s) for s in sequences) + 1
    return np.array([list(s) + [end_id] + [fill] * (longest - len(s) - 1) for s in sequences], dtype=np.int64)


def seq2seq_batch(tokenizer, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> dict:
    """A T5 training batch from token-id sequences; [SEP] ends each one, as T5's </s> does."""
    import torch

    inputs = padded(sources, tokenizer.sep_token_id, tokenizer.pad_token_id)
    labels = padded(targets, tokenizer.sep_token_id, -100)  # -100: padding is not in the loss
    return {"input_ids": torch.as_tensor(inputs), "attention_mask": torch.as_tensor(inputs != tokenizer.pad_token_id),
            "labels": torch.as_tensor(labels).contiguous()}  # T5 refuses labels that are not contiguous


def generate(model, tokenizer, sources: Sequence[str], max_new_tokens: int = 8) -> list[str]:
    """Greedy decoding for a batch of source texts."""
    import torch

    inputs = padded([token_ids(tokenizer, text) for text in sources], tokenizer.sep_token_id, tokenizer.pad_token_id)
    with torch.no_grad():
        output = model.generate(input_ids=torch.as_tensor(inputs),
                                attention_mask=torch.as_tensor(inputs != tokenizer.pad_token_id),
                                max_new_tokens=max_new_tokens, do_sample=False)
    return [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in output]


def cross_attention(model, tokenizer, source: str, target: str) -> tuple[list[str], list[str], np.ndarray]:
    """The decoder's cross-attention for one (source, target) pair: source tokens, target tokens, (layers, heads,
    target, source) weights."""
    import torch

    source_ids = token_ids(tokenizer, source) + [tokenizer.sep_token_id]
    target_ids = token_ids(tokenizer, target) + [tokenizer.sep_token_id]
    decoder_input = [model.config.decoder_start_token_id] + target_ids[:-1]
    with torch.no_grad():
        output = model(input_ids=torch.tensor([source_ids]), decoder_input_ids=torch.tensor([decoder_input]),
                       output_attentions=True)
    weights = np.stack([layer[0].numpy() for layer in output.cross_attentions])
    return tokenizer.convert_ids_to_tokens(source_ids), tokenizer.convert_ids_to_tokens(target_ids), weights
