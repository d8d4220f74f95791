"""Plot and widget helpers, and the environment check, used as notebooks use them."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course import environment, plots, widgets  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_lines_draws_one_line_per_series_and_a_reference():
    plots.lines([1, 2, 3], {"train": [3, 2, 1], "validation": [4, 3, 3]}, xlabel="n", ylabel="ppl",
                title="t", logy=True, hline=(0.25, "chance"))
    axes = plt.gcf().axes[0]
    assert [line.get_label() for line in axes.lines] == ["train", "validation", "chance"]
    assert axes.get_yscale() == "log" and axes.get_title() == "t"


def test_rank_frequency_labels_the_most_common_words():
    from collections import Counter

    plots.rank_frequency(Counter("the cat and the hat and the bat".split()), title="zipf", label_top=2)
    labels = [text.get_text() for text in plt.gcf().axes[0].texts]
    assert labels == ["'the'", "'and'"]


def test_text_generator_calls_generate_with_the_controls_values():
    calls = []
    panel = widgets.text_generator(lambda order, t, seed: calls.append((order, t, seed)) or "text",
                                   orders=[1, 2, 3], temperature=0.7, seed=5)
    assert calls == [(3, 0.7, 5)], "it shows a first sample straight away, from the highest order"
    order, temperature = panel.children[0].children
    seed, button = panel.children[1].children
    order.value, temperature.value, seed.value = 1, 2.0, 9
    button.click()
    assert calls[-1] == (1, 2.0, 9)
    assert panel.children[2].value == "text"


def test_environment_check_reports_ok_and_failures(capsys):
    assert environment.check(["numpy"], needs_data=True) is True
    out = capsys.readouterr().out
    assert "Environment OK." in out
    assert "data: Wine Reviews, 6,724 reviews, the course's offline subset" in out, "it says which data it uses"
    assert "`course-data download` fetches all" in out, "with only the subset, it says how to get the rest"
    assert "models: none pretrained" in out and "CPU cores" in out
    assert environment.check(["numpy", "no_such_package_xyz"], needs_data=False) is False
    out = capsys.readouterr().out
    assert "FAIL  no_such_package_xyz" in out and "./open-course.sh" in out


def test_highlight_html_shades_by_weight_and_escapes_words():
    html = widgets.highlight_html(["<b>", "wine"], [0.25, 0.75], focus=1)
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert "rgba(214, 39, 40, 0.33)" in html and "rgba(214, 39, 40, 1.00)" in html
    assert html.count("underline") == 1


def test_attention_inspector_follows_its_controls():
    import numpy as np

    weights = np.zeros((2, 2, 2, 3, 3))
    weights[1, 0, 1, 2] = [0.1, 0.2, 0.7]
    panel = widgets.attention_inspector([["a", "b", "c"], ["x", "y", "z"]], weights)
    sentence = panel.children[0]
    layer, head, query = panel.children[1].children
    words = panel.children[2]
    sentence.value, layer.value, head.value, query.value = 1, 0, 1, 2
    assert [option[0] for option in query.options] == ["0: x", "1: y", "2: z"]
    assert 'title="0.700"' in words.value and "underline;\">z<" in words.value
    assert bytes(panel.children[3].value).startswith(b"\x89PNG"), "the heatmap is drawn as a picture"


def test_embedding_explorer_shows_neighbours_and_unknown_words():
    import numpy as np

    table = {"red": [("white", 0.9)], "cherry": [("plum", 0.8), ("berry", 0.7)]}

    def neighbours(word):
        return table[word]  # KeyError for words outside the vocabulary, as in the notebook

    panel = widgets.embedding_explorer(["red", "cherry"], neighbours, np.eye(2), ["colours", "fruits"])
    choice, (words, _) = panel.children[0], panel.children[1].children
    assert "white" in words.value
    choice.value = "Cherry "
    assert "plum" in words.value and "berry" in words.value
    assert bytes(panel.children[1].children[1].value).startswith(b"\x89PNG")
    choice.value = "zinfandel"
    assert "not in the vocabulary" in words.value


def test_environment_check_shows_versions_and_warns_outside_the_tested_range(monkeypatch, capsys):
    import numpy
    from packaging.requirements import Requirement

    assert environment.check(["numpy"], needs_data=False) is True
    out = capsys.readouterr().out
    assert f"OK    numpy {numpy.__version__}" in out and "uses no dataset" in out
    monkeypatch.setattr(environment, "course_requirements", lambda: {"numpy": Requirement("numpy<1")})
    assert environment.check(["numpy"], needs_data=False) is True, "a version outside the range only warns"
    assert f"WARN  numpy {numpy.__version__}: the course is tested with <1" in capsys.readouterr().out
