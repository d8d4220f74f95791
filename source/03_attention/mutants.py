"""Wrong answers the hidden tests of Unit 3 must catch (never released to students).

For each solution cell (by nbgrader grade_id): plausible student mistakes, each
written as text edits of the reference solution, (old, new) pairs applied in
order. tests/test_contract.py checks that every edit applies and that every
mutant fails at least one of the exercise's tests.
"""

MUTANTS = {
    "stable_softmax": {
        "no max subtraction (overflows)": [("np.exp(scores - largest)", "np.exp(scores)")],
        "always sums over the last axis": [("totals = np.sum(exponentials, axis=axis, keepdims=True)",
                                            "totals = np.sum(exponentials, axis=-1, keepdims=True)"),
                                           ("largest = np.max(scores, axis=axis, keepdims=True)",
                                            "largest = np.max(scores, axis=-1, keepdims=True)")],
        "fully masked rows give nan": [("return np.divide(exponentials, totals, out=np.zeros_like(exponentials), where=totals > 0)",
                                        "return exponentials / totals")],
        "subtracts the max from the caller's array in place": [
            ("exponentials = np.exp(scores - largest)",
             "scores -= largest\n    exponentials = np.exp(scores)")],
        "non-negative axis mishandled": [
            ("largest = np.max(scores, axis=axis, keepdims=True)",
             "axis = axis if axis < 0 else axis - scores.ndim - 1\n    largest = np.max(scores, axis=axis, keepdims=True)")],
    },
    "scaled_dot_product_attention": {
        "no scaling": [(" / math.sqrt(q.shape[-1])", "")],
        "scaled by d_k instead of its root": [("math.sqrt(q.shape[-1])", "q.shape[-1]")],
        "mask in the wrong direction": [("np.where(mask, scores, -np.inf)", "np.where(mask, -np.inf, scores)")],
        "softmax over the queries": [("stable_softmax(scores, axis=-1)", "stable_softmax(scores, axis=-2)")],
        "key not transposed": [("q @ np.swapaxes(k, -1, -2)", "q @ k")],
        "-1e9 instead of -inf (fully masked query gets uniform weights)": [
            ("np.where(mask, scores, -np.inf)",
             "np.where(mask, scores, -1e9)")],
        "mask applied after the softmax, renormalised (fully masked query gives nan)": [
            ("    if mask is not None:\n        scores = np.where(mask, scores, -np.inf)\n    weights = stable_softmax(scores, axis=-1)\n",
             "    weights = stable_softmax(scores, axis=-1)\n    if mask is not None:\n        weights = weights * mask\n        weights = weights / weights.sum(axis=-1, keepdims=True)\n")],
    },
    "causal_mask": {
        "diagonal excluded": [("np.tril(np.ones((length, length), dtype=bool))",
                               "np.tril(np.ones((length, length), dtype=bool), k=-1)")],
        "future allowed instead of past": [("np.tril(", "np.triu(")],
        "floats instead of booleans": [("dtype=bool", "dtype=float")],
    },
    "split_merge_heads": {
        "split without moving the head axis": [("return x.reshape(batch, length, num_heads, d_model // num_heads).transpose(0, 2, 1, 3)",
                                                "return x.reshape(batch, num_heads, length, d_model // num_heads)")],
        "merge without moving the head axis back": [("return x.transpose(0, 2, 1, 3).reshape(batch, length, num_heads * head_dim)",
                                                     "return x.reshape(batch, length, num_heads * head_dim)")],
        "features dealt to heads round-robin": [("x.reshape(batch, length, num_heads, d_model // num_heads).transpose(0, 2, 1, 3)",
                                                 "x.reshape(batch, length, d_model // num_heads, num_heads).transpose(0, 3, 1, 2)")],
    },
    "multi_head_attention": {
        "no output projection": [('return merge_heads(attended) @ params["Wo"] + params["bo"], weights',
                                  "return merge_heads(attended), weights")],
        "output bias forgotten": [(' + params["bo"], weights', ", weights")],
        "mask ignored": [("attended, weights = scaled_dot_product_attention(q, k, v, mask=mask)",
                          "attended, weights = scaled_dot_product_attention(q, k, v)")],
        "keys projected with the value weights": [('value_input @ params["Wk"] + params["bk"]',
                                                   'value_input @ params["Wv"] + params["bv"]')],
        "a single head of full width": [("num_heads)\n    k =", "1)\n    k ="),
                                        ('params["bk"], num_heads)', 'params["bk"], 1)'),
                                        ('params["bv"], num_heads)', 'params["bv"], 1)')],
        "mask[:, None] (breaks a (T_q, T_k) mask)": [("mask = np.expand_dims(mask, axis=-3)", "mask = mask[:, None]")],
        "expand_dims(axis=1) (breaks a (T_q, T_k) mask)": [
            ("mask = np.expand_dims(mask, axis=-3)",
             "mask = np.expand_dims(mask, axis=1)")],
    },
}
