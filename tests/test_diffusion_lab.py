"""Unit 7's helpers, and its reference solutions checked against diffusers' schedulers."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler
from keras import ops

from course import diffusion_lab as lab

SOURCE = Path(__file__).resolve().parents[1] / "source" / "07_text_to_image" / "text_to_image.ipynb"


def reference_solution(grade_id: str) -> dict:
    """The namespace after running one answer cell of the source notebook (the reference solution)."""
    for cell in json.loads(SOURCE.read_text())["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            namespace = {"np": np, "ops": ops}
            exec(compile("".join(cell["source"]), f"<{grade_id}>", "exec"), namespace)
            return namespace
    raise LookupError(grade_id)


def in_float64(scheduler, betas):
    """diffusers keeps its schedule in float32; the same schedule in float64, so the comparison tests the
    algorithm, not float32 rounding (1 - alpha_bar loses digits when alpha_bar is close to 1)."""
    scheduler.betas = torch.tensor(betas, dtype=torch.float64)
    scheduler.alphas = 1.0 - scheduler.betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, dim=0)
    return scheduler


BETAS = lab.linear_betas()


def test_linear_betas_are_diffusers_linear_schedule():
    np.testing.assert_allclose(BETAS, DDPMScheduler(num_train_timesteps=1000).betas.numpy(), rtol=1e-6)


def test_reference_add_noise_equals_diffusers():
    add_noise = reference_solution("add_noise")["add_noise"]
    generator = np.random.default_rng(0)
    x0, noise = generator.normal(size=(6, 3, 16, 16)), generator.normal(size=(6, 3, 16, 16))
    steps = np.array([0, 1, 10, 500, 998, 999])
    scheduler = in_float64(DDPMScheduler(num_train_timesteps=1000), BETAS)
    theirs = scheduler.add_noise(torch.tensor(x0), torch.tensor(noise), torch.tensor(steps)).numpy()
    np.testing.assert_allclose(add_noise(x0, steps, noise, BETAS), theirs, rtol=1e-12, atol=1e-12)


def test_signal_to_noise_from_add_noise_is_diffusers_snr():
    """The Min-SNR weights of train_denoiser read SNR(t) off the notebook's add_noise."""
    scheduler = in_float64(DDPMScheduler(num_train_timesteps=1000), BETAS)
    alpha_bars = scheduler.alphas_cumprod.numpy()
    snr = lab.signal_to_noise(reference_solution("add_noise")["add_noise"], BETAS)
    np.testing.assert_allclose(snr, alpha_bars / (1 - alpha_bars), rtol=1e-9)
    assert snr[0] > 5 > snr[400] and np.all(np.diff(snr) < 0), "SNR falls with t, through the cap of 5"


@pytest.mark.parametrize("t", [999, 998, 500, 100, 2, 1, 0])
def test_reference_ddpm_step_equals_diffusers(t):
    """DDPMScheduler's defaults: predicted noise ("epsilon"), x0 clipped to [-1, 1], the posterior's variance
    ("fixed_small"); its noise is torch.randn from the generator, so we draw the same numbers."""
    ddpm_step = reference_solution("ddpm_step")["ddpm_step"]
    generator = np.random.default_rng(t)
    x_t, predicted = generator.normal(size=(2, 3, 8, 8)), 2 * generator.normal(size=(2, 3, 8, 8))
    scheduler = in_float64(DDPMScheduler(num_train_timesteps=1000, clip_sample=True), BETAS)
    theirs = scheduler.step(torch.tensor(predicted), t, torch.tensor(x_t),
                            generator=torch.Generator().manual_seed(t)).prev_sample.numpy()
    noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t), dtype=torch.float64).numpy()
    np.testing.assert_allclose(ddpm_step(x_t, t, predicted, BETAS, noise), theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("num_steps", [20, 50, 7])
def test_reference_ddim_steps_equal_diffusers_and_our_timesteps(num_steps):
    ddim_step = reference_solution("ddim_step")["ddim_step"]
    scheduler = in_float64(DDIMScheduler(num_train_timesteps=1000, clip_sample=True, set_alpha_to_one=True), BETAS)
    scheduler.set_timesteps(num_steps)
    pairs = lab.ddim_timesteps(num_steps)
    assert [t for t, _ in pairs] == scheduler_timesteps(scheduler)
    generator = np.random.default_rng(num_steps)
    x = generator.normal(size=(2, 3, 8, 8))
    ours, theirs = x.copy(), torch.tensor(x)
    for t, t_prev in pairs:
        predicted = 1.5 * generator.normal(size=x.shape)
        ours = ddim_step(ours, t, t_prev, predicted, BETAS)
        theirs = scheduler.step(torch.tensor(predicted), t, theirs, eta=0.0, use_clipped_model_output=True).prev_sample
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-10, err_msg=f"t={t}")


def scheduler_timesteps(scheduler) -> list[int]:
    """diffusers' inference timesteps as ints."""
    return [int(t) for t in scheduler.timesteps]


def test_render_draws_each_shape_in_its_colour_and_quadrant():
    scenes = [{"colour": c, "shape": s, "size": "small", "x": 12.0, "y": 4.0} for c in lab.COLOURS for s in lab.SHAPES]
    images = lab.render(scenes)
    assert images.shape == (12, 16, 16, 3) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1
    for image, scene in zip(images, scenes):
        lit = (image > -1).any(axis=-1)
        rows, columns = np.nonzero(lit)
        assert rows.max() < 8 and columns.min() >= 8, "top right"
        np.testing.assert_allclose(image[4, 12], 2 * np.array(lab.COLOURS[scene["colour"]]) - 1, rtol=1e-6)
    areas = {s["shape"]: (img > -1).any(axis=-1).sum() for img, s in zip(images, scenes)}
    assert areas["triangle"] < areas["circle"] and areas["square"] != areas["circle"]


def test_training_scenes_never_hold_a_held_out_pair_and_the_gallery_holds_every_caption():
    caption = reference_solution("caption")["caption"]
    pairs = {(s["colour"], s["shape"]) for s in lab.make_scenes(2000, seed=1)}
    assert pairs == set(lab.combinations()) and not pairs & set(lab.HELD_OUT)
    gallery = lab.all_scenes(seed=0)
    captions = [caption(scene) for scene in gallery]
    assert len(gallery) == 96 and len(set(captions)) == 96
    assert lab.make_scenes(5, seed=3) == lab.make_scenes(5, seed=3)


def test_tokenize_pads_marks_real_tokens_and_names_unknown_words():
    ids, mask = lab.caption_ids(["a small red circle at the top left", ""])
    assert ids.shape == (2, lab.CAPTION_LENGTH) and mask.dtype == bool
    assert lab.words_of(ids[0]) == "<start> a small red circle at the top left".split()
    assert mask[0].all() and mask[1].tolist() == [True] + [False] * (lab.CAPTION_LENGTH - 1)
    with pytest.raises(ValueError, match="purple"):
        lab.caption_ids(["a purple circle"])


def test_ddim_timesteps_are_diffusers_leading_spacing():
    assert lab.ddim_timesteps(4) == [(750, 500), (500, 250), (250, 0), (0, -250)]
    assert len(lab.ddim_timesteps(1000)) == 1000
    with pytest.raises(ValueError):
        lab.ddim_timesteps(0)


def test_reference_caption_attention_equals_the_denoisers_keras_layer():
    """What the notebook shows students, on an untrained denoiser: their function (here the reference)
    computes what Keras' one-head MultiHeadAttention computes."""
    caption_attention = reference_solution("caption_attention")["caption_attention"]
    denoiser, probe = lab.build_denoiser(seed=0)
    scenes = lab.make_scenes(3, seed=2)
    ids, mask = lab.caption_ids(["a red circle", "a small blue square at the top right", ""])
    queries, tokens, output, weights = probe.predict([lab.render(scenes), np.array([10, 500, 999]), ids, mask],
                                                     verbose=0)
    ours_output, ours_weights = caption_attention(queries, tokens, mask,
                                                  lab.attention_parameters(denoiser.get_layer("cross_attention")))
    np.testing.assert_allclose(ours_weights, weights[:, 0], atol=1e-5)
    np.testing.assert_allclose(ours_output, output, atol=1e-4)
    assert (ours_weights[:, :, ~mask[2]][2] == 0).all()


def test_sample_hands_each_step_to_the_given_functions():
    """With a predictor that knows the true noise of a fixed image, DDIM lands on that image."""
    namespace = reference_solution("ddim_step") | reference_solution("guided_noise")
    target = lab.render([{"colour": "red", "shape": "square", "size": "large", "x": 4.0, "y": 4.0}])
    alpha_bars = np.cumprod(1 - BETAS)

    def oracle(x, t, ids, mask):  # the noise that would turn target into x at step t
        return (x - np.sqrt(alpha_bars[t]) * target) / np.sqrt(1 - alpha_bars[t])

    images = lab.sample(oracle, ["a red square"], namespace["ddim_step"], BETAS, namespace["guided_noise"],
                        scale=3.0, num_steps=10)
    np.testing.assert_allclose(images, target, atol=1e-5)


def test_judge_reads_held_out_pairs_it_never_saw():
    judge = lab.build_judge(seed=0)
    scenes = lab.make_scenes(2000, seed=0)
    judge.fit(lab.render(scenes), list(lab.labels_of(scenes)), epochs=2, batch_size=128, verbose=0)
    held_out = lab.make_scenes(100, seed=1, pairs=lab.combinations(held_out=True))
    assert lab.match_rate(judge, lab.render(held_out), held_out) > 0.9
