"""Wrong answers the hidden tests of Unit 1 must catch (never released to students).

For each solution cell (by nbgrader grade_id): plausible student mistakes, each
written as text edits of the reference solution, (old, new) pairs applied in
order. tests/test_contract.py checks that every edit applies and that every
mutant fails at least one of the exercise's tests.
"""

MUTANTS = {
    "tokenize": {
        "keeps capitals": [("text.lower()", "text")],
        "drops punctuation": [(r'r"\w+|[^\w\s]"', r'r"\w+"')],
        "splits on white space only": [('return re.findall(r"\\w+|[^\\w\\s]", text.lower())', "return text.lower().split()")],
        "groups runs of punctuation": [(r'r"\w+|[^\w\s]"', r'r"\w+|[^\w\s]+"')],
        "digits split from letters": [('r"\\w+|[^\\w\\s]"', 'r"[^\\W\\d]+|\\d+|[^\\w\\s]"')],
    },
    "count_ngrams": {
        "no start padding": [("[BOS] * (n - 1) + ", "")],
        "one start symbol too many": [("[BOS] * (n - 1)", "[BOS] * n")],
        "last n-gram dropped (off by one)": [("range(len(padded) - n + 1)", "range(len(padded) - n)")],
        "no end symbol": [(" + [EOS]", "")],
    },
    "smoothed_probability": {
        "adds k once instead of k times V": [("+ k * vocab_size", "+ k")],
        "adds V without k": [("+ k * vocab_size", "+ vocab_size")],
        "ignores k (always MLE)": [("ngram_counts.get(tuple(ngram), 0) + k", "ngram_counts.get(tuple(ngram), 0)"),
                                   ("+ k * vocab_size", "")],
        "context looked up in the n-gram table": [("context_counts.get(tuple(ngram[:-1]), 0)",
                                                   "ngram_counts.get(tuple(ngram[:-1]), 0)")],
    },
    "perplexity": {
        "base 2 power of a natural log": [("math.exp(", "2 ** (")],
        "sum instead of mean": [(" / len(probabilities)", "")],
        "sign flipped": [("-sum(", "sum(")],
        "zero probability not handled": [("    if any(p == 0 for p in probabilities):\n        return math.inf\n", "")],
        "product of probabilities (underflows on long texts)": [
            ("return float(math.exp(-sum(math.log(p) for p in probabilities) / len(probabilities)))",
             "return float(math.prod(probabilities) ** (-1 / len(probabilities)))")],
        "len() of the input as given (fails on a generator)": [
            ("    probabilities = list(probabilities)\n    if not probabilities:",
             "    if len(probabilities) == 0:")],
    },
    "apply_temperature": {
        "power T instead of 1/T": [("** (1.0 / temperature)", "** temperature")],
        "not renormalised": [("return scaled / scaled.sum()", "return scaled")],
        "divides probabilities by T": [("np.asarray(probabilities, dtype=float) ** (1.0 / temperature)",
                                        "np.asarray(probabilities, dtype=float) / temperature")],
        "no check on the temperature": [("if temperature <= 0:", "if temperature < 0:")],
        "T = 1 returns the input object unchanged": [
            ("    scaled = np.asarray",
             "    if temperature == 1:\n        return probabilities\n    scaled = np.asarray")],
    },
    "unseen_share": {
        "distinct n-grams instead of occurrences": [("validation_ngrams = list(validation_ngrams)",
                                                     "validation_ngrams = list(set(map(tuple, validation_ngrams)))")],
        "seen share instead of unseen": [("== 0)", "> 0)")],
        "key membership instead of a zero count": [("train_counts.get(tuple(ngram), 0) == 0", "tuple(ngram) not in train_counts")],
        "list n-grams looked up as they are (lists cannot be keys)": [
            ("train_counts.get(tuple(ngram), 0) == 0", "train_counts.get(ngram, 0) == 0")],
    },
    "gradient_norms_through_time": {
        "no tanh derivative": [("(1 - hidden_states[last - k + 1] ** 2)[:, None] * W", "W")],
        "derivative at the earlier state": [("hidden_states[last - k + 1]", "hidden_states[last - k]")],
        "derivative scales columns (W D)": [("[:, None] * W", "[None, :] * W")],
        "Jacobians multiplied in reverse order": [("jacobian @ step", "step @ jacobian")],
        "tanh derivative without the square": [("hidden_states[last - k + 1] ** 2", "hidden_states[last - k + 1]")],
    },
}
