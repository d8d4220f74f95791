"""Unit 6's workbench: data, a small GPT-2, sampling and training loops around the student's RLHF code.

The ideas are the student's (log-probabilities of a response, the reward model's loss, the KL-penalised
reward, GAE, PPO's clipped losses, DPO's loss, attention with a KV cache). What is here is plumbing: the
prompts and preference pairs made from the reviews, Hugging Face's GPT-2 built from a small configuration,
batching, sampling, and loops that take the student's functions as arguments.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import data
from .runtime import History
from .settings import cache_dir

PAD, END = "<pad>", "<end>"
WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")  # letters of any alphabet, hyphenated words kept


# --- prompts, responses and preference pairs -----------------------------------------------------------------

def prompt_of(review: data.Review) -> str:
    """What the policy is asked: the review's header, as Unit 4 wrote it."""
    return f"wine review : {review.country} : {review.province} : {review.variety} :"


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str  # the description of the review with more points
    rejected: str
    points: tuple[int, int]  # (chosen, rejected)


def preference_pairs(reviews: Sequence[data.Review], min_gap: int, rng, per_review: int = 2) -> list[PreferencePair]:
    """Pairs of reviews with the same prompt (country, province, variety) whose tasters' points differ by at
    least ``min_gap``: the higher-rated description is "chosen". Each review starts at most ``per_review``
    pairs, with partners drawn by ``rng``."""
    groups = defaultdict(list)
    for review in reviews:
        groups[prompt_of(review)].append(review)
    pairs = []
    for prompt, group in groups.items():
        for review in group:
            partners = [other for other in group if abs(other.points - review.points) >= min_gap
                        and other.points < review.points]
            for index in rng.permutation(len(partners))[:per_review]:
                other = partners[index]
                pairs.append(PreferencePair(prompt, review.description, other.description,
                                            (review.points, other.points)))
    order = rng.permutation(len(pairs))
    return [pairs[i] for i in order]


# --- tokenizer and models --------------------------------------------------------------------------------------

def train_tokenizer(texts: Sequence[str], vocab_size: int = 2000):
    """A byte-level BPE (GPT-2's kind of tokenizer) trained on ``texts``, with a padding and an end token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, END],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token=PAD, eos_token=END, bos_token=END,
                                   clean_up_tokenization_spaces=False)


def small_gpt2_config(tokenizer, **overrides):
    """GPT-2's architecture, shrunk to train on a CPU in minutes (GPT-2 small: 12 layers of width 768)."""
    from transformers import GPT2Config

    settings = dict(vocab_size=len(tokenizer), n_positions=128, n_embd=128, n_layer=3, n_head=4,
                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, pad_token_id=tokenizer.pad_token_id,
                    bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    return GPT2Config(**{**settings, **overrides})


def small_gpt2(tokenizer, **overrides):
    """A fresh GPT2LMHeadModel of ``small_gpt2_config``, its loss named so transformers does not warn."""
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel(small_gpt2_config(tokenizer, **overrides))
    model.loss_type = "ForCausalLM"  # transformers cannot guess it from the class name, and says so
    return model


def trainable_copy(module):
    """A deep copy of ``module`` in training mode, every parameter trainable."""
    return copy.deepcopy(module).train().requires_grad_(True)


def scalar_head(width: int):
    """A linear layer from ``width`` features to one number, starting at zero (so it starts neutral)."""
    head = torch.nn.Linear(width, 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return head


class RewardModel(torch.nn.Module):
    """A GPT-2 trunk (copied from a language model) and a linear head on the last real token: one score a text."""

    def __init__(self, language_model):
        super().__init__()
        self.trunk = trainable_copy(language_model.transformer)
        self.head = scalar_head(self.trunk.config.n_embd)

    def forward(self, input_ids, attention_mask):
        hidden = self.trunk(input_ids=input_ids, attention_mask=attention_mask,
                            position_ids=positions(attention_mask)).last_hidden_state
        last = (attention_mask * torch.arange(attention_mask.shape[1])).argmax(dim=1)
        return self.head(hidden[torch.arange(len(last)), last]).squeeze(-1)


class PolicyWithValue(torch.nn.Module):
    """The policy (a copy of a GPT-2 language model) with a value head on its last hidden states: PPO trains
    both at once."""

    def __init__(self, language_model):
        super().__init__()
        self.policy = trainable_copy(language_model)
        self.value_head = scalar_head(self.policy.config.n_embd)

    def forward(self, input_ids, attention_mask):
        output = self.policy(input_ids=input_ids, attention_mask=attention_mask,
                             position_ids=positions(attention_mask), output_hidden_states=True)
        return output.logits, self.value_head(output.hidden_states[-1]).squeeze(-1)


def positions(attention_mask):
    """Position ids that start at 0 on each row's first real token (prompts are padded on the left)."""
    return (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)


# --- batches -----------------------------------------------------------------------------------------------------

def encode(tokenizer, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    return [ids[:max_tokens] for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, left: bool = False):
    """Token id lists as one (batch, width) tensor and its attention mask, padded on the right (or the left)."""
    width = max(map(len, rows))
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for row, ids in enumerate(rows):
        columns = slice(width - len(ids), width) if left else slice(0, len(ids))
        input_ids[row, columns] = torch.tensor(ids, dtype=torch.long)
        attention[row, columns] = 1
    return input_ids, attention


def prompt_response_batch(tokenizer, prompts: Sequence[str], responses: Sequence[str], max_response: int) -> dict:
    """Prompts and responses as one right-padded batch: input_ids, attention_mask, and response_mask (True at
    the response's tokens, its end token included; False on the prompt and the padding)."""

    prompt_ids = encode(tokenizer, prompts, 64)
    response_ids = [ids + [tokenizer.eos_token_id] for ids in encode(tokenizer, responses, max_response - 1)]
    input_ids, attention = pad_rows([p + r for p, r in zip(prompt_ids, response_ids)], tokenizer.pad_token_id)
    response = torch.zeros_like(attention, dtype=torch.bool)
    for row, (p, r) in enumerate(zip(prompt_ids, response_ids)):
        response[row, len(p):len(p) + len(r)] = True
    return {"input_ids": input_ids, "attention_mask": attention, "response_mask": response}


def left_padded_prompts(tokenizer, prompts: Sequence[str]) -> dict:
    """Prompts padded on the left, so every row's next token goes in the same column."""

    input_ids, attention = pad_rows(encode(tokenizer, prompts, 64), tokenizer.pad_token_id, left=True)
    return {"input_ids": input_ids, "attention_mask": attention}


# --- sampling ----------------------------------------------------------------------------------------------------

@dataclass
class Samples:
    """Prompts with sampled responses: left-padded prompt, then the response, then padding after its end."""
    input_ids: object  # (batch, T) torch.long
    attention_mask: object  # (batch, T): 1 on the prompt's and the response's tokens
    response_mask: object  # (batch, T) bool: the response's tokens, its end token included
    seconds: float

    def texts(self, tokenizer) -> list[str]:
        return [tokenizer.decode(ids[mask], skip_special_tokens=True).strip()
                for ids, mask in zip(self.input_ids, self.response_mask)]


def sample(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, seed: int, use_cache: bool = True,
           stop_at_end: bool = True) -> Samples:
    """Sample a response to each prompt, one token at a time, until its end token or ``max_new_tokens``
    (``stop_at_end=False``: always ``max_new_tokens`` steps, as a timing needs).

    With ``use_cache`` the model keeps every layer's keys and values (Hugging Face's ``cache``) and
    computes one new position per step; without it, it reruns the whole sequence at every step. Both draw the
    same tokens from the same ``seed``.
    """

    started = time.perf_counter()
    batch = left_padded_prompts(tokenizer, prompts)
    input_ids, attention = batch["input_ids"], batch["attention_mask"]
    prompt_width = input_ids.shape[1]
    generator = torch.Generator().manual_seed(seed)
    finished = torch.zeros(len(prompts), dtype=torch.bool)
    past, step_ids = None, input_ids
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for _position in range(prompt_width, prompt_width + max_new_tokens):
            if use_cache:
                output = model(input_ids=step_ids, attention_mask=attention, cache=past, use_cache=True,
                               position_ids=positions(attention)[:, -step_ids.shape[1]:])
                past = output.cache
            else:
                output = model(input_ids=input_ids, attention_mask=attention, use_cache=False,
                               position_ids=positions(attention))
            probabilities = torch.softmax(output.logits[:, -1].float(), dim=-1)
            token = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)
            token = torch.where(finished, torch.full_like(token, tokenizer.pad_token_id), token)
            input_ids = torch.cat([input_ids, token[:, None]], dim=1)
            attention = torch.cat([attention, (~finished).long()[:, None]], dim=1)
            finished |= token == tokenizer.eos_token_id
            step_ids = token[:, None]
            if stop_at_end and finished.all():
                break
    model.train(was_training)
    response = attention.bool().clone()
    response[:, :prompt_width] = False
    return Samples(input_ids, attention, response, time.perf_counter() - started)


# --- training ----------------------------------------------------------------------------------------------------

def progress(iterable, description: str):
    """A progress bar over ``iterable`` that disappears when done."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=description, leave=False)


def train(parameters, loss_of_step: Callable[[int], object], steps: int, learning_rate: float = 1e-3,
          evaluate: Callable[[], dict] | None = None, every: int = 25, description: str = "training") -> History:
    """AdamW on ``parameters`` for ``steps`` steps; ``loss_of_step(step)`` builds that step's loss.

    ``evaluate()`` (numbers by name) runs every ``every`` steps and at the end; the mean loss is recorded then.
    """
    parameters = list(parameters)
    optimiser = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=0.0)
    history, started, recent = History(), time.perf_counter(), []
    for step in progress(range(1, steps + 1), description):
        loss = loss_of_step(step)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        recent.append(loss.item())
        if step % every == 0 or step == steps:
            history.record(step, loss=np.mean(recent), **(evaluate() if evaluate else {}))
            recent = []
    history.seconds = time.perf_counter() - started
    return history


def language_model_batches(tokenizer, texts: Sequence[str], batch_size: int, max_tokens: int, seed: int):
    """``batches(step)`` for plain next-token training: random texts, each ending in the end token."""

    rng = np.random.default_rng(seed)
    encoded = [ids + [tokenizer.eos_token_id] for ids in encode(tokenizer, texts, max_tokens - 1)]

    def batches(step: int) -> dict:
        input_ids, attention = pad_rows([encoded[i] for i in rng.integers(len(encoded), size=batch_size)],
                                      tokenizer.pad_token_id)
        labels = input_ids.masked_fill(attention == 0, -100)
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}

    return batches


def cache_path(name: str, settings: dict) -> Path:
    """A file name that changes whenever anything that shapes the weights changes."""
    import transformers

    fingerprint = json.dumps(dict(settings, torch=torch.__version__, transformers=transformers.__version__),
                             sort_keys=True, default=str)
    return cache_dir() / f"{name}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}.pt"


def train_or_load(model, path: Path | None, train_once: Callable[[], History]) -> History:
    """Load cached weights and history from ``path`` if there; else train, then save both (``None``: no cache)."""

    if path is not None and path.exists():
        try:
            saved = torch.load(path, weights_only=True)  # tensors and plain data only: nothing is unpickled
            model.load_state_dict(saved["weights"])
            print(f"Loaded trained weights from {path} (delete the file to train again).")
            return History(**saved["history"])
        except Exception as error:  # an older or damaged file: any failure means train again
            print(f"Cached weights in {path} cannot be used ({type(error).__name__}); training again.")
    history = train_once()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"weights": model.state_dict(), "history": asdict(history)}, path)
        print(f"Saved the trained weights to {path}.")
    return history


def score_texts(reward_model, tokenizer, prompts: Sequence[str], responses: Sequence[str], max_response: int,
                batch_size: int = 128) -> np.ndarray:
    """The reward model's score of each prompt + response, a batch at a time (so memory stays small)."""
    scores = []
    with torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            batch = prompt_response_batch(tokenizer, prompts[start:start + batch_size],
                                          responses[start:start + batch_size], max_response)
            scores.append(reward_model(batch["input_ids"], batch["attention_mask"]).numpy())
    return np.concatenate(scores)


def word_effects(reviews: Sequence[data.Review], scores: Sequence[float], min_reviews: int = 15) -> list[tuple[str, float]]:
    """For each word in at least ``min_reviews`` of the reviews: the mean score of the reviews that use it, minus
    the mean of all; highest first."""
    by_review = np.array(scores, dtype=np.float64)
    users = defaultdict(list)
    for index, review in enumerate(reviews):
        for word in set(WORD.findall(review.description.lower())):
            users[word].append(index)
    effects = [(word, float(by_review[indices].mean() - by_review.mean())) for word, indices in users.items()
               if len(indices) >= min_reviews]
    return sorted(effects, key=lambda item: -item[1])
