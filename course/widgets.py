"""Interactive controls built from core ipywidgets only (they work in JupyterLab,
JupyterHub and Colab alike; no ipympl).

A widget here never computes anything a student is graded on: it is handed a
function from the notebook and only wires sliders and buttons to it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as w


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
    output = w.Output(layout=w.Layout(border="1px solid #ddd", padding="4px", min_height="3em"))

    def on_click(_=None):
        output.clear_output()
        with output:
            print(generate(order.value, heat.value, seed_box.value))

    button.on_click(on_click)
    panel = w.VBox([w.HBox([order, heat]), w.HBox([seed_box, button]), output])
    on_click()
    return panel
