"""Wrong answers the hidden tests of Unit 5 must catch (never released to students).

For each solution cell (by nbgrader grade_id): plausible student mistakes, each
written as text edits of the reference solution, (old, new) pairs applied in
order. tests/test_contract.py checks that every edit applies and that every
mutant fails at least one of the exercise's tests.
"""

MUTANTS = {
    "attention_masks": {
        "bidirectional mask hides padding queries instead of padding keys": [
            ("return np.repeat(valid[:, None, :], valid.shape[1], axis=1)",
             "return np.repeat(valid[:, :, None], valid.shape[1], axis=2)")],
        "causal mask lets queries see the future": [("np.tril(np.ones((length, length), dtype=bool))",
                                                     "np.triu(np.ones((length, length), dtype=bool))")],
        "causal mask forgets padding": [("return bidirectional_mask(valid) & np.tril(",
                                         "return np.ones_like(bidirectional_mask(valid)) & np.tril(")],
        "cross-attention masked by the target's padding": [
            ("return np.repeat(source_valid[:, None, :], target_valid.shape[1], axis=1)",
             "return np.repeat(source_valid[:, None, :], target_valid.shape[1], axis=1) & target_valid[:, :, None]")],
        "cross-attention does not check the batches": [
            ("    if len(target_valid) != len(source_valid):\n", "    if False:\n")],
    },
    "mask_tokens": {
        "special tokens can be selected": [("np.where(special, 0.0, mlm_probability)", "np.full(special.shape, mlm_probability)")],
        "every selected token becomes [MASK]": [("rng.binomial(1, 0.8, size=input_ids.shape)",
                                                 "rng.binomial(1, 1.0, size=input_ids.shape)")],
        "10% masked, 80% random (rates swapped)": [("rng.binomial(1, 0.8, size=input_ids.shape)",
                                                    "rng.binomial(1, 0.1, size=input_ids.shape)"),
                                                   ("rng.binomial(1, half_of_the_rest, size=input_ids.shape)",
                                                    "rng.binomial(1, 0.89, size=input_ids.shape)")],
        "labels are the input everywhere": [("labels = np.where(selected, input_ids, -100)", "labels = input_ids.copy()")],
        "labels 0 instead of -100": [("labels = np.where(selected, input_ids, -100)",
                                      "labels = np.where(selected, input_ids, 0)")],
        "changes the caller's array in place": [("input_ids = np.array(input_ids, dtype=np.int64)",
                                                 "input_ids = np.asarray(input_ids)"),
                                                ("masked_inputs = np.where(to_mask, mask_token_id, input_ids)",
                                                 "input_ids[to_mask] = mask_token_id\n    masked_inputs = input_ids")],
        "random ids from NumPy's global generator": [
            ("rng.integers(vocab_size, size=np.count_nonzero(to_randomise))",
             "np.random.randint(vocab_size, size=np.count_nonzero(to_randomise))"),
            ("selected = rng.binomial(1, np.where(special, 0.0, mlm_probability))",
             "selected = np.random.binomial(1, np.where(special, 0.0, mlm_probability))")],
        "the same random id everywhere": [("rng.integers(vocab_size, size=np.count_nonzero(to_randomise))",
                                           "rng.integers(vocab_size)")],
    },
    "nsp_pairs": {
        "NotNext sentence may come from the same document": [
            ("rng.choice([donor for donor in donors if donor != index])", "rng.choice(donors)")],
        "every pair is IsNext": [("if rng.random() < 0.5:", "if True:")],
        "NotNext always from the next document": [
            ("other = documents[rng.choice([donor for donor in donors if donor != index])]",
             "other = documents[[donor for donor in donors if donor != index][0]]")],
        "labels the other way round": [("pairs.append((first, following, 0))", "pairs.append((first, following, 1))"),
                                       ("pairs.append((first, other[rng.integers(len(other))], 1))",
                                        "pairs.append((first, other[rng.integers(len(other))], 0))")],
        "no error for a single document": [("    if len(donors) < 2:\n", "    if len(donors) < 1:\n")],
    },
    "span_corruption": {
        "noise count truncated instead of rounded": [("round(length * noise_density)", "int(length * noise_density)")],
        "spans all of the mean length": [("cuts = np.sort(rng.choice(np.arange(1, total), size=span_count - 1, replace=False))",
                                          "cuts = np.linspace(0, total, span_count + 1)[1:-1].astype(int)")],
        "noise first instead of kept tokens first": [("mask[start + kept:start + kept + noise] = True",
                                                      "mask[start:start + noise] = True")],
        "one sentinel per noise token": [("if noisy and (position == 0 or not noise_mask[position - 1]):", "if noisy:"),
                                         ("            if spans == len(sentinel_ids):\n",
                                          "            if spans >= len(sentinel_ids):\n")],
        "targets without their sentinels": [("            targets.append(int(sentinel_ids[spans]))\n", "")],
        "the same sentinel for every span": [("corrupted.append(int(sentinel_ids[spans]))", "corrupted.append(int(sentinel_ids[0]))"),
                                             ("targets.append(int(sentinel_ids[spans]))", "targets.append(int(sentinel_ids[0]))")],
    },
    "mean_pool": {
        "padding counted in the mean": [("return totals / np.maximum(counts, 1.0)",
                                         "return token_embeddings.mean(axis=1)")],
        "empty text gives nan": [("return totals / np.maximum(counts, 1.0)", "return totals / counts")],
        "divides by the padded length": [("return totals / np.maximum(counts, 1.0)",
                                          "return totals / token_embeddings.shape[1]")],
        "the sum, not the mean": [("return totals / np.maximum(counts, 1.0)", "return totals")],
    },
    "top_k_similar": {
        "dot product instead of cosine": [("similarities = unit(queries) @ unit(corpus).T",
                                           "similarities = queries @ corpus.T")],
        "least similar first": [("np.argsort(-similarities, axis=1, kind=\"stable\")",
                                 "np.argsort(similarities, axis=1, kind=\"stable\")")],
        "ties to the higher index": [("np.argsort(-similarities, axis=1, kind=\"stable\")[:, :k]",
                                      "(similarities.shape[1] - 1 - np.argsort(-similarities[:, ::-1], axis=1, "
                                      "kind=\"stable\"))[:, :k]")],
        "zero vectors give nan": [("return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)",
                                   "return vectors / norms")],
        "k not checked": [("    if not 1 <= k <= len(corpus):\n", "    if False:\n")],
    },
    "few_shot_prompt": {
        "whitespace kept as given": [('return " ".join(str(text).split())', "return str(text)")],
        "a space after the last label": [('blocks.append(f"{input_label}: {one_line(query)}\\n{output_label}:")',
                                          'blocks.append(f"{input_label}: {one_line(query)}\\n{output_label}: ")')],
        "blocks without a blank line between them": [('return "\\n\\n".join(blocks)', 'return "\\n".join(blocks)')],
        "labels fixed to the defaults": [
            ('blocks.append(f"{input_label}: {one_line(example_input)}\\n{output_label}: {one_line(example_output)}")',
             'blocks.append(f"Review: {one_line(example_input)}\\nAnswer: {one_line(example_output)}")')],
    },
}
