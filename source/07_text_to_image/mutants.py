"""Wrong answers the hidden tests of Unit 7 must catch (never released to students).

For each solution cell (by nbgrader grade_id): plausible student mistakes, each
written as text edits of the reference solution, (old, new) pairs applied in
order. tests/test_contract.py checks that every edit applies and that every
mutant fails at least one of the exercise's tests.
"""

MUTANTS = {
    "caption": {
        "top and bottom swapped": [('vertical = "top" if scene["y"] < image_size / 2 else "bottom"',
                                    'vertical = "bottom" if scene["y"] < image_size / 2 else "top"')],
        "a shape on the middle line counts as left": [('horizontal = "left" if scene["x"] < image_size / 2 else "right"',
                                                       'horizontal = "left" if scene["x"] <= image_size / 2 else "right"')],
        "x and y swapped": [('"top" if scene["y"] < image_size / 2', '"top" if scene["x"] < image_size / 2'),
                            ('"left" if scene["x"] < image_size / 2', '"left" if scene["y"] < image_size / 2')],
        "words kept as given": [('return str(scene[key]).strip().lower()', 'return str(scene[key])')],
        "the size word forgotten": [('        words.append(word("size"))\n', '        pass\n')],
        "no error for x without y": [('    if ("x" in scene) != ("y" in scene):\n', '    if False:\n'),
                                     ('    if "x" in scene:\n', '    if "x" in scene and "y" in scene:\n')],
        "an empty colour is accepted": [('if key not in scene or not word(key):', 'if key not in scene:')],
    },
    "contrastive_loss": {
        "image to text only": [("return (image_to_text + text_to_image) / 2", "return image_to_text")],
        "rows not scaled to length 1": [
            ("images = image_vectors / ops.sqrt(ops.sum(image_vectors**2, axis=1, keepdims=True))",
             "images = image_vectors"),
            ("texts = text_vectors / ops.sqrt(ops.sum(text_vectors**2, axis=1, keepdims=True))", "texts = text_vectors")],
        "multiplied by the temperature": [("ops.matmul(images, ops.transpose(texts)) / temperature",
                                           "ops.matmul(images, ops.transpose(texts)) * temperature")],
        "the sum of the two, not their mean": [("return (image_to_text + text_to_image) / 2",
                                                "return image_to_text + text_to_image")],
        "the columns' softmax taken over rows again": [("ops.log_softmax(logits, axis=0)", "ops.log_softmax(logits, axis=1)")],
    },
    "add_noise": {
        "alpha_bar without its square root": [("signal = np.sqrt(alpha_bars[t]).reshape(per_image)",
                                               "signal = alpha_bars[t].reshape(per_image)")],
        "beta_t instead of the cumulative product": [("alpha_bars = np.cumprod(1.0 - np.asarray(betas, dtype=float))",
                                                      "alpha_bars = 1.0 - np.asarray(betas, dtype=float)")],
        "noise weighted by beta_t": [("spread = np.sqrt(1.0 - alpha_bars[t]).reshape(per_image)",
                                      "spread = np.sqrt(np.asarray(betas, dtype=float)[t]).reshape(per_image)")],
        "one step too many": [("signal = np.sqrt(alpha_bars[t]).reshape(per_image)",
                               "signal = np.sqrt(alpha_bars[np.minimum(t + 1, len(alpha_bars) - 1)]).reshape(per_image)"),
                              ("spread = np.sqrt(1.0 - alpha_bars[t]).reshape(per_image)",
                               "spread = np.sqrt(1.0 - alpha_bars[np.minimum(t + 1, len(alpha_bars) - 1)]).reshape(per_image)")],
        "no range check": [("    if np.any(t < 0) or np.any(t >= len(alpha_bars)):\n", "    if False:\n")],
    },
    "caption_attention": {
        "padding not masked": [("scores = np.where(real, scores, -np.inf)", "scores = scores")],
        "scores not divided by sqrt(d)": [("/ np.sqrt(queries.shape[-1])", "")],
        "softmax over image positions": [
            ("largest = np.max(scores, axis=-1, keepdims=True)", "largest = np.max(scores, axis=1, keepdims=True)"),
            ("totals = exponentials.sum(axis=-1, keepdims=True)", "totals = exponentials.sum(axis=1, keepdims=True)")],
        "an all-padding caption gives nan": [
            ("weights = np.divide(exponentials, totals, out=np.zeros_like(exponentials), where=totals > 0)",
             "weights = exponentials / totals")],
        "no output projection": [('return (weights @ values) @ params["Wo"] + params["bo"], weights',
                                  'return weights @ values, weights')],
        "padding gets a large negative score, not -inf": [("scores = np.where(real, scores, -np.inf)",
                                                           "scores = np.where(real, scores, -1e9)")],
    },
    "ddpm_step": {
        "variance beta_t instead of the posterior's": [
            ("variance = betas[t] * (1.0 - alpha_bar_prev) / (1.0 - alpha_bars[t])", "variance = betas[t]")],
        "noise scaled by the variance, not its square root": [
            ("return mean + np.sqrt(variance) * np.asarray(noise, dtype=float)",
             "return mean + variance * np.asarray(noise, dtype=float)")],
        "x0_hat not clipped": [("x0_hat = np.clip(x0_hat, -1.0, 1.0)", "x0_hat = x0_hat")],
        "alpha_bar_prev one step late": [("alpha_bar_prev = alpha_bars[t - 1] if t > 0 else 1.0",
                                          "alpha_bar_prev = alpha_bars[t]")],
        "the coefficients swapped": [
            ("mean = (np.sqrt(alpha_bar_prev) * betas[t] * x0_hat\n            + np.sqrt(1.0 - betas[t]) * (1.0 - alpha_bar_prev) * x_t)",
             "mean = (np.sqrt(alpha_bar_prev) * betas[t] * x_t\n            + np.sqrt(1.0 - betas[t]) * (1.0 - alpha_bar_prev) * x0_hat)")],
        "no range check": [("    if not 0 <= t < len(betas):\n", "    if False:\n")],
    },
    "ddim_step": {
        "alpha_bars[-1] at the last step": [("alpha_bar_prev = alpha_bars[t_prev] if t_prev >= 0 else 1.0",
                                             "alpha_bar_prev = alpha_bars[t_prev]")],
        "x0_hat not clipped": [("x0_hat = np.clip((x_t - np.sqrt(1.0 - alpha_bars[t]) * eps) / np.sqrt(alpha_bars[t]), -1.0, 1.0)",
                                "x0_hat = (x_t - np.sqrt(1.0 - alpha_bars[t]) * eps) / np.sqrt(alpha_bars[t])")],
        "the noise direction from step t": [("np.sqrt(1.0 - alpha_bar_prev) * eps", "np.sqrt(1.0 - alpha_bars[t]) * eps")],
        "x0_hat not divided by sqrt(alpha_bar_t)": [("/ np.sqrt(alpha_bars[t]), -1.0, 1.0)", ", -1.0, 1.0)")],
        "the predicted noise kept after clipping x0_hat": [
            ("    eps = (x_t - np.sqrt(alpha_bars[t]) * x0_hat) / np.sqrt(1.0 - alpha_bars[t])  # the noise the clipped x0_hat implies\n", "")],
        "the noise recomputed from the unclipped x0_hat": [
            ("x0_hat = np.clip((x_t - np.sqrt(1.0 - alpha_bars[t]) * eps) / np.sqrt(alpha_bars[t]), -1.0, 1.0)\n",
             "x0_raw = (x_t - np.sqrt(1.0 - alpha_bars[t]) * eps) / np.sqrt(alpha_bars[t])\n    x0_hat = np.clip(x0_raw, -1.0, 1.0)\n"),
            ("eps = (x_t - np.sqrt(alpha_bars[t]) * x0_hat)", "eps = (x_t - np.sqrt(alpha_bars[t]) * x0_raw)")],
        "no check of t_prev < t": [("    if not (t_prev < t and 0 <= t < len(alpha_bars)):\n", "    if not 0 <= t < len(alpha_bars):\n")],
    },
    "guided_noise": {
        "extrapolates from the conditional side": [("return unconditional + scale * (conditional - unconditional)",
                                                    "return conditional + scale * (conditional - unconditional)")],
        "conditional and unconditional swapped": [("return unconditional + scale * (conditional - unconditional)",
                                                   "return conditional + scale * (unconditional - conditional)")],
        "scale ignored": [("return unconditional + scale * (conditional - unconditional)", "return conditional")],
        "no error on different shapes": [("    if conditional.shape != unconditional.shape:\n", "    if False:\n")],
    },
}
