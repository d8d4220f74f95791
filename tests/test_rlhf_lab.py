"""Unit 6's helpers, and its reference solutions checked against TRL (Hugging Face's RLHF library), Hugging Face's
GPT-2 and textbook loops that compute the same thing."""

import copy
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from course import data, rlhf_lab

SOURCE = Path(__file__).resolve().parents[1] / "source" / "06_rlhf" / "rlhf.ipynb"


def reference_solution(grade_id: str) -> dict:
    """The namespace after running one answer cell of the source notebook (the reference solution)."""
    for cell in json.loads(SOURCE.read_text())["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            namespace = {"np": np, "torch": torch, "math": math}
            exec(compile("".join(cell["source"]), f"<{grade_id}>", "exec"), namespace)
            return namespace
    raise LookupError(grade_id)


@pytest.fixture(scope="module")
def reviews():
    return data.review_records(800)


@pytest.fixture(scope="module")
def tokenizer(reviews):
    texts = [review.description for review in reviews] + [rlhf_lab.prompt_of(review) for review in reviews]
    return rlhf_lab.train_tokenizer(texts, 300)


@pytest.fixture(scope="module")
def pairs(reviews):
    return rlhf_lab.preference_pairs(reviews, min_gap=4, rng=np.random.default_rng(0))


TINY = dict(n_layer=1, n_embd=32, n_head=2, n_positions=256)  # a 300-token BPE needs ~4 tokens a word


def tiny_gpt2(tokenizer, seed=0):
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(rlhf_lab.small_gpt2_config(tokenizer, **TINY)).eval()


def perturbed(model, scale=0.05, seed=1):
    """A copy of ``model`` with noise on every weight: a policy that has moved away from its reference."""
    moved = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in moved.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return moved


def short(text, words=12):
    return " ".join(text.split()[:words])


# --- preference pairs and batches ------------------------------------------------------------------------------

def test_preference_pairs_share_a_prompt_and_the_chosen_review_has_more_points(reviews, pairs):
    by_description = {review.description: review for review in reviews}
    assert len(pairs) > 20
    for pair in pairs:
        chosen, rejected = by_description[pair.chosen], by_description[pair.rejected]
        assert rlhf_lab.prompt_of(chosen) == rlhf_lab.prompt_of(rejected) == pair.prompt
        assert pair.points == (chosen.points, rejected.points)
        assert chosen.points - rejected.points >= 4
    assert max(Counter(pair.chosen for pair in pairs).values()) <= 2, "each review starts at most per_review pairs"
    assert len({pair.prompt for pair in pairs}) > 5


def test_preference_pairs_are_the_same_for_the_same_seed_and_respect_a_larger_gap(reviews, pairs):
    assert rlhf_lab.preference_pairs(reviews, 4, np.random.default_rng(0)) == pairs
    assert rlhf_lab.preference_pairs(reviews, 4, np.random.default_rng(1)) != pairs
    wide = rlhf_lab.preference_pairs(reviews, 8, np.random.default_rng(0), per_review=1)
    assert 0 < len(wide) < len(pairs)
    assert all(chosen - rejected >= 8 for chosen, rejected in (pair.points for pair in wide))


def test_prompt_response_batch_masks_exactly_the_response_and_its_end_token(tokenizer, pairs):
    prompts = [pair.prompt for pair in pairs[:4]]
    responses = [short(pair.chosen, words) for pair, words in zip(pairs[:4], (3, 12, 6, 40))]
    batch = rlhf_lab.prompt_response_batch(tokenizer, prompts, responses, max_response=24)
    ids, attention, response = batch["input_ids"], batch["attention_mask"], batch["response_mask"]
    assert ids.shape == attention.shape == response.shape and response.dtype == torch.bool
    for row, (prompt, text) in enumerate(zip(prompts, responses)):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        text_ids = tokenizer(text, add_special_tokens=False)["input_ids"][:23] + [tokenizer.eos_token_id]
        length = len(prompt_ids) + len(text_ids)
        assert ids[row, :length].tolist() == prompt_ids + text_ids
        assert response[row].tolist() == [False] * len(prompt_ids) + [True] * len(text_ids) + [False] * (
            ids.shape[1] - length)
        assert attention[row].tolist() == [1] * length + [0] * (ids.shape[1] - length)
        assert (ids[row, length:] == tokenizer.pad_token_id).all()
        assert tokenizer.decode(ids[row, :len(prompt_ids)]).strip() == prompt
    assert tokenizer.decode(ids[0][response[0]], skip_special_tokens=True).strip() == responses[0]
    assert response[3].sum() == 24, "a long response is cut to max_response tokens, its end token included"


def test_word_effects_are_the_mean_score_of_the_reviews_using_a_word_less_the_overall_mean():
    texts = ["Cherry and oak.", "Cherry, oak and smoke.", "Thin and sour.", "Sour and thin-bodied.", "Cherry!"]
    reviews = [data.Review(text, "Italy", "Tuscany", "Sangiovese", 90) for text in texts]
    scores = [4.0, 6.0, -2.0, -4.0, 1.0]
    effects = dict(rlhf_lab.word_effects(reviews, scores, min_reviews=2))
    assert set(effects) == {"cherry", "oak", "and", "sour"}, "thin and thin-bodied are different words; smoke is rare"
    assert effects["cherry"] == pytest.approx(11 / 3 - 1) and effects["oak"] == pytest.approx(5 - 1)
    assert effects["and"] == pytest.approx(1 - 1) and effects["sour"] == pytest.approx(-3 - 1)
    assert [word for word, _ in rlhf_lab.word_effects(reviews, scores, min_reviews=2)] == ["oak", "cherry", "and",
                                                                                             "sour"]


# --- sampling, caching and training ----------------------------------------------------------------------------

def test_sampling_with_the_key_value_cache_draws_the_same_tokens_as_without(tokenizer, pairs):
    model = tiny_gpt2(tokenizer)
    prompts = [pair.prompt for pair in pairs[:3]]
    cached = rlhf_lab.sample(model, tokenizer, prompts, max_new_tokens=8, seed=5, use_cache=True)
    uncached = rlhf_lab.sample(model, tokenizer, prompts, max_new_tokens=8, seed=5, use_cache=False)
    other_seed = rlhf_lab.sample(model, tokenizer, prompts, max_new_tokens=8, seed=6, use_cache=True)
    assert torch.equal(cached.input_ids, uncached.input_ids)
    assert torch.equal(cached.response_mask, uncached.response_mask)
    assert not torch.equal(cached.input_ids, other_seed.input_ids)
    prompt_width = rlhf_lab.left_padded_prompts(tokenizer, prompts)["input_ids"].shape[1]
    assert cached.input_ids.shape[1] == prompt_width + 8
    assert not cached.response_mask[:, :prompt_width].any() and cached.response_mask[:, prompt_width].all()
    assert len(cached.texts(tokenizer)) == 3 and all(cached.texts(tokenizer))


def test_positions_start_at_zero_on_the_first_real_token():
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert rlhf_lab.positions(mask).tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4]]


def test_train_or_load_saves_the_weights_and_history_and_reloads_them(tokenizer, reviews, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    path = rlhf_lab.cache_path("policy", {"steps": 3})
    assert path.parent == tmp_path and path != rlhf_lab.cache_path("policy", {"steps": 4})
    batches = rlhf_lab.language_model_batches(tokenizer, [r.description for r in reviews[:50]], 4, 24, seed=0)
    calls = []

    def train_once(model):
        calls.append(model)
        return rlhf_lab.train(model.parameters(), lambda step: model(**batches(step)).loss, steps=3, every=1)

    trained = tiny_gpt2(tokenizer).train()
    history = rlhf_lab.train_or_load(trained, path, lambda: train_once(trained))
    assert path.exists() and history.steps == [1, 2, 3] and len(history.values["loss"]) == 3

    fresh = tiny_gpt2(tokenizer, seed=1)
    reloaded = rlhf_lab.train_or_load(fresh, path, lambda: train_once(fresh))
    assert calls == [trained], "the second call loads instead of training"
    assert reloaded.values == history.values
    for name, weight in trained.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], weight), name

    from transformers import GPT2LMHeadModel
    wider = GPT2LMHeadModel(rlhf_lab.small_gpt2_config(tokenizer, **{**TINY, "n_embd": 64}))
    rlhf_lab.train_or_load(wider, path, lambda: train_once(wider))
    assert calls[-1] is wider, "weights that do not fit the model are trained again"


# --- reference solutions against TRL -----------------------------------------------------------------------------

@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_reference_dpo_loss_equals_trl_dpo_trainer(tokenizer, pairs, tmp_path, beta):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    solution = reference_solution("log_probs") | reference_solution("dpo_loss")
    sequence_log_prob, dpo_loss = solution["sequence_log_prob"], solution["dpo_loss"]
    reference = tiny_gpt2(tokenizer)
    policy = perturbed(reference)
    chosen_texts = [short(pair.chosen, 8 + 3 * i) for i, pair in enumerate(pairs[:4])]
    rejected_texts = [short(pair.rejected, 14 - 2 * i) for i, pair in enumerate(pairs[:4])]
    prompts = [pair.prompt for pair in pairs[:4]]

    def log_probs(model, responses):
        batch = rlhf_lab.prompt_response_batch(tokenizer, prompts, responses, max_response=150)
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return sequence_log_prob(logits, batch["input_ids"], batch["response_mask"]), batch

    policy_chosen, chosen_batch = log_probs(policy, chosen_texts)
    policy_rejected, _ = log_probs(policy, rejected_texts)
    reference_chosen, _ = log_probs(reference, chosen_texts)
    reference_rejected, _ = log_probs(reference, rejected_texts)
    loss, chosen_rewards, rejected_rewards = dpo_loss(policy_chosen, policy_rejected, reference_chosen,
                                                      reference_rejected, beta=beta)

    dataset = Dataset.from_dict({"prompt": prompts, "chosen": [" " + text for text in chosen_texts],
                                 "rejected": [" " + text for text in rejected_texts]})
    # TRL's configs default to bf16 mixed precision, even on a CPU: the reference model would then score in bf16
    args = DPOConfig(output_dir=str(tmp_path), beta=beta, loss_type=["sigmoid"], bf16=False, use_cpu=True,
                     report_to="none", per_device_train_batch_size=4)
    trainer = DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=dataset,
                         processing_class=tokenizer)
    rows = [trainer.train_dataset[i] for i in range(4)]
    for row, ids, mask in zip(rows, chosen_batch["input_ids"], chosen_batch["response_mask"]):
        assert row["prompt_ids"] + row["chosen_ids"] == ids[:len(row["prompt_ids"]) + len(row["chosen_ids"])].tolist()
        assert mask.sum() == len(row["chosen_ids"]), "TRL scores the same tokens, the end token included"
    with torch.no_grad():
        theirs = trainer.compute_loss(trainer.model, trainer.data_collator(rows))
    metrics = trainer._metrics["eval"]

    assert abs(loss.item() - math.log(2)) > 1e-3, "the policy has moved away from the reference"
    assert loss.item() == pytest.approx(theirs.item(), abs=1e-5)
    assert chosen_rewards.mean().item() == pytest.approx(metrics["rewards/chosen"][-1], abs=1e-5)
    assert rejected_rewards.mean().item() == pytest.approx(metrics["rewards/rejected"][-1], abs=1e-5)
    assert policy_chosen.mean().item() == pytest.approx(metrics["logps/chosen"][-1], rel=1e-5)
    assert (chosen_rewards > rejected_rewards).float().mean().item() == metrics["rewards/accuracies"][-1]


def test_reference_reward_model_loss_equals_trl_reward_trainer(tokenizer, pairs, tmp_path):
    from datasets import Dataset
    from transformers import GPT2ForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    reward_model_loss = reference_solution("reward_model_loss")["reward_model_loss"]
    torch.manual_seed(0)
    config = rlhf_lab.small_gpt2_config(tokenizer, **TINY, num_labels=1)
    model = GPT2ForSequenceClassification(config).eval()
    with torch.no_grad():
        model.score.weight.normal_(0, 1.0)  # rewards far enough apart that the loss is not ln 2

    def ids(prompt, response, words):
        return tokenizer(prompt + " " + short(response, words), add_special_tokens=False)["input_ids"] + [
            tokenizer.eos_token_id]

    chosen = [ids(pair.prompt, pair.chosen, 5 + 4 * i) for i, pair in enumerate(pairs[:6])]
    rejected = [ids(pair.prompt, pair.rejected, 20 - 3 * i) for i, pair in enumerate(pairs[:6])]

    def rewards(rows):
        width = max(map(len, rows))
        input_ids = torch.tensor([row + [tokenizer.pad_token_id] * (width - len(row)) for row in rows])
        attention = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
        with torch.no_grad():
            return model(input_ids=input_ids, attention_mask=attention).logits.squeeze(-1)

    ours = reward_model_loss(rewards(chosen), rewards(rejected))

    dataset = Dataset.from_dict({"chosen_ids": chosen, "rejected_ids": rejected})
    args = RewardConfig(output_dir=str(tmp_path), bf16=False, use_cpu=True, report_to="none",
                        per_device_train_batch_size=6, center_rewards_coefficient=None)
    trainer = RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    with torch.no_grad():
        theirs = trainer.compute_loss(trainer.model, batch)

    assert abs(ours.item() - math.log(2)) > 1e-2
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)
    margin = (rewards(chosen) - rewards(rejected)).mean().item()
    assert margin == pytest.approx(trainer._metrics["eval"]["margin"][-1], abs=1e-5)
    with pytest.raises(ValueError):
        reward_model_loss(torch.zeros(3), torch.zeros(4))


# --- reference solutions against textbook loops and GPT-2 ----------------------------------------------------

def textbook_gae(rewards, values, dones, gamma, lam):
    """GAE one step at a time: delta_t = r_t + gamma V_(t+1) (1 - done_t) - V_t, A_t = delta_t + gamma lam
    (1 - done_t) A_(t+1), nothing bootstrapped after the last step."""
    rows, steps = len(rewards), len(rewards[0])
    advantages = [[0.0] * steps for _ in range(rows)]
    for row in range(rows):
        following = 0.0
        for t in reversed(range(steps)):
            carry = 0.0 if dones[row][t] else 1.0
            next_value = values[row][t + 1] if t + 1 < steps else 0.0
            delta = rewards[row][t] + gamma * next_value * carry - values[row][t]
            following = delta + gamma * lam * carry * following
            advantages[row][t] = following
    return np.array(advantages)


@pytest.mark.parametrize("gamma, lam", [(1.0, 0.95), (0.9, 0.8), (0.0, 0.95), (0.99, 1.0)])
def test_reference_gae_equals_the_textbook_loop(gamma, lam):
    gae_advantages = reference_solution("gae_advantages")["gae_advantages"]
    rng = np.random.default_rng(int(gamma * 100 + lam * 10))
    rewards, values = rng.normal(size=(4, 9)), rng.normal(size=(4, 9))
    dones = np.zeros((4, 9), dtype=bool)
    dones[0, 3] = dones[1, 5] = dones[1, 6] = dones[2, 8] = True
    advantages, returns = gae_advantages(rewards, values, dones, gamma=gamma, lam=lam)
    expected = textbook_gae(rewards.tolist(), values.tolist(), dones.tolist(), gamma, lam)
    np.testing.assert_allclose(advantages.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(returns.numpy(), expected + values, atol=1e-5)
    if gamma == 0.0:
        np.testing.assert_allclose(advantages.numpy(), rewards - values, atol=1e-6)
    if lam == 1.0:  # the Monte Carlo return to the episode's end, less the value
        t, end = 0, 3  # row 0: the first episode is steps 0..3
        discounted = sum(gamma ** (k - t) * rewards[0, k] for k in range(t, end + 1))
        assert advantages[0, t].item() == pytest.approx(discounted - values[0, t], abs=1e-5)


def full_causal_attention(q, k, v):
    """softmax(q k^T / sqrt(d)) v with every position attending to itself and the positions before it."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    future = torch.triu(torch.ones(q.shape[-2], q.shape[-2], dtype=torch.bool), diagonal=1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v


def step_through(attend_with_cache, q, k, v):
    """Run attention one position at a time, as generation does, keeping the keys and values in the cache."""
    cache, outputs = None, []
    for t in range(q.shape[2]):
        output, cache = attend_with_cache(q[:, :, t], k[:, :, t], v[:, :, t], cache)
        outputs.append(output)
    return torch.stack(outputs, dim=2), cache


def test_reference_attention_with_cache_equals_full_causal_attention():
    attend_with_cache = reference_solution("attend_with_cache")["attend_with_cache"]
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=generator) for _ in range(3))
    stepped, (keys, values) = step_through(attend_with_cache, q, k, v)
    np.testing.assert_allclose(stepped, full_causal_attention(q, k, v), atol=1e-5)
    np.testing.assert_allclose(stepped, torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
                               atol=1e-5)
    assert torch.equal(keys, k) and torch.equal(values, v), "the cache holds every key and value so far"
    np.testing.assert_allclose(stepped[:, :, 0], v[:, :, 0], atol=1e-6)  # the first position sees only itself


def test_reference_attention_with_cache_equals_the_attention_inside_hugging_face_gpt2(tokenizer):
    attend_with_cache = reference_solution("attend_with_cache")["attend_with_cache"]
    model = tiny_gpt2(tokenizer)
    attention = model.transformer.h[0].attn
    seen = {}
    hooks = [attention.c_attn.register_forward_hook(lambda module, inputs, output: seen.update(qkv=output)),
             attention.c_proj.register_forward_pre_hook(lambda module, inputs: seen.update(merged=inputs[0]))]
    input_ids = torch.tensor([tokenizer("wine review : Italy : Tuscany : Sangiovese : cherry and leather",
                                        add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        output = model(input_ids=input_ids, use_cache=True)
    for hook in hooks:
        hook.remove()
    heads, width = model.config.n_head, model.config.n_embd // model.config.n_head
    q, k, v = (part.view(1, -1, heads, width).transpose(1, 2) for part in seen["qkv"].split(model.config.n_embd, 2))
    stepped, (keys, values) = step_through(attend_with_cache, q, k, v)
    merged = stepped.transpose(1, 2).reshape(1, -1, model.config.n_embd)
    np.testing.assert_allclose(merged, seen["merged"], atol=1e-5)
    cache = output["cache"] if "cache" in output else output.past_key_values  # renamed in transformers 5.x
    np.testing.assert_allclose(keys, cache.layers[0].keys, atol=1e-6)
    np.testing.assert_allclose(values, cache.layers[0].values, atol=1e-6)
