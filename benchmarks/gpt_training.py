"""Unit 4's GPT: how fast the course's training pipeline learns, against the seed course's.

    python benchmarks/gpt_training.py [--minutes 4] [--reviews N] [--pipelines ...]   side by side
    python benchmarks/gpt_training.py --reference-run [--epochs 5]                     the seed's full run (GPU advised)

Every pipeline trains the same model (the reference configuration: vocabulary
10,000, embedding 256, key dimension 256, 2 heads, feed-forward 256), built from
Unit 4's own notebook cells, on the same reviews, in one process, one after the
other, for the same wall-clock budget of training time:

- ``seed``: every review padded to 80 tokens, batches of 32, Adam at 1e-3, Keras'
  cross-entropy over every position, float32, no XLA (the seed course's set-up as it
  ran on Keras 2, written plainly).
- ``seed_xla``: the same, with Keras 3's default compilation (XLA on TensorFlow).
- ``packed``: the seed's, but reviews packed end to end (no padding at all).
- ``course_float32``: the notebook's own training: batches by length, the model as
  ``build_gpt`` compiles it (Adam at 2e-3, the XLA-fused loss over real tokens), float32.
- ``course``: the same in the precision ``course.cpu_training.fastest_precision``
  picks on this machine (mixed bfloat16 where the CPU multiplies bfloat16 faster).

Every ``--eval-every`` seconds of training, the clock stops and the validation
loss is measured the same way for all (mean cross-entropy per real token of
whole held-out reviews, ``course.gpt_lab.validation_loss``). Reported: real
tokens per second, the validation loss when the budget runs out, the time each
needs to reach the seed pipeline's final loss, and the achieved FLOP/s of the
training steps as a share of this machine's measured matrix-multiply peak in the
precision the pipeline multiplies in, measured just before and just after it trains.
Results: ``benchmarks/results/gpt_training.json``.

``--reference-run`` trains the seed's configuration and pipeline for 5 epochs on
every review found (run ``course-data download`` first for all ~130k) and
records the training loss per epoch, to compare with the seed's 2.60 after
epoch 1 and 1.82 after epoch 5 (its loss counts padding positions, as this does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autograder.cells import run_cells  # noqa: E402
from course import cpu_training, data, gpt_lab, runtime  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NOTEBOOK = REPOSITORY / "source" / "04_gpt_wine_reviews" / "gpt_wine_reviews.ipynb"
MODEL_CELLS = ("shift_inputs_targets", "causal_attention_mask", "token_position_embedding",
               "transformer_block", "gpt_model")
REFERENCE = dict(vocab_size=10_000, max_len=80, embed_dim=256, key_dim=256, num_heads=2, ff_dim=256)
# "optimizer": "seed" recompiles with the seed's Adam at 1e-3 and Keras' cross-entropy over every position;
# "notebook" keeps what Unit 4's build_gpt compiles (Adam at 2e-3, the fused loss over real tokens).
SEED_PIPELINE = dict(batching="padded", batch_size=32, optimizer="seed", jit_compile=False, precision="float32")
PIPELINES = {
    "seed": SEED_PIPELINE,
    "seed_xla": dict(SEED_PIPELINE, jit_compile=True),
    "packed": dict(SEED_PIPELINE, batching="packed"),
    "course_float32": dict(SEED_PIPELINE, batching="length", optimizer="notebook"),
    "course": dict(SEED_PIPELINE, batching="length", optimizer="notebook", precision="auto"),
}
DEFAULT_PIPELINES = ["seed", "packed", "course_float32", "course"]
SEED = 42


def notebook_definitions() -> dict:
    """The model code exactly as Unit 4 teaches it: its cells, run in a fresh namespace."""
    import keras
    import tensorflow as tf
    from keras import layers, ops

    return run_cells(NOTEBOOK, MODEL_CELLS, dict(np=np, keras=keras, layers=layers, ops=ops, tf=tf,
                                                 cpu_training=cpu_training))


def matmul_peak(precision: str) -> float:
    """This machine's measured matrix-multiply rate (FLOP/s) for square 2048 x 2048 products
    in the precision a pipeline multiplies in. Measured just before and just after each
    pipeline trains: a shared machine's speed can drift by 20% and more within minutes."""
    return cpu_training.matmul_rate("bfloat16" if precision == cpu_training.MIXED_BFLOAT16 else "float32",
                                    size=2048, seconds=5.0)


def training_flops_per_position(config: dict, window: int) -> float:
    """Matrix-multiply FLOPs of one training position: forward 2 x MACs, backward twice that."""
    d, k, h, f, v = (config[name] for name in ("embed_dim", "key_dim", "num_heads", "ff_dim", "vocab_size"))
    projections = 3 * d * h * k + h * k * d  # queries, keys, values; output projection
    attention = 2 * h * k * window  # scores and weighted values, against every position (causal: half used)
    feed_forward = 2 * d * f
    output = d * v
    return 3 * 2 * (projections + attention + feed_forward + output)


class Clock:
    """Training time, with evaluation pauses taken out; stops fit() when the budget is spent."""

    def __init__(self, model, validation, budget_s, eval_every_s, tokens_per_batch):
        import keras

        self.model, self.validation = model, validation  # (inputs, targets) of the validation reviews
        self.budget_s, self.eval_every_s = budget_s, eval_every_s
        self.tokens_per_batch = round(tokens_per_batch)
        self.curve = []  # (training seconds, real tokens seen, validation loss)
        self.trained_s, self.tokens, self.steps = 0.0, 0, 0
        self.step_started = None
        clock = self

        class _Callback(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                clock.step_started = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                clock.end_step()

        self.callback = _Callback()

    def end_step(self) -> None:
        self.trained_s += time.perf_counter() - self.step_started
        self.steps += 1
        self.tokens += self.tokens_per_batch
        if self.trained_s >= self.eval_every_s * (len(self.curve) + 1) or self.trained_s >= self.budget_s:
            self.curve.append((round(self.trained_s, 1), self.tokens, gpt_lab.validation_loss(self.model, *self.validation)))
            print(f"    {self.trained_s:6.0f} s  {self.tokens:>10,} tokens  validation loss {self.curve[-1][2]:.3f}", flush=True)
        if self.trained_s >= self.budget_s:
            self.model.stop_training = True


BATCHING = {"padded": gpt_lab.padded_batches, "packed": gpt_lab.packed_batches, "length": cpu_training.length_batches}


def batches_for(pipeline: dict, train_ids: np.ndarray, shift):
    return BATCHING[pipeline["batching"]](train_ids, shift, pipeline["batch_size"], seed=SEED)


def real_tokens_per_batch(pipeline: dict, train_ids: np.ndarray) -> float:
    """Real (non-padding) target tokens in an average batch."""
    if pipeline["batching"] == "packed":
        return pipeline["batch_size"] * (train_ids.shape[1] - 1)
    return pipeline["batch_size"] * float(np.mean(np.sum(train_ids[:, 1:] != 0, axis=1)))


def window(pipeline: dict, train_ids: np.ndarray) -> float:
    """Positions per row of an average batch (padding included: the model computes them)."""
    if pipeline["batching"] == "length":
        return float(np.mean(cpu_training.length_buckets(train_ids) - 1))
    return float(REFERENCE["max_len"])


def compiled_model(pipeline: dict, definitions: dict):
    import keras

    runtime.seed_everything(SEED)
    with cpu_training.precision(pipeline["precision"]):
        model, _ = definitions["build_gpt"](**REFERENCE)
    if pipeline["optimizer"] == "seed":
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=pipeline["jit_compile"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def train_pipeline(name: str, pipeline: dict, definitions: dict, train_ids, validation, budget_s, eval_every_s):
    if pipeline["precision"] == "auto":
        pipeline = dict(pipeline, precision=cpu_training.fastest_precision())
    model = compiled_model(pipeline, definitions)
    peak_before = matmul_peak(pipeline["precision"])
    clock = Clock(model, validation, budget_s, eval_every_s, real_tokens_per_batch(pipeline, train_ids))
    print(f"{name}: {pipeline}", flush=True)
    model.fit(batches_for(pipeline, train_ids, definitions["shift_inputs_targets"]).repeat(), epochs=1,
              steps_per_epoch=10**9, callbacks=[clock.callback], verbose=0)
    peak_after = matmul_peak(pipeline["precision"])
    positions = window(pipeline, train_ids)
    flops = training_flops_per_position(REFERENCE, positions) * pipeline["batch_size"] * positions * clock.steps
    achieved, peak = flops / clock.trained_s, (peak_before + peak_after) / 2
    return dict(pipeline, curve=clock.curve, steps=clock.steps, trained_s=round(clock.trained_s, 1),
                real_tokens_per_s=round(clock.tokens / clock.trained_s), achieved_flops=achieved,
                matmul_peak_flops=peak, matmul_peak_before_after=[peak_before, peak_after],
                share_of_peak=round(achieved / peak, 3), final_validation_loss=clock.curve[-1][2])


def time_to_reach(curve, target: float) -> float | None:
    """Training seconds at which the validation loss first reaches ``target`` (linear between points)."""
    previous = (0.0, None, float("inf"))
    for point in curve:
        if point[2] <= target:
            if previous[2] == float("inf"):
                return point[0]
            fraction = (previous[2] - target) / (previous[2] - point[2])
            return round(previous[0] + fraction * (point[0] - previous[0]), 1)
        previous = point
    return None


def prepare(reviews_limit: int | None, validation_reviews: int, shift):
    """Training ids, (inputs, targets) of the validation reviews by the notebook's shift, and the review count."""
    reviews = data.load_reviews(limit=reviews_limit, seed=SEED)
    train_texts, validation_texts = data.train_validation_split(reviews, validation_fraction=0.1, seed=SEED)
    vectorizer = gpt_lab.make_vectorizer(train_texts, REFERENCE["vocab_size"], REFERENCE["max_len"])
    validation_ids = gpt_lab.to_ids(vectorizer, validation_texts[:validation_reviews])
    return gpt_lab.to_ids(vectorizer, train_texts), shift(validation_ids), len(reviews)


def compare(args) -> dict:
    definitions = notebook_definitions()
    train_ids, validation, reviews = prepare(args.reviews, args.validation_reviews, definitions["shift_inputs_targets"])
    print(f"{reviews:,} reviews; padding share of the seed's batches: {gpt_lab.padding_share(train_ids):.0%}")
    results = {name: train_pipeline(name, PIPELINES[name], definitions, train_ids, validation,
                                    args.minutes * 60, args.eval_every)
               for name in ["seed", *(n for n in args.pipelines if n != "seed")]}
    target = results["seed"]["final_validation_loss"]
    for result in results.values():
        result.update(seconds_to_seed_final_loss=time_to_reach(result["curve"], target))
    seed_time = results["seed"]["seconds_to_seed_final_loss"]
    ratios = {name: None if result["seconds_to_seed_final_loss"] is None
              else round(result["seconds_to_seed_final_loss"] / seed_time, 3) for name, result in results.items()}
    return dict(
        reviews=reviews, train_rows=len(train_ids), validation_reviews=len(validation[0]),
        budget_minutes=args.minutes, target_validation_loss=target,
        wall_time_ratio_to_seed=ratios, pipelines=results,
    )


def reference_run(args) -> dict:
    definitions = notebook_definitions()
    train_ids, validation, reviews = prepare(args.reviews, args.validation_reviews, definitions["shift_inputs_targets"])
    model = compiled_model(SEED_PIPELINE, definitions)
    history = gpt_lab.train(model, batches_for(SEED_PIPELINE, train_ids, definitions["shift_inputs_targets"]),
                            validation, epochs=args.epochs, verbose=True)
    return dict(reviews=reviews, epochs=args.epochs, history=history,
                seed_course_training_loss={"epoch 1": 2.60, "epoch 5": 1.82})


def cpu_model() -> dict:
    """The CPU's name and its bfloat16 instructions, from /proc/cpuinfo (Linux; empty elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in info.splitlines() if ":" in line)}
    flags = fields.get("flags", "").split()
    return dict(cpu=fields.get("model name", ""), bfloat16_instructions=[f for f in flags if "bf16" in f])


def machine() -> dict:
    import tensorflow as tf

    return dict(platform=platform.platform(), processor=platform.processor() or platform.machine(),
                cpus=os.cpu_count(), load_average_at_end=os.getloadavg(), tensorflow=tf.__version__,
                gpus=[d.name for d in tf.config.list_physical_devices("GPU")], **cpu_model())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="training time per pipeline (default 4)")
    parser.add_argument("--eval-every", type=float, default=20.0, help="seconds of training between evaluations")
    parser.add_argument("--reviews", type=int, default=None, help="use at most this many reviews (default: all)")
    parser.add_argument("--validation-reviews", type=int, default=300)
    parser.add_argument("--pipelines", nargs="+", default=DEFAULT_PIPELINES, choices=list(PIPELINES),
                        help=f"pipelines to compare with the seed's (default: {' '.join(DEFAULT_PIPELINES)})")
    parser.add_argument("--reference-run", action="store_true", help="the seed's full configuration and epochs")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the reference run")
    args = parser.parse_args(argv)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = reference_run(args) if args.reference_run else compare(args)
    result.update(machine=machine(), started=started)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / ("gpt_reference_run.json" if args.reference_run else "gpt_training.json")
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("pipelines", "history")}, indent=2))
    print(f"Written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
