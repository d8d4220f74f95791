"""The workshop around Unit 7: a world of coloured shapes, a tiny CLIP, a tiny
text-conditioned denoiser, the samplers' loops, an independent judge and the widget.

The data needs no download. A scene is a dict such as
``{"colour": "red", "shape": "circle", "size": "small", "x": 4.3, "y": 3.6}``;
``render`` draws it as a 16 x 16 RGB image with values in [-1, 1], and the
notebook's caption function turns it into words ("a small red circle at the top
left"). Some (colour, shape) pairs are never drawn for training (``HELD_OUT``), to
test whether a model composes what it learned apart.

Left out on purpose: everything a unit grades. The caption, the contrastive loss,
the forward noising, the DDPM and DDIM steps, the guidance combination and the
cross-attention arithmetic are the students'. Functions here take them as
arguments (``train_clip(..., loss=...)``, ``train_denoiser(..., add_noise=...)``,
``sample(..., step=..., guide=...)``) and only loop, batch and draw. The models use
Keras' own ``MultiHeadAttention``; the notebook checks the students' cross-attention
against it.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

IMAGE_SIZE = 16
COLOURS = {  # RGB in [0, 1]; far apart, so a colour is never ambiguous
    "red": (0.90, 0.12, 0.10),
    "green": (0.10, 0.75, 0.20),
    "blue": (0.15, 0.35, 1.00),
    "yellow": (0.95, 0.85, 0.10),
}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 2.6, "large": 4.2}  # half-widths in pixels
HELD_OUT = (("red", "triangle"), ("green", "circle"), ("blue", "square"))  # never drawn for training
NUM_TRAIN_STEPS = 1000  # T, the length of the noising chain (as in the DDPM paper)
VOCABULARY = ("<pad>", "<start>", "a", "at", "the", "top", "bottom", "left", "right",
              *SIZES, *COLOURS, *SHAPES)
CAPTION_LENGTH = 9  # <start> + "a small red circle at the top left"
PAD, START = 0, 1


# --- data ---------------------------------------------------------------------------------------------------


def combinations(held_out: bool = False) -> list[tuple[str, str]]:
    """The (colour, shape) pairs drawn for training, or (``held_out=True``) the ones kept back."""
    return [(c, s) for c in COLOURS for s in SHAPES if ((c, s) in HELD_OUT) == held_out]


def all_scenes(seed: int) -> list[dict]:
    """One scene of every (colour, shape, size, quadrant), held-out pairs included: 96 scenes, a gallery in
    which every caption names exactly one image."""
    generator = np.random.default_rng(seed)
    scenes = []
    for colour in COLOURS:
        for shape in SHAPES:
            for size in SIZES:
                for row in range(2):
                    for column in range(2):
                        x, y = IMAGE_SIZE / 4 * (1 + 2 * np.array([column, row])) + generator.uniform(-0.8, 0.8, 2)
                        scenes.append({"colour": colour, "shape": shape, "size": size,
                                       "x": round(float(x), 2), "y": round(float(y), 2)})
    return scenes


def make_scenes(count: int, seed: int, pairs: Sequence[tuple[str, str]] | None = None) -> list[dict]:
    """``count`` random scenes, their (colour, shape) drawn from ``pairs`` (default: the training pairs).

    Each shape sits near the middle of one quadrant, moved by up to 0.8 pixels.
    """
    generator = np.random.default_rng(seed)
    pairs = list(pairs or combinations())
    scenes = []
    for _ in range(count):
        colour, shape = pairs[generator.integers(len(pairs))]
        centre = IMAGE_SIZE / 4 + IMAGE_SIZE / 2 * generator.integers(2, size=2) + generator.uniform(-0.8, 0.8, 2)
        scenes.append({"colour": colour, "shape": shape, "size": str(generator.choice(list(SIZES))),
                       "x": round(float(centre[0]), 2), "y": round(float(centre[1]), 2)})
    return scenes


def render(scenes: Sequence[dict]) -> np.ndarray:
    """Scenes -> float32 images (count, 16, 16, 3) in [-1, 1]: a coloured shape on black.

    Example: render([{"colour": "red", "shape": "square", "size": "large", "x": 4, "y": 4}])[0, 4, 4]
    -> [0.8, -0.76, -0.8] (red), and the opposite corner is [-1, -1, -1].
    """
    rows, columns = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] + 0.5  # pixel centres
    images = np.zeros((len(scenes), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    for index, scene in enumerate(scenes):
        dx, dy, half = columns - scene["x"], rows - scene["y"], SIZES[scene["size"]]
        if scene["shape"] == "circle":
            inside = dx**2 + dy**2 <= half**2
        elif scene["shape"] == "square":
            inside = np.maximum(np.abs(dx), np.abs(dy)) <= 0.85 * half
        elif scene["shape"] == "triangle":  # apex up, base down
            inside = (np.abs(dy) <= half) & (np.abs(dx) <= (dy + half) / 2)
        else:
            raise ValueError(f"unknown shape {scene['shape']!r}; the shapes are {', '.join(SHAPES)}")
        images[index][inside] = COLOURS[scene["colour"]]
    return 2 * images - 1


def caption_ids(captions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Captions -> (token ids (count, CAPTION_LENGTH) int32, mask of real tokens, bool).

    Every caption starts with <start>, so even the empty caption "" (the one classifier-free guidance
    trains with) has one real token. Example: caption_ids(["a red circle"])[0][0] -> [1, 2, 11, 15, 0, 0, 0, 0, 0].
    """
    index = {word: i for i, word in enumerate(VOCABULARY)}
    ids = np.full((len(captions), CAPTION_LENGTH), PAD, dtype=np.int32)
    for row, text in enumerate(captions):
        words = ["<start>"] + str(text).split()
        unknown = [word for word in words if word not in index]
        if unknown or len(words) > CAPTION_LENGTH:
            raise ValueError(f"cannot tokenize {text!r}: unknown words {unknown} or more than "
                             f"{CAPTION_LENGTH - 1} words; the vocabulary is {' '.join(VOCABULARY[2:])}")
        ids[row, :len(words)] = [index[word] for word in words]
    return ids, ids != PAD


def words_of(ids: Sequence[int]) -> list[str]:
    """Token ids -> words, padding left out."""
    return [VOCABULARY[i] for i in ids if i != PAD]


def linear_betas(num_steps: int = NUM_TRAIN_STEPS, start: float = 1e-4, end: float = 0.02) -> np.ndarray:
    """The DDPM paper's noise schedule: beta_t rising linearly from ``start`` to ``end`` (float64)."""
    return np.linspace(start, end, num_steps, dtype=np.float64)


# --- the shared text-image space (a tiny CLIP) ------------------------------------------------------------


def build_clip(embed_dim: int = 32, seed: int = 0):
    """(image_encoder, text_encoder, log_temperature): two Keras encoders into one ``embed_dim`` space,
    and CLIP's learned temperature as a trainable variable (its log, so it stays positive; starts at 0.07)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="images")
    hidden = layers.Conv2D(32, 3, padding="same", activation="relu")(with_coordinates(images))
    hidden = layers.Conv2D(48, 3, strides=2, padding="same", activation="relu")(hidden)  # 8 x 8
    hidden = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(hidden)  # 4 x 4
    image_vector = layers.Dense(embed_dim)(layers.Dense(128, activation="relu")(layers.Flatten()(hidden)))
    image_encoder = keras.Model(images, image_vector, name="image_encoder")

    ids = keras.Input((CAPTION_LENGTH,), dtype="int32", name="token_ids")
    mask = keras.Input((CAPTION_LENGTH,), dtype="bool", name="token_mask")
    tokens = token_embedding_layer()(len(VOCABULARY), 64, name="token_embedding")(ids)  # (batch, tokens, 64)
    attended = layers.MultiHeadAttention(2, 32, name="self_attention")(
        tokens, tokens, attention_mask=mask[:, None, :] & mask[:, :, None])
    tokens = layers.LayerNormalization()(tokens + attended)
    weights = keras.ops.cast(mask, "float32")[:, :, None]
    pooled = keras.ops.sum(tokens * weights, axis=1) / keras.ops.sum(weights, axis=1)  # mean over real tokens
    text_vector = layers.Dense(embed_dim)(layers.Dense(128, activation="relu")(pooled))
    text_encoder = keras.Model([ids, mask], text_vector, name="text_encoder")
    log_temperature = keras.Variable(np.log(0.07), dtype="float32", name="log_temperature")
    return image_encoder, text_encoder, log_temperature


def train_clip(image_encoder, text_encoder, log_temperature, images, token_ids, token_mask, loss: Callable,
               steps: int, batch_size: int = 128, learning_rate: float = 2e-3, seed: int = 0) -> list[float]:
    """Train both encoders and the temperature with ``loss(image_vectors, text_vectors, temperature)``
    (the notebook's contrastive loss, written with keras.ops). Returns the loss of every step.

    A batch never holds two images of the same caption twice by design; it may by chance, which CLIP
    also tolerates.
    """
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    optimizer = keras.optimizers.Adam(learning_rate)
    variables = image_encoder.trainable_variables + text_encoder.trainable_variables + [log_temperature]

    @tf.function
    def train_step(batch_images, batch_ids, batch_mask):
        with tf.GradientTape() as tape:
            value = loss(image_encoder(batch_images, training=True),
                         text_encoder([batch_ids, batch_mask], training=True), keras.ops.exp(log_temperature))
        optimizer.apply(tape.gradient(value, variables), variables)
        log_temperature.assign(keras.ops.clip(log_temperature, np.log(0.01), np.log(1.0)))
        return value

    generator, losses = np.random.default_rng(seed), []
    for _ in tqdm(range(steps), desc="training the tiny CLIP", leave=False):
        chosen = generator.choice(len(images), size=min(batch_size, len(images)), replace=False)
        losses.append(float(train_step(images[chosen], token_ids[chosen], token_mask[chosen])))
    return losses


def unit_rows(vectors) -> np.ndarray:
    """Each row scaled to length 1 (for cosine similarities)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def retrieval_accuracy(similarity: np.ndarray) -> tuple[float, float]:
    """(text -> image, image -> text) top-1 accuracy of a square similarity matrix whose row i is
    caption i against every image, and whose right answers are on the diagonal."""
    similarity = np.asarray(similarity)
    right = np.arange(len(similarity))
    return float(np.mean(similarity.argmax(axis=1) == right)), float(np.mean(similarity.argmax(axis=0) == right))


# --- the denoiser ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def token_embedding_layer():
    """The Keras layer class for a caption's tokens (built on first use, so importing this module needs no
    Keras)."""
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="course")
    class TokenEmbedding(layers.Layer):
        """Word embedding plus a learned embedding of each token's position."""

        def __init__(self, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.vocab_size, self.embed_dim = vocab_size, embed_dim
            self.words = layers.Embedding(vocab_size, embed_dim)
            self.positions = layers.Embedding(CAPTION_LENGTH, embed_dim)

        def call(self, ids):
            return self.words(ids) + self.positions(keras.ops.arange(keras.ops.shape(ids)[1]))[None]

        def get_config(self):
            return {**super().get_config(), "vocab_size": self.vocab_size, "embed_dim": self.embed_dim}

    return TokenEmbedding


def with_coordinates(images):
    """Two extra channels holding each pixel's row and column in [-1, 1], so convolutions know where they are
    (a caption says "top left")."""
    import keras

    grid = np.linspace(-1, 1, IMAGE_SIZE, dtype=np.float32)
    coordinates = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1)[None]  # (1, 16, 16, 2)
    return keras.ops.concatenate([images, keras.ops.zeros_like(images[..., :2]) + coordinates], axis=-1)


def timestep_embedding(timesteps, dim: int = 64):
    """Sinusoidal features of t (as in the transformer's positions): (batch,) -> (batch, dim)."""
    import keras

    frequencies = np.exp(-np.log(10_000.0) * np.arange(dim // 2) / (dim // 2)).astype(np.float32)
    angles = keras.ops.cast(timesteps, "float32")[:, None] * frequencies[None, :]
    return keras.ops.concatenate([keras.ops.sin(angles), keras.ops.cos(angles)], axis=-1)


def _residual_block(x, time_vector, channels: int, name: str):
    from keras import layers

    h = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv1")(
        layers.Activation("swish")(layers.GroupNormalization(8, name=f"{name}_norm1")(x)))
    h = h + layers.Dense(channels, name=f"{name}_time")(time_vector)[:, None, None, :]
    h = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv2")(
        layers.Activation("swish")(layers.GroupNormalization(8, name=f"{name}_norm2")(h)))
    if x.shape[-1] != channels:
        x = layers.Conv2D(channels, 1, name=f"{name}_skip")(x)
    return x + h


def _cross_attention_block(x, tokens, mask, name: str):
    """Image positions (queries) read the caption's tokens (keys and values); residual."""
    import keras
    from keras import layers

    height, width, channels = x.shape[1:]
    queries = layers.Reshape((height * width, channels))(layers.LayerNormalization(name=f"{name}_norm")(x))
    attention = layers.MultiHeadAttention(1, channels, name=name)
    attended, weights = attention(queries, tokens, attention_mask=keras.ops.repeat(mask[:, None, :], height * width,
                                                                                  axis=1),
                                  return_attention_scores=True)
    return x + layers.Reshape((height, width, channels))(attended), (queries, attended, weights)


def build_denoiser(width: int = 16, inner: int = 48, embed_dim: int = 48, seed: int = 0):
    """(denoiser, probe): a small U-Net that predicts the noise in x_t from (x_t, t, caption).

    16 x 16 (``width`` channels) -> 8 x 8 (``inner`` channels) -> 16 x 16, residual blocks told t through a
    sinusoidal embedding, and cross-attention from the 64 image positions at 8 x 8 to the caption's tokens
    between the two inner blocks. As in Imagen, a summary of the caption (the mean of its token vectors) is
    also added to the step's vector, which every residual block receives. Most of the work happens at 8 x 8, where it costs a quarter. ``probe``
    returns that cross-attention's query input (batch, 64, inner), the caption's token features (batch,
    tokens, embed_dim), Keras' output (batch, 64, inner) and weights (batch, 1, 64, tokens).
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    noisy = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="noisy_images")
    timesteps = keras.Input((), dtype="int32", name="timesteps")
    ids = keras.Input((CAPTION_LENGTH,), dtype="int32", name="token_ids")
    mask = keras.Input((CAPTION_LENGTH,), dtype="bool", name="token_mask")

    tokens = token_embedding_layer()(len(VOCABULARY), embed_dim, name="caption_tokens")(ids)  # (batch, tokens, embed)
    real = keras.ops.cast(mask, "float32")[:, :, None]
    caption_summary = keras.ops.sum(tokens * real, axis=1) / keras.ops.sum(real, axis=1)  # mean of the real tokens
    time_vector = layers.Dense(embed_dim, activation="swish", name="step_and_caption")(
        layers.Concatenate()([timestep_embedding(timesteps, embed_dim), caption_summary]))
    time_vector = layers.Dense(embed_dim, activation="swish")(time_vector)

    x = layers.Conv2D(width, 3, padding="same", name="stem")(with_coordinates(noisy))
    skip = _residual_block(x, time_vector, width, "outer_down")  # 16 x 16
    x = layers.Conv2D(inner, 3, strides=2, padding="same", name="downsample")(skip)  # 8 x 8
    x = _residual_block(x, time_vector, inner, "inner_1")
    x, probed = _cross_attention_block(x, tokens, mask, "cross_attention")
    x = _residual_block(x, time_vector, inner, "inner_2")
    x = layers.Conv2D(width, 3, padding="same", name="upsample")(layers.UpSampling2D(2)(x))  # 16 x 16
    x = _residual_block(layers.Concatenate()([x, skip]), time_vector, width, "outer_up")
    x = layers.Activation("swish")(layers.GroupNormalization(8)(x))
    noise = layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros", name="predicted_noise")(x)
    inputs = [noisy, timesteps, ids, mask]
    denoiser = keras.Model(inputs, noise, name="denoiser")
    queries, attended, weights = probed
    probe = keras.Model(inputs, [queries, tokens, attended, weights], name="cross_attention_probe")
    return denoiser, probe


def drop_captions(token_ids: np.ndarray, token_mask: np.ndarray, probability: float, generator) -> tuple:
    """Copies of the batch's captions, each replaced by the empty caption with ``probability``
    (classifier-free guidance trains one model to denoise with and without its caption)."""
    dropped = generator.random(len(token_ids)) < probability
    empty_ids, empty_mask = caption_ids([""])
    return (np.where(dropped[:, None], empty_ids, token_ids),
            np.where(dropped[:, None], empty_mask, token_mask))


def signal_to_noise(add_noise: Callable, betas) -> np.ndarray:
    """SNR(t) = alpha_bar_t / (1 - alpha_bar_t) for every t, read off the notebook's ``add_noise``: noising
    ones with no noise keeps sqrt(alpha_bar_t) of them, and noising zeros with unit noise gives sqrt(1 - alpha_bar_t)."""
    steps = np.arange(len(betas))
    column = (len(steps), 1)
    kept = np.asarray(add_noise(np.ones(column), steps, np.zeros(column), betas), dtype=np.float64)[:, 0]
    spread = np.asarray(add_noise(np.zeros(column), steps, np.ones(column), betas), dtype=np.float64)[:, 0]
    return (kept / spread) ** 2


def train_denoiser(denoiser, images, token_ids, token_mask, add_noise: Callable, betas, steps: int,
                   batch_size: int = 48, learning_rate: float = 3e-3, drop_probability: float = 0.15,
                   ema_decay: float = 0.995, snr_cap: float = 5.0, seed: int = 0) -> list[float]:
    """Train to predict the noise: for each batch draw t and the noise, make x_t with the notebook's
    ``add_noise(x0, t, noise, betas)``, drop some captions, and minimise the squared error. Returns
    the (unweighted) squared error of every step.

    Each image's error is weighted by min(SNR(t), ``snr_cap``) / SNR(t) ("Min-SNR", Hang et al., 2023):
    at the nearly clean steps a tiny error in the image is a large error in the noise (the noise's squared
    error is SNR times the image's), so they count less, and training spends itself on the noisy steps where
    colour and shape are decided. The learning rate
    falls to a tenth along a cosine. The weights the denoiser keeps at the end are an exponential moving
    average of the trained ones (``ema_decay``), as in the DDPM paper: an average over the last few hundred
    steps samples cleaner images than the last step's weights.
    """
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1), alpha=0.1)
    optimizer = keras.optimizers.Adam(schedule)
    variables = denoiser.trainable_variables
    averages = [tf.Variable(variable, trainable=False) for variable in variables]

    snr = signal_to_noise(add_noise, betas)
    weight_of_step = (np.minimum(snr, snr_cap) / snr).astype(np.float32)

    @tf.function(reduce_retracing=True)
    def train_step(noisy, timesteps, ids, mask, noise, weights):
        with tf.GradientTape() as tape:
            errors = keras.ops.mean((denoiser([noisy, timesteps, ids, mask], training=True) - noise) ** 2,
                                    axis=(1, 2, 3))
            value = keras.ops.mean(errors * weights)
        optimizer.apply(tape.gradient(value, variables), variables)
        for average, variable in zip(averages, variables):
            average.assign(ema_decay * average + (1.0 - ema_decay) * variable)
        return keras.ops.mean(errors)

    generator, losses = np.random.default_rng(seed), []
    for _ in tqdm(range(steps), desc="training the denoiser", leave=False):
        chosen = generator.choice(len(images), size=min(batch_size, len(images)), replace=False)
        timesteps = generator.integers(0, len(betas), size=len(chosen))
        noise = generator.standard_normal(images[chosen].shape)
        noisy = np.asarray(add_noise(images[chosen], timesteps, noise, betas), dtype=np.float32)
        ids, mask = drop_captions(token_ids[chosen], token_mask[chosen], drop_probability, generator)
        losses.append(float(train_step(noisy, timesteps.astype(np.int32), ids, mask, noise.astype(np.float32),
                                       weight_of_step[timesteps])))
    if steps:
        for average, variable in zip(averages, variables):
            variable.assign(average)
    return losses


def noise_predictor(denoiser) -> Callable:
    """A compiled ``predict(x_t, t, ids, mask) -> noise`` for sampling (t: one int for the whole batch)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def run(noisy, timesteps, ids, mask):
        return denoiser([noisy, timesteps, ids, mask], training=False)

    def predict(noisy, t, ids, mask):
        timesteps = np.full(len(noisy), t, dtype=np.int32)
        return run(np.asarray(noisy, dtype=np.float32), timesteps, ids, mask).numpy().astype(np.float64)

    return predict


def ddim_timesteps(num_steps: int, num_train_steps: int = NUM_TRAIN_STEPS) -> list[tuple[int, int]]:
    """The (t, t_prev) pairs of a ``num_steps``-step sampler, evenly spaced ("leading", as diffusers):
    ddim_timesteps(4, 1000) -> [(750, 500), (500, 250), (250, 0), (0, -250)]; a negative t_prev means "done"."""
    if not 1 <= num_steps <= num_train_steps:
        raise ValueError(f"the number of steps must be between 1 and {num_train_steps}, not {num_steps}")
    stride = num_train_steps // num_steps
    steps = list(range(0, num_train_steps, stride))[:num_steps][::-1]
    return [(t, t - stride) for t in steps]


def sample(predict: Callable, captions: Sequence[str], step: Callable, betas, guide: Callable | None = None,
           scale: float = 1.0, num_steps: int = 20, deterministic: bool = True, seed: int = 0,
           show_progress: bool = False, keep_every: int = 0):
    """Images for ``captions``, from pure noise, with the notebook's functions.

    - ``deterministic=True``: DDIM, ``step(x_t, t, t_prev, predicted_noise, betas)`` over ``num_steps`` steps;
    - ``deterministic=False``: DDPM, ``step(x_t, t, predicted_noise, betas, noise)`` over every t from T - 1 to 0.
    - ``guide(conditional, unconditional, scale)``: classifier-free guidance (None: the conditional prediction).

    Returns the images (count, 16, 16, 3) clipped to [-1, 1]; with ``keep_every`` > 0, also the list of
    (t, x_t) every ``keep_every`` steps.
    """
    from tqdm.auto import tqdm

    generator = np.random.default_rng(seed)
    ids, mask = caption_ids(captions)
    empty_ids, empty_mask = caption_ids([""] * len(captions))
    x = generator.standard_normal((len(captions), IMAGE_SIZE, IMAGE_SIZE, 3))
    pairs = ddim_timesteps(num_steps, len(betas)) if deterministic else [(t, t - 1) for t in range(len(betas))[::-1]]
    kept = []
    for number, (t, t_prev) in enumerate(tqdm(pairs, desc="sampling", leave=False, disable=not show_progress)):
        if guide is None:
            predicted = predict(x, t, ids, mask)
        else:
            both = predict(np.concatenate([x, x]), t, np.concatenate([ids, empty_ids]),
                           np.concatenate([mask, empty_mask]))
            predicted = np.asarray(guide(both[:len(x)], both[len(x):], scale), dtype=np.float64)
        if deterministic:
            x = np.asarray(step(x, t, t_prev, predicted, betas), dtype=np.float64)
        else:
            x = np.asarray(step(x, t, predicted, betas, generator.standard_normal(x.shape)), dtype=np.float64)
        if keep_every and (number % keep_every == 0 or t_prev < 0):
            kept.append((t_prev, np.clip(x, -1, 1)))
    images = np.clip(x, -1, 1).astype(np.float32)
    return (images, kept) if keep_every else images


# --- the judge --------------------------------------------------------------------------------------------


def build_judge(seed: int = 0):
    """An independent classifier that reads (colour, shape) back from an image, trained on the denoiser's
    training images only.

    Two networks that cannot cheat. The shape reader sees only where the image is bright (the largest of the
    three channels, squashed to 0 or 1), so it is colour-blind. The colour reader looks at one pixel at a time
    (1 x 1 convolutions) and averages its scores over the bright pixels, so it is shape-blind. Neither can guess
    one attribute from the other, which is what lets it judge a held-out pair it has never seen.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
    bright = keras.ops.sigmoid(8.0 * (keras.ops.max(images, axis=-1, keepdims=True) + 0.2))  # (batch, 16, 16, 1)
    hidden = layers.Conv2D(32, 3, padding="same", activation="relu")(bright)
    hidden = layers.Conv2D(32, 3, padding="same", activation="relu")(hidden)
    hidden = layers.MaxPooling2D()(hidden)
    hidden = layers.Conv2D(64, 3, padding="same", activation="relu")(hidden)
    hidden = layers.GlobalMaxPooling2D()(hidden)  # where the shape is does not matter
    shape = layers.Dense(len(SHAPES), activation="softmax", name="shape")(layers.Dense(64, activation="relu")(hidden))
    pixels = layers.Conv2D(len(COLOURS), 1)(layers.Conv2D(32, 1, activation="relu")(images))  # scores per pixel
    foreground = keras.ops.sum(pixels * bright, axis=(1, 2)) / (keras.ops.sum(bright, axis=(1, 2)) + 1e-3)
    colour = layers.Softmax(name="colour")(foreground)  # the bright pixels' average scores
    judge = keras.Model(images, [colour, shape], name="judge")
    judge.compile(optimizer=keras.optimizers.Adam(2e-3), loss=["sparse_categorical_crossentropy"] * 2,
                  metrics=[["accuracy"], ["accuracy"]])
    return judge


def labels_of(scenes: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(colour index, shape index) of each scene."""
    return (np.array([list(COLOURS).index(s["colour"]) for s in scenes]),
            np.array([SHAPES.index(s["shape"]) for s in scenes]))


def judge_reads(judge, images) -> tuple[list[str], list[str]]:
    """The judge's (colours, shapes) for a batch of images."""
    colour, shape = (np.asarray(output) for output in judge(np.asarray(images, dtype=np.float32), training=False))
    return [list(COLOURS)[i] for i in colour.argmax(axis=1)], [SHAPES[i] for i in shape.argmax(axis=1)]


def match_rate(judge, images, scenes: Sequence[dict]) -> float:
    """Share of images whose colour and shape, as the judge reads them, are their scene's."""
    colours, shapes = judge_reads(judge, images)
    return float(np.mean([(c, s) == (scene["colour"], scene["shape"])
                          for c, s, scene in zip(colours, shapes, scenes)]))


def attention_parameters(layer) -> dict:
    """A one-head Keras MultiHeadAttention layer's weights as {"Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo"}:
    matrices of shape (input width, key_dim) for the projections and (key_dim, output width) for the output."""
    q_kernel, q_bias, k_kernel, k_bias, v_kernel, v_bias, o_kernel, o_bias = (
        np.asarray(weight, dtype=np.float64) for weight in layer.get_weights())
    if q_kernel.shape[1] != 1:
        raise ValueError(f"this layer has {q_kernel.shape[1]} heads; the notebook's cross-attention has one")
    return {"Wq": q_kernel[:, 0], "bq": q_bias[0], "Wk": k_kernel[:, 0], "bk": k_bias[0],
            "Wv": v_kernel[:, 0], "bv": v_bias[0], "Wo": o_kernel[0], "bo": o_bias}


# --- pictures and the widget ------------------------------------------------------------------------------


def as_rgb(images) -> np.ndarray:
    """[-1, 1] images -> [0, 1] for imshow."""
    return np.clip((np.asarray(images) + 1) / 2, 0, 1)


def image_grid(images, titles: Sequence[str] | None = None, columns: int = 8, title: str | None = None,
               show: bool = True, size: float = 1.3):
    """Images in a grid, each with an optional small title."""
    import matplotlib.pyplot as plt

    from .plots import finish

    images = as_rgb(images)
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + (0.4 if title else 0)),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index], interpolation="nearest")
            if titles is not None:
                axis.set_title(titles[index], fontsize=7)
    if title:
        figure.suptitle(title)
    return finish(figure, show)


def attention_maps(image, weights, words: Sequence[str], title: str = ""):
    """An image beside one 8 x 8 map per caption word: how much each image position attends to that word.

    ``weights`` has shape (positions, tokens), one row per image position (row by row), as the cross-attention
    returns it; only the first ``len(words)`` tokens are drawn.
    """
    import matplotlib.pyplot as plt

    from .plots import finish

    side = int(round(np.sqrt(len(weights))))
    figure, axes = plt.subplots(1, len(words) + 1, figsize=(1.3 * (len(words) + 1), 1.8))
    axes[0].imshow(as_rgb(image), interpolation="nearest")
    axes[0].set_title("image", fontsize=8)
    top = float(np.max(weights[:, :len(words)]))
    for axis, word, column in zip(axes[1:], words, np.asarray(weights).T):
        axis.imshow(column.reshape(side, side), cmap="Reds", vmin=0, vmax=top, interpolation="nearest")
        axis.set_title(word, fontsize=8)
    for axis in axes:
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    return finish(figure, show=True)


def generation_panel(generate: Callable[[str, float, int, int], np.ndarray], caption: str = "a large blue circle",
                     scale: float = 3.0, num_steps: int = 20):
    """A caption box, sliders for the guidance scale and the number of sampling steps, a seed, and a grid of
    generated images that redraws whenever one of them changes.

    ``generate(caption, scale, num_steps, seed)`` returns images in [-1, 1]; it is the notebook's.
    """
    import html

    import ipywidgets as w

    from .plots import png_bytes

    text = w.Text(value=caption, description="caption", continuous_update=False, layout=w.Layout(width="60%"))
    guidance = w.FloatSlider(value=scale, min=0.0, max=8.0, step=0.5, description="guidance",
                             continuous_update=False)
    steps = w.IntSlider(value=num_steps, min=2, max=50, description="steps", continuous_update=False)
    seed = w.BoundedIntText(value=0, min=0, max=10**6, description="seed")
    message = w.HTML()
    picture = w.Image(format="png")

    def render_panel(_=None):
        try:
            images = generate(text.value, guidance.value, steps.value, seed.value)
        except ValueError as error:
            message.value = f"<i>{html.escape(str(error))}</i>"
            return
        message.value = ""
        picture.value = png_bytes(image_grid(images, columns=min(8, len(images)), show=False, size=1.1,
                                             title=f"'{text.value}', guidance {guidance.value:g}, "
                                                   f"{steps.value} DDIM steps"))

    for control in (text, guidance, steps, seed):
        control.observe(render_panel, names="value")
    render_panel()
    return w.VBox([text, w.HBox([guidance, steps, seed]), message, picture])
