"""Wrong answers the hidden tests of Unit 4 must catch (never released to students).

For each solution cell (by nbgrader grade_id): plausible student mistakes, each
written as text edits of the reference solution, (old, new) pairs applied in
order. tests/test_contract.py checks that every edit applies and that every
mutant fails at least one of the exercise's tests.
"""

MUTANTS = {
    "shift_inputs_targets": {
        "no shift (targets are the inputs)": [("token_ids[..., 1:]", "token_ids[..., :-1]")],
        "shifted the wrong way": [("return token_ids[..., :-1], token_ids[..., 1:]",
                                   "return token_ids[..., 1:], token_ids[..., :-1]")],
        "sliced along the batch axis": [("return token_ids[..., :-1], token_ids[..., 1:]",
                                         "return token_ids[:-1], token_ids[1:]")],
        "targets two steps ahead": [("return token_ids[..., :-1], token_ids[..., 1:]",
                                     "return token_ids[..., :-2], token_ids[..., 2:]")],
        "targets returned as floats": [
            ("return token_ids[..., :-1], token_ids[..., 1:]",
             "return ops.cast(token_ids[..., :-1], 'float32'), ops.cast(token_ids[..., 1:], 'float32')")],
    },
    "causal_attention_mask": {
        "future allowed instead of past": [("keys <= queries", "keys >= queries")],
        "a position cannot see itself": [("keys <= queries", "keys < queries")],
        "no batch axis": [("return ops.expand_dims(keys <= queries, axis=0)", "return keys <= queries")],
        "floats instead of booleans": [("ops.expand_dims(keys <= queries, axis=0)",
                                        'ops.cast(ops.expand_dims(keys <= queries, axis=0), "float32")')],
        "everything allowed": [("keys <= queries", "ops.ones_like(keys <= queries)")],
        "precomputed 16x16 mask sliced (wrong for length > 16)": [
            ("    queries = ops.arange(length)[:, None]\n    keys = ops.arange(length)[None, :]\n    return ops.expand_dims(keys <= queries, axis=0)",
             "    full = ops.convert_to_tensor(np.tril(np.ones((16, 16), dtype=bool)))\n    return full[None, :length, :length]")],
    },
    "transformer_block": {
        "no residual around the attention": [
            ("self.norm_attention(vectors + self.dropout_attention(attended, training=training))",
             "self.norm_attention(self.dropout_attention(attended, training=training))")],
        "no residual around the feed-forward": [
            ("self.norm_feed_forward(vectors + self.dropout_feed_forward(expanded, training=training))",
             "self.norm_feed_forward(self.dropout_feed_forward(expanded, training=training))")],
        "no causal mask": [("attention_mask=mask,", "attention_mask=None,")],
        "layer norm before each sub-layer (pre-norm)": [
            ("        attended, scores = self.attention(vectors, vectors, attention_mask=mask,\n"
             "                                          return_attention_scores=True, training=training)\n"
             "        vectors = self.norm_attention(vectors + self.dropout_attention(attended, training=training))\n"
             "        expanded = self.feed_forward_out(self.feed_forward_in(vectors))\n"
             "        vectors = self.norm_feed_forward(vectors + self.dropout_feed_forward(expanded, training=training))\n",
             "        normed = self.norm_attention(vectors)\n"
             "        attended, scores = self.attention(normed, normed, attention_mask=mask,\n"
             "                                          return_attention_scores=True, training=training)\n"
             "        vectors = vectors + self.dropout_attention(attended, training=training)\n"
             "        expanded = self.feed_forward_out(self.feed_forward_in(self.norm_feed_forward(vectors)))\n"
             "        vectors = vectors + self.dropout_feed_forward(expanded, training=training)\n")],
        "no dropout on the feed-forward path": [
            ("vectors + self.dropout_feed_forward(expanded, training=training)", "vectors + expanded")],
        "dropout always on": [("self.dropout_attention(attended, training=training)",
                               "self.dropout_attention(attended, training=True)")],
        "the feed-forward reads the block's input, not the attended vectors": [
            ("        vectors = self.norm_attention(vectors + self.dropout_attention(attended, training=training))\n"
             "        expanded = self.feed_forward_out(self.feed_forward_in(vectors))\n",
             "        expanded = self.feed_forward_out(self.feed_forward_in(vectors))\n"
             "        vectors = self.norm_attention(vectors + self.dropout_attention(attended, training=training))\n")],
        "the feed-forward skips its first layer": [
            ("self.feed_forward_out(self.feed_forward_in(vectors))", "self.feed_forward_out(vectors)")],
        "the attention's output instead of its scores": [("return vectors, scores", "return vectors, attended")],
        "dropout on the residual sum": [
            ("self.norm_attention(vectors + self.dropout_attention(attended, training=training))",
             "self.norm_attention(self.dropout_attention(vectors + attended, training=training))")],
        "dropout after the norm (feed-forward)": [
            ("vectors = self.norm_feed_forward(vectors + self.dropout_feed_forward(expanded, training=training))",
             "vectors = self.dropout_feed_forward(self.norm_feed_forward(vectors + expanded), training=training)")],
        "dropout on the attention's input": [
            ("attended, scores = self.attention(vectors, vectors,",
             "dropped = self.dropout_attention(vectors, training=training)\n"
             "        attended, scores = self.attention(dropped, dropped,"),
            ("vectors + self.dropout_attention(attended, training=training)", "vectors + attended")],
        "dropout between the two feed-forward layers": [
            ("self.feed_forward_out(self.feed_forward_in(vectors))",
             "self.feed_forward_out(self.dropout_feed_forward(self.feed_forward_in(vectors), training=training))"),
            ("vectors + self.dropout_feed_forward(expanded, training=training)", "vectors + expanded")],
    },
    "gpt_model": {
        "always one block": [("for number in range(num_blocks):", "for number in range(1):")],
        "num_heads and key_dim swapped": [("TransformerBlock(num_heads, key_dim,", "TransformerBlock(key_dim, num_heads,")],
        "no dropout in the blocks": [("causal_attention_mask,\n", "causal_attention_mask, dropout_rate=0.0,\n")],
        "one block more than asked": [("for number in range(num_blocks):", "for number in range(num_blocks + 1):")],
        "one block object applied num_blocks times": [
            ("    for number in range(num_blocks):\n"
             "        vectors, scores = TransformerBlock(num_heads, key_dim, embed_dim, ff_dim, causal_attention_mask,\n"
             "                                           name=f\"block_{number}\")(vectors)\n",
             "    block = TransformerBlock(num_heads, key_dim, embed_dim, ff_dim, causal_attention_mask, name=\"block_0\")\n"
             "    for number in range(num_blocks):\n"
             "        vectors, scores = block(vectors)\n")],
        "a softmax inside the model": [('layers.Dense(vocab_size, name="next_token_logits")',
                                        'layers.Dense(vocab_size, activation="softmax", name="next_token_logits")')],
        "the probe shows the first block's attention": [
            ("        vectors, scores = TransformerBlock(", "        vectors, block_scores = TransformerBlock("),
            ("                                           name=f\"block_{number}\")(vectors)\n",
             "                                           name=f\"block_{number}\")(vectors)\n"
             "        scores = block_scores if number == 0 else scores\n")],
        "every block reads the embeddings": [
            ("    vectors = TokenAndPositionEmbedding(max_len, vocab_size, embed_dim, name=\"embedding\")(token_ids)\n"
             "    for number in range(num_blocks):\n"
             "        vectors, scores = TransformerBlock(num_heads, key_dim, embed_dim, ff_dim, causal_attention_mask,\n"
             "                                           name=f\"block_{number}\")(vectors)\n",
             "    embedded = TokenAndPositionEmbedding(max_len, vocab_size, embed_dim, name=\"embedding\")(token_ids)\n"
             "    for number in range(num_blocks):\n"
             "        vectors, scores = TransformerBlock(num_heads, key_dim, embed_dim, ff_dim, causal_attention_mask,\n"
             "                                           name=f\"block_{number}\")(embedded)\n")],
    },
    "token_position_embedding": {
        "no position embedding": [("return self.token_emb(token_ids) + self.pos_emb(positions)",
                                   "return self.token_emb(token_ids)")],
        "positions looked up by token id": [("self.pos_emb(positions)", "self.pos_emb(token_ids % 5)")],
        "positions counted backwards": [("positions = ops.arange(ops.shape(token_ids)[-1])",
                                         "positions = ops.flip(ops.arange(ops.shape(token_ids)[-1]), axis=0)")],
        "one position vector per token instead": [("layers.Embedding(max_len, embed_dim", "layers.Embedding(vocab_size, embed_dim")],
        "positions start at 1": [("positions = ops.arange(ops.shape(token_ids)[-1])",
                                  "positions = ops.arange(1, ops.shape(token_ids)[-1] + 1) % max(1, self.pos_emb.input_dim)")],
    },
    "temperature_probabilities": {
        "multiplies by the temperature": [("np.asarray(logits, dtype=float) / temperature",
                                           "np.asarray(logits, dtype=float) * temperature")],
        "temperature ignored": [("np.asarray(logits, dtype=float) / temperature", "np.asarray(logits, dtype=float)")],
        "no max subtraction (overflows)": [("np.exp(scaled - scaled.max(axis=-1, keepdims=True))", "np.exp(scaled)")],
        "normalised over the wrong axis": [("exponentials.sum(axis=-1, keepdims=True)", "exponentials.sum(axis=0, keepdims=True)"),
                                           ("scaled.max(axis=-1, keepdims=True)", "scaled.max(axis=0, keepdims=True)")],
        "no error for a zero temperature": [("if not temperature > 0:", "if temperature < 0:"),
                                            ("scaled = np.asarray(logits, dtype=float) / temperature",
                                             "scaled = np.asarray(logits, dtype=float) / max(temperature, 1e-9)")],
        "max over the whole array, not per row": [("scaled.max(axis=-1, keepdims=True)", "scaled.max()")],
        "changes the caller's logits in place": [
            ("scaled = np.asarray(logits, dtype=float) / temperature",
             "logits = np.asarray(logits, dtype=float)\n    logits -= logits.max(axis=-1, keepdims=True)\n    scaled = logits / temperature")],
    },
    "top_k_filter": {
        "keeps the k least likely": [("np.argsort(-probabilities", "np.argsort(probabilities")],
        "not renormalised": [("return filtered / filtered.sum()", "return filtered")],
        "keeps one too many": [("[:k]", "[:k + 1]")],
        "ties keep every equal value": [("keep = np.argsort(-probabilities, kind=\"stable\")[:k]",
                                         "keep = probabilities >= np.sort(probabilities)[::-1][min(k, len(probabilities)) - 1]")],
        "changes the input in place": [("probabilities = np.asarray(probabilities, dtype=float)\n    keep",
                                        "probabilities = np.asarray(probabilities, dtype=float)\n    probabilities[np.argsort(-probabilities, kind='stable')[k:]] = 0\n    keep")],
        "negative k not rejected": [("if k < 1:", "if k == 0:")],
        "unstable sort (ties wrong on longer arrays)": [
            ('np.argsort(-probabilities, kind="stable")',
             "np.argsort(-probabilities)")],
        "argpartition (arbitrary ties)": [
            ('keep = np.argsort(-probabilities, kind="stable")[:k]',
             "keep = np.argpartition(-probabilities, min(k, len(probabilities)) - 1)[:k]")],
    },
    "nucleus_filter": {
        "stops before the token that crosses p": [("int(np.argmax(reached)) + 1", "max(1, int(np.argmax(reached)))")],
        "one token too many": [("int(np.argmax(reached)) + 1", "int(np.argmax(reached)) + 2")],
        "cumulates in index order, not by probability": [("np.cumsum(probabilities[order])", "np.cumsum(probabilities)"),
                                                         ("keep = order[:", "keep = np.arange(len(probabilities))[:")],
        "not renormalised": [("return filtered / filtered.sum()", "return filtered")],
        "strict comparison without tolerance": [(">= p - 1e-9", "> p")],
        "ties: higher index first": [
            ('order = np.argsort(-probabilities, kind="stable")',
             'order = np.argsort(probabilities, kind="stable")[::-1]')],
        "unstable sort": [('np.argsort(-probabilities, kind="stable")', "np.argsort(-probabilities)")],
        "no tolerance (>= p)": [(">= p - 1e-9", ">= p")],
        "exclusive cumsum < p, no tolerance": [
            ("reached = np.cumsum(probabilities[order]) >= p - 1e-9\n    keep = order[: int(np.argmax(reached)) + 1]",
             "cum = np.cumsum(probabilities[order])\n    keep = order[(cum - probabilities[order]) < p]")],
        "changes the input in place": [
            ("filtered = np.zeros_like(probabilities)\n    filtered[keep] = probabilities[keep]\n    return filtered / filtered.sum()",
             "drop = np.ones(len(probabilities), dtype=bool)\n    drop[keep] = False\n    probabilities[drop] = 0\n    probabilities /= probabilities.sum()\n    return probabilities")],
    },
    "sample_next_token": {
        "temperature ignored": [("temperature_probabilities(logits, temperature)", "temperature_probabilities(logits, 1.0)")],
        "always the most likely (greedy)": [("return int(rng.choice(len(probabilities), p=probabilities))",
                                             "return int(np.argmax(probabilities))")],
        "top-p ignored": [("probabilities = nucleus_filter(probabilities, top_p)", "pass")],
        "top-k ignored": [("probabilities = top_k_filter(probabilities, top_k)", "pass")],
        "global NumPy randomness instead of rng": [("int(rng.choice(len(probabilities), p=probabilities))",
                                                    "int(np.random.choice(len(probabilities), p=probabilities))")],
        "uniform over the kept tokens": [("p=probabilities))", "p=(probabilities > 0) / (probabilities > 0).sum()))")],
        "nucleus before top-k": [
            ("    if top_k > 0:\n        probabilities = top_k_filter(probabilities, top_k)\n    if top_p < 1:\n        probabilities = nucleus_filter(probabilities, top_p)\n",
             "    if top_p < 1:\n        probabilities = nucleus_filter(probabilities, top_p)\n    if top_k > 0:\n        probabilities = top_k_filter(probabilities, top_k)\n")],
        "nucleus on the unfiltered distribution (top-k lost when top_p < 1)": [
            ("probabilities = nucleus_filter(probabilities, top_p)",
             "probabilities = nucleus_filter(temperature_probabilities(logits, temperature), top_p)")],
        "temperature ignored when top-k is used": [
            ("probabilities = temperature_probabilities(logits, temperature)",
             "probabilities = temperature_probabilities(logits, temperature if top_k == 0 else 1.0)")],
        "top-k filters only when k > 1": [("if top_k > 0:", "if top_k > 1:")],
    },
    "generate_tokens": {
        "feeds only the last token": [("next_token_logits(ids)", "next_token_logits(ids[-1:])")],
        "one token too few": [("range(max_new_tokens)", "range(max_new_tokens - 1)")],
        "never stops": [("if next_id == stop_id:\n            break", "pass")],
        "drops the stop token": [("ids.append(next_id)\n        if next_id == stop_id:\n            break",
                                  "if next_id == stop_id:\n            break\n        ids.append(next_id)")],
        "returns only the new tokens": [("return ids", "return ids[len(prompt_ids):]")],
        "changes the caller's prompt": [("ids = [int(i) for i in prompt_ids]", "ids = prompt_ids"),
                                        ("ids.append(next_id)", "ids.append(next_id) if isinstance(ids, list) else None")],
        "chooses greedily whatever choose is": [("int(choose(next_token_logits(ids)))", "int(np.argmax(next_token_logits(ids)))")],
        "stop_id=0 never stops (truthiness test)": [("if next_id == stop_id:", "if stop_id and next_id == stop_id:")],
        "prompt ids kept as given (np.int64 from arrays)": [
            ("ids = [int(i) for i in prompt_ids]",
             "ids = list(prompt_ids)")],
        "context cropped to the last max_len ids": [
            ("next_token_logits(ids)",
             "next_token_logits(ids[-BUDGET['max_len']:])")],
        "context cropped to the last 8 ids": [("next_token_logits(ids)", "next_token_logits(ids[-8:])")],
    },
}
