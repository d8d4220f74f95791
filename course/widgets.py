"""Interactive controls built from core ipywidgets only (they work in JupyterLab,
JupyterHub and Colab alike; no ipympl).

A widget here never computes anything a student is graded on: it is handed a
function from the notebook and only wires sliders and buttons to it.
"""

from __future__ import annotations

import html
from typing import Callable, Sequence

import ipywidgets as w
import numpy as np

from .plots import bars, heatmap, png_bytes, scatter_groups


def text_generator(
    generate: Callable[[int, float, int], str],
    orders: Sequence[int],
    temperature: float = 1.0,
    seed: int = 0,
) -> w.VBox:
    """Sliders for model order and temperature, a seed box and a Generate button.

    ``generate(order, temperature, seed)`` must return the text to show.
    Returns the panel; make it the last expression of a cell to display it.
    """
    order = w.SelectionSlider(options=list(orders), value=list(orders)[-1], description="order n")
    heat = w.FloatSlider(value=temperature, min=0.1, max=3.0, step=0.1, description="temperature")
    seed_box = w.BoundedIntText(value=seed, min=0, max=10**6, description="seed")
    button = w.Button(description="Generate", button_style="primary", icon="play")
    sample = w.HTML(layout=w.Layout(border="1px solid #ddd", padding="4px", min_height="3em"))

    def on_click(_=None):
        sample.value = html.escape(generate(order.value, heat.value, seed_box.value))

    button.on_click(on_click)
    panel = w.VBox([w.HBox([order, heat]), w.HBox([seed_box, button]), sample])
    on_click()
    return panel


def highlight_html(words: Sequence[str], weights: Sequence[float], focus: int | None = None) -> str:
    """Words as HTML, each shaded by its weight (the darkest is the largest); ``focus`` underlined."""
    top = max(float(np.max(weights)), 1e-12)
    spans = []
    for index, (word, weight) in enumerate(zip(words, weights)):
        alpha = float(weight) / top
        underline = "text-decoration: underline;" if index == focus else ""
        spans.append(
            f'<span title="{float(weight):.3f}" style="background: rgba(214, 39, 40, {alpha:.2f}); '
            f'padding: 2px 4px; margin: 1px; border-radius: 3px; {underline}">{html.escape(word)}</span>'
        )
    return "<div style='line-height: 2.2em'>" + " ".join(spans) + "</div>"


def attention_inspector(
    sentences: Sequence[Sequence[str]],
    weights: np.ndarray,
    labels: Sequence[str] | None = None,
) -> w.VBox:
    """Pick a sentence, layer, head and query word; see its attention as a heatmap and as shaded words.

    ``weights`` has shape (sentences, layers, heads, T, T): weights[s, l, h, q, k]
    is how much query position q attends to key position k.
    """
    weights = np.asarray(weights)
    _, num_layers, num_heads, _, _ = weights.shape
    sentence = w.Dropdown(
        options=[(labels[i] if labels else " ".join(s), i) for i, s in enumerate(sentences)],
        description="sentence", layout=w.Layout(width="60%"),
    )
    layer = w.Dropdown(options=list(range(num_layers)), value=num_layers - 1, description="layer")
    head = w.Dropdown(options=[("average", -1)] + [(str(h), h) for h in range(num_heads)], description="head")
    query = w.Dropdown(description="query word")
    words = w.HTML()
    picture = w.Image(format="png")

    def current_map():
        maps = weights[sentence.value, layer.value]
        return maps.mean(axis=0) if head.value == -1 else maps[head.value]

    def on_sentence(_=None):
        query.options = [(f"{i}: {word}", i) for i, word in enumerate(sentences[sentence.value])]
        query.value = 0

    def render(_=None):
        tokens = list(sentences[sentence.value])
        attention = current_map()
        words.value = highlight_html(tokens, attention[query.value], focus=query.value)
        picture.value = png_bytes(heatmap(attention, tokens, tokens, highlight_row=query.value,
                                          title=f"layer {layer.value}, head {head.label}", show=False))

    sentence.observe(on_sentence, names="value")
    on_sentence()
    for control in (sentence, layer, head, query):
        control.observe(render, names="value")
    render()
    return w.VBox([sentence, w.HBox([layer, head, query]), words, picture])


def embedding_explorer(
    words: Sequence[str],
    neighbours: Callable[[str], list[tuple[str, float]]],
    projection: np.ndarray,
    groups: Sequence[str],
) -> w.VBox:
    """Type or pick a word: see its nearest neighbours, and where it sits in a 2-D projection.

    ``neighbours(word)`` returns (word, similarity) pairs, computed by the notebook;
    ``projection`` holds one 2-D point per entry of ``words``, coloured by ``groups``.
    """
    choice = w.Combobox(options=list(words), value=words[0], description="word", ensure_option=False)
    table = w.HTML()
    picture = w.Image(format="png")

    def render(_=None):
        word = choice.value.strip().lower()
        try:
            rows = neighbours(word)
        except KeyError:
            table.value = f"<i>{html.escape(word)!s} is not in the vocabulary.</i>"
            return
        table.value = "<table>" + "".join(
            f"<tr><td>{html.escape(other)}</td><td>{similarity:.3f}</td></tr>" for other, similarity in rows
        ) + "</table>"
        picture.value = png_bytes(scatter_groups(projection, words, groups, title="Word vectors, projected to 2-D",
                                                 highlight=word if word in words else None, show=False))

    choice.observe(render, names="value")
    render()
    return w.VBox([choice, w.HBox([table, picture])])


def sampling_explorer(
    next_word_distribution: Callable[[str, float, int, float], tuple[list[str], np.ndarray]],
    generate: Callable[[str, float, int, float, int], str],
    prompt: str = "wine review : germany :",
    temperature: float = 1.0,
) -> w.VBox:
    """A prompt box with temperature, top-k and top-p controls: the next-word
    distribution as bars, and a review generated with the same settings.

    ``next_word_distribution(prompt, temperature, top_k, top_p)`` returns the most
    likely next words and their probabilities (or their shares of sampled draws); ``generate(prompt, temperature,
    top_k, top_p, seed)`` returns the text. Both are the notebook's (top_k 0 and
    top_p 1.0 mean "no filter").
    """
    text = w.Text(value=prompt, description="prompt", continuous_update=False, layout=w.Layout(width="70%"))
    heat = w.FloatSlider(value=temperature, min=0.1, max=3.0, step=0.1, description="temperature",
                         continuous_update=False)
    top_k = w.IntSlider(value=0, min=0, max=50, description="top-k (0: off)", continuous_update=False,
                        style={"description_width": "initial"})
    top_p = w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p (1: off)",
                          continuous_update=False, style={"description_width": "initial"})
    seed = w.BoundedIntText(value=0, min=0, max=10**6, description="seed")
    picture = w.Image(format="png")
    table = w.HTML()
    sample = w.HTML(layout=w.Layout(border="1px solid #ddd", padding="4px", min_height="3em"))
    sample.add_class("course-sample")

    def render(_=None):
        words, probabilities = next_word_distribution(text.value, heat.value, top_k.value, top_p.value)
        picture.value = png_bytes(bars(words, probabilities, show=False,
                                       title=f"next word after '{text.value[-40:]}' (T = {heat.value:.1f})"))
        table.value = distribution_table(words, probabilities)
        sample.value = html.escape(generate(text.value, heat.value, top_k.value, top_p.value, seed.value))

    for control in (text, heat, top_k, top_p, seed):
        control.observe(render, names="value")
    render()
    return w.VBox([text, w.HBox([heat, seed]), w.HBox([top_k, top_p]), w.HBox([picture, table]), sample])


def distribution_table(words: Sequence[str], probabilities: Sequence[float]) -> str:
    """The bars' numbers as an HTML table, for reading them exactly (and for screen readers)."""
    rows = "".join(f"<tr><td>{html.escape(word)}</td><td class='probability'>{p:.3f}</td></tr>"
                   for word, p in zip(words, probabilities))
    return f"<table class='course-distribution'><tr><th>next word</th><th>probability</th></tr>{rows}</table>"


def generation_inspector(steps: Sequence[dict]) -> w.VBox:
    """Step through a generated review: at each step the context shaded by attention
    (one head, or the average) and the five most likely next words.

    ``steps`` comes from ``course.gpt_lab.attention_steps``.
    """
    if not steps:
        raise ValueError("nothing to inspect: generate at least one token after the prompt")
    num_layers, num_heads, _ = steps[0]["attention"].shape
    step = w.IntSlider(value=0, min=0, max=len(steps) - 1, description="step")
    layer = w.Dropdown(options=list(range(num_layers)), value=num_layers - 1, description="layer")
    head = w.Dropdown(options=[("average", -1)] + [(str(h), h) for h in range(num_heads)], description="head")
    words = w.HTML()
    picture = w.Image(format="png")

    def render(_=None):
        current = steps[step.value]
        maps = current["attention"][layer.value]
        weights = maps.mean(axis=0) if head.value == -1 else maps[head.value]
        words.value = (highlight_html(current["context"], weights, focus=len(current["context"]) - 1)
                       + f"<p>next word chosen: <b>{html.escape(current['next_word'])}</b></p>")
        labels, probabilities = zip(*current["top_words"])
        picture.value = png_bytes(bars(labels, probabilities, title="five most likely next words",
                                       highlight=current["next_word"], show=False))

    for control in (step, layer, head):
        control.observe(render, names="value")
    render()
    return w.VBox([w.HBox([step, layer, head]), words, picture])
