"""Unit 2's reference BPE learner against Hugging Face tokenizers' BpeTrainer, on a corpus without ties
(where the two must agree merge for merge, whatever each does with ties)."""

import json
import math
import re
from collections import Counter

import nbformat
import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from autograder.cells import run_cells
from autograder.units import find_unit


@pytest.fixture(scope="module")
def unit2() -> dict:
    """CHUNK_PATTERN, merge_pair and learn_bpe as Unit 2's source notebook defines them (reference solutions)."""
    path = find_unit("02").notebook
    namespace = {"re": re, "math": math, "Counter": Counter}
    chunk_cell = next(cell for cell in nbformat.read(path, as_version=4).cells if "CHUNK_PATTERN = " in cell.source)
    exec(chunk_cell.source, namespace)
    return run_cells(path, ("merge_pair", "learn_bpe"), namespace)


def corpus(seed: int = 17) -> list[str]:
    """Thirty made-up words of 3 to 7 letters, each repeated a different number of times (1 to 799). With
    this seed the first 26 merges have no ties."""
    generator = np.random.default_rng(seed)
    words = sorted({"".join(generator.choice(list("abcdefghij"), size=int(generator.integers(3, 8)))) for _ in range(30)})
    repeats = generator.choice(np.arange(1, 800), size=len(words), replace=False)
    return [" ".join([word] * int(count)) for word, count in zip(words, repeats)]


def merges_before_first_tie(texts, merges, unit2) -> int:
    """How many of ``merges`` were learned while the most frequent pair was the only one with its count."""
    chunks = Counter(chunk for text in texts for chunk in unit2["CHUNK_PATTERN"].findall(text))
    spelled = {chunk: list(chunk.encode("utf-8")) for chunk in chunks}
    for number, (pair, new_id) in enumerate(merges.items()):
        counts = Counter()
        for chunk, ids in spelled.items():
            for adjacent in zip(ids, ids[1:]):
                counts[adjacent] += chunks[chunk]
        first, second = (sorted(counts.values(), reverse=True) + [0])[:2]
        if first == second:
            return number
        spelled = {chunk: unit2["merge_pair"](ids, pair, new_id) for chunk, ids in spelled.items()}
    return len(merges)


def byte_of_symbol() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte, which tokenizers' ByteLevel pre-tokenizer writes merges in."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[chr(byte)] = byte
        else:
            table[chr(256 + extra)] = byte
            extra += 1
    return table


def tokenizers_merges(texts, vocab_size: int) -> list[tuple[bytes, bytes]]:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    table = byte_of_symbol()
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    pairs = [merge.split(" ") if isinstance(merge, str) else merge for merge in merges]
    return [tuple(bytes(table[symbol] for symbol in part) for part in pair) for pair in pairs]


def test_learn_bpe_merges_as_tokenizers_does_until_the_first_tie(unit2):
    """Ties are where the two may differ (each states its own rule), so the comparison stops at the first."""
    texts = corpus()
    merges, vocab = unit2["learn_bpe"](texts, 400)
    untied = merges_before_first_tie(texts, merges, unit2)
    assert untied >= 20, f"only {untied} merges before the first tie: too few to compare"
    ours = [(vocab[a], vocab[b]) for a, b in list(merges)[:untied]]
    assert ours == tokenizers_merges(texts, 256 + untied)
