"""Wrong answers the hidden tests of Unit 2 must catch (never released to students).

For each solution cell (by nbgrader grade_id): plausible student mistakes, each
written as text edits of the reference solution, (old, new) pairs applied in
order. tests/test_contract.py checks that every edit applies and that every
mutant fails at least one of the exercise's tests.
"""

MUTANTS = {
    "pad_punctuation": {
        "runs of spaces kept": [('return re.sub(" +", " ", padded).strip(" ")', 'return padded.strip(" ")')],
        "space after the mark only": [('r" \\1 "', 'r"\\1 "')],
        "ends not stripped": [('.strip(" ")', "")],
        "all white space stripped at the ends": [('.strip(" ")', ".strip()")],
        "every non-word character padded": [('f"([{re.escape(string.punctuation)}])"', 'r"([^\\w\\s])"')],
        "hyphen not padded": [("re.escape(string.punctuation)", "re.escape(string.punctuation.replace(chr(45), ''))")],
        "hand-written punctuation list": [
            ('f"([{re.escape(string.punctuation)}])"',
             'r"""([.,!?;:\'"()\\[\\]{}$\\\\^&%-])"""')],
    },
    "learn_bpe": {
        "each distinct chunk counted once": [("pair_counts[pair] += chunk_counts[chunk]", "pair_counts[pair] += 1")],
        "ties broken by the largest pair": [("best = min(pair_counts, key=lambda pair: (-pair_counts[pair], pair))",
                                             "best = max(pair_counts, key=lambda pair: (pair_counts[pair], pair))")],
        "ties broken by first appearance": [("best = min(pair_counts, key=lambda pair: (-pair_counts[pair], pair))",
                                             "best = max(pair_counts, key=pair_counts.get)")],
        "the least frequent pair": [("key=lambda pair: (-pair_counts[pair], pair))", "key=lambda pair: (pair_counts[pair], pair))")],
        "whole texts as chunks (merges across words)": [
            ("Counter(chunk for text in texts for chunk in CHUNK_PATTERN.findall(text))", "Counter(texts)")],
        "a new token keeps only its first part's bytes": [("vocab[new_id] = vocab[best[0]] + vocab[best[1]]",
                                                            "vocab[new_id] = vocab[best[0]]")],
        "one merge too few": [("for new_id in range(256, vocab_size):", "for new_id in range(256, vocab_size - 1):")],
        "no stop when no pair is left": [("        if not pair_counts:\n            break\n", "")],
        "each pair counted once per chunk": [("for pair in zip(ids, ids[1:]):", "for pair in set(zip(ids, ids[1:])):")],
        "texts joined with newlines": [("Counter(chunk for text in texts for chunk in CHUNK_PATTERN.findall(text))",
                                        'Counter(CHUNK_PATTERN.findall("\\n".join(texts)))')],
        "ties broken by the first id only": [("(-pair_counts[pair], pair))", "(-pair_counts[pair], pair[0]))")],
    },
    "merge_pair": {
        "overlapping matches merged": [("            i += 2\n", "            i += 1\n")],
        "last id dropped": [("while i < len(ids):", "while i < len(ids) - 1:")],
        "only the first occurrence merged": [("if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):",
                                              "if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair) and new_id not in merged:")],
        "string replace on comma-joined ids": [
            ("    merged, i = [], 0\n",
             '    text = ",".join(map(str, ids)).replace(",".join(map(str, pair)), str(new_id))\n    return [int(t) for t in text.split(",")] if text else []\n    merged, i = [], 0\n')],
        "returns the input list itself when nothing merges": [
            ("    merged, i = [], 0\n",
             "    if tuple(pair) not in zip(ids, ids[1:]):\n        return ids\n    merged, i = [], 0\n")],
    },
    "bpe_encode": {
        "one merge per chunk": [("while len(chunk_ids) >= 2:", "if len(chunk_ids) >= 2:")],
        "latest merge first": [("min(zip(chunk_ids, chunk_ids[1:]), key=lambda p: merges.get(p, math.inf))",
                                "max(zip(chunk_ids, chunk_ids[1:]), key=lambda p: merges.get(p, -math.inf))")],
        "merges applied in dictionary order": [(
            "        while len(chunk_ids) >= 2:\n"
            "            pair = min(zip(chunk_ids, chunk_ids[1:]), key=lambda p: merges.get(p, math.inf))\n"
            "            if pair not in merges:\n"
            "                break\n"
            "            chunk_ids = merge_pair(chunk_ids, pair, merges[pair])\n",
            "        for pair, new_id in merges.items():\n"
            "            chunk_ids = merge_pair(chunk_ids, pair, new_id)\n")],
        "no chunking": [("for chunk in CHUNK_PATTERN.findall(text):", "for chunk in [text]:")],
        "chunks split at spaces": [
            ("for chunk in CHUNK_PATTERN.findall(text):",
             "for chunk in re.findall(r' ?\\S+|\\s+', text):")],
    },
    "bpe_decode": {
        "each token decoded on its own": [('b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")',
                                           '"".join(vocab[i].decode("utf-8", errors="replace") for i in ids)')],
        "tokens joined with spaces": [('b"".join(', 'b" ".join(')],
        "strict decoding (crashes on broken bytes)": [(', errors="replace"', "")],
        "broken bytes silently dropped": [('errors="replace"', 'errors="ignore"')],
    },
    "skipgram_pairs": {
        "right-hand context only": [("range(max(0, i - window), min(len(ids), i + window + 1))",
                                     "range(i + 1, min(len(ids), i + window + 1))")],
        "window one too small": [("i + window + 1", "i + window")],
        "the word paired with itself": [("            if j != i:\n                pairs", "            if True:\n                pairs")],
    },
    "nearest_neighbours": {
        "dot product, not cosine": [("unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)", "unit = vectors")],
        "the query is its own neighbour": [("    similarities[query] = -np.inf\n", "")],
        "least similar first": [("np.argsort(-similarities, kind=\"stable\")", "np.argsort(similarities, kind=\"stable\")")],
        "normalises the caller's array in place": [
            ("    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)\n",
             "    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)\n    unit = vectors\n")],
        "drops the top hit instead of the query": [
            ("    similarities[query] = -np.inf\n",
             ""),
            ("[:k]]",
             "[1:k + 1]]")],
    },
    "positional_encoding": {
        "sin and cos swapped": [("encoding[:, 0::2] = np.sin(angles)", "encoding[:, 0::2] = np.cos(angles)"),
                                ("encoding[:, 1::2] = np.cos(angles)", "encoding[:, 1::2] = np.sin(angles)")],
        "exponent i/d instead of 2i/d": [("np.arange(0, d_model, 2) / d_model", "np.arange(0, d_model, 2) / (2 * d_model)")],
        "halves instead of interleaved": [("encoding[:, 0::2] = np.sin(angles)", "encoding[:, :d_model // 2] = np.sin(angles)"),
                                          ("encoding[:, 1::2] = np.cos(angles)", "encoding[:, d_model // 2:] = np.cos(angles)")],
    },
}
