"""Wrong answers the hidden tests of Unit 6 must catch (never released to students).

For each solution cell (by nbgrader grade_id): plausible student mistakes, each
written as text edits of the reference solution, (old, new) pairs applied in
order. tests/test_contract.py checks that every edit applies and that every
mutant fails at least one of the exercise's tests.
"""

MUTANTS = {
    "log_probs": {
        "logits and tokens not shifted": [("log_probs = torch.log_softmax(logits[:, :-1], dim=-1)",
                                           "log_probs = torch.log_softmax(logits[:, 1:], dim=-1)")],
        "log of a softmax (overflows for large logits)": [
            ("log_probs = torch.log_softmax(logits[:, :-1], dim=-1)",
             "log_probs = torch.log(torch.exp(logits[:, :-1]) / torch.exp(logits[:, :-1]).sum(-1, keepdim=True))")],
        "mask not shifted with the tokens": [("torch.as_tensor(response_mask, dtype=torch.bool)[:, 1:]",
                                              "torch.as_tensor(response_mask, dtype=torch.bool)[:, :-1]")],
        "the prompt counts too": [("return torch.where(in_response, per_token, torch.zeros_like(per_token)).sum(dim=1)",
                                   "return per_token.sum(dim=1)")],
        "mean instead of sum": [("return torch.where(in_response, per_token, torch.zeros_like(per_token)).sum(dim=1)",
                                 "return torch.where(in_response, per_token, torch.zeros_like(per_token)).mean(dim=1)")],
        'logits via torch.from_numpy (nested lists fail)': [
            ('logits = torch.as_tensor(logits, dtype=torch.float32)',
             'logits = (logits if torch.is_tensor(logits) else torch.from_numpy(logits)).float()')],
        'returns a Python list of floats': [
            ('return torch.where(in_response, per_token, torch.zeros_like(per_token)).sum(dim=1)',
             'return [float(x) for x in torch.where(in_response, per_token, torch.zeros_like(per_token)).sum(dim=1)]')],
    },
    "reward_model_loss": {
        "rejected minus chosen": [("logsigmoid(chosen - rejected)", "logsigmoid(rejected - chosen)")],
        "sum instead of mean": [("logsigmoid(chosen - rejected).mean()", "logsigmoid(chosen - rejected).sum()")],
        "log of a sigmoid (infinite for large differences)": [
            ("-torch.nn.functional.logsigmoid(chosen - rejected).mean()",
             "-torch.log(torch.sigmoid(chosen - rejected)).mean()")],
        "no shape check (broadcasts)": [("    if chosen.shape != rejected.shape:\n", "    if False:\n")],
        'returns a Python float (.item())': [
            ('logsigmoid(chosen - rejected).mean()',
             'logsigmoid(chosen - rejected).mean().item()')],
        'NumPy float64 scalar (no autograd)': [
            ('    return -torch.nn.functional.logsigmoid(chosen - rejected).mean()',
             '    return np.logaddexp(0.0, -(chosen - rejected).numpy().astype(float)).mean()')],
    },
    "kl_penalised_rewards": {
        "score on the first response token": [
            ("last = torch.where(in_response, torch.arange(in_response.shape[1]), -1).max(dim=1).values",
             "last = torch.where(in_response, torch.arange(in_response.shape[1]), in_response.shape[1]).min(dim=1).values")],
        "penalty with the wrong sign": [("-kl_coef * (policy - reference)", "kl_coef * (policy - reference)")],
        "penalty outside the response too": [
            ("rewards = torch.where(in_response, -kl_coef * (policy - reference), torch.zeros_like(policy))",
             "rewards = -kl_coef * (policy - reference)")],
        "score added at every response token": [
            ("rewards[rows, last] = rewards[rows, last] + torch.as_tensor(scores, dtype=torch.float32)",
             "rewards = rewards + torch.as_tensor(scores, dtype=torch.float32)[:, None] * in_response")],
        "no error for a row without a response": [("    if (last < 0).any():\n", "    if False:\n")],
        'last token = first + count - 1 (assumes one contiguous run)': [
            ('last = torch.where(in_response, torch.arange(in_response.shape[1]), -1).max(dim=1).values',
             ('first = torch.where(in_response, torch.arange(in_response.shape[1]), in_response.shape[1]).min(dim=1).values\n'
              '    last = torch.where(in_response.any(dim=1), first + in_response.sum(dim=1) - 1, -1)'))],
        'penalty masked by multiplication (inf/nan outside would leak)': [
            ('rewards = torch.where(in_response, -kl_coef * (policy - reference), torch.zeros_like(policy))',
             'rewards = -kl_coef * (policy - reference) * in_response')],
    },
    "gae_advantages": {
        "done flags ignored in the bootstrap": [
            ("delta = rewards[:, t] + gamma * continues[:, t] * next_value - values[:, t]",
             "delta = rewards[:, t] + gamma * next_value - values[:, t]")],
        "done flags ignored in the recursion": [
            ("next_advantage = delta + gamma * lam * continues[:, t] * next_advantage",
             "next_advantage = delta + gamma * lam * next_advantage")],
        "λ without γ": [("next_advantage = delta + gamma * lam * continues[:, t] * next_advantage",
                         "next_advantage = delta + lam * continues[:, t] * next_advantage")],
        "returns are the advantages": [("return advantages, advantages + values", "return advantages, advantages")],
        "forward instead of backward": [("for t in reversed(range(rewards.shape[1])):",
                                         "for t in range(rewards.shape[1]):")],
        'default lam = 1.0': [
            ('gamma=1.0, lam=0.95):',
             'gamma=1.0, lam=1.0):')],
        'default gamma = 0.99': [
            ('gamma=1.0, lam=0.95):',
             'gamma=0.99, lam=0.95):')],
    },
    "ppo_losses": {
        "max instead of min (optimistic bound)": [("surrogate = torch.minimum(", "surrogate = torch.maximum(")],
        "loss not negated": [("return -masked_mean(surrogate, mask), masked_mean(clipped, mask)",
                              "return masked_mean(surrogate, mask), masked_mean(clipped, mask)")],
        "mean over every token, mask ignored": [
            ("return torch.where(mask, values, torch.zeros_like(values)).sum() / mask.sum()",
             "return values.mean()")],
        "clip fraction counts only ratios above 1 + ε": [("clipped = ((ratio - 1).abs() > clip_range).float()",
                                                          "clipped = (ratio > 1 + clip_range).float()")],
        "value loss keeps the smaller error": [
            ("torch.maximum((new - returns) ** 2, (clipped - returns) ** 2)",
             "torch.minimum((new - returns) ** 2, (clipped - returns) ** 2)")],
        "value loss without the ½": [("return 0.5 * masked_mean(", "return masked_mean(")],
        'clip fraction counts |ratio - 1| >= eps': [
            ('clipped = ((ratio - 1).abs() > clip_range).float()',
             'clipped = ((ratio - 1).abs() >= clip_range).float()')],
        'zeroes returns and old values outside the mask, in place': [
            (('    old = torch.as_tensor(old_values, dtype=torch.float32)\n'
              '    returns = torch.as_tensor(returns, dtype=torch.float32)\n'),
             ('    outside = ~torch.as_tensor(mask, dtype=torch.bool)\n'
              '    old = torch.as_tensor(old_values)\n'
              '    returns = torch.as_tensor(returns)\n'
              '    old[outside] = 0.0\n'
              '    returns[outside] = 0.0\n'
              '    old, returns = old.float(), returns.float()\n'))],
        'Python floats (.item())': [
            ('return -masked_mean(surrogate, mask), masked_mean(clipped, mask)',
             'return -masked_mean(surrogate, mask).item(), masked_mean(clipped, mask).item()'),
            ('return 0.5 * masked_mean(torch.maximum((new - returns) ** 2, (clipped - returns) ** 2), mask)',
             'return 0.5 * masked_mean(torch.maximum((new - returns) ** 2, (clipped - returns) ** 2), mask).item()')],
        'default clip_range 0.1 for the policy': [
            ('def clipped_policy_loss(new_log_probs, old_log_probs, advantages, mask, clip_range=0.2):',
             'def clipped_policy_loss(new_log_probs, old_log_probs, advantages, mask, clip_range=0.1):')],
    },
    "dpo_loss": {
        "reference minus policy": [
            ("chosen_rewards = beta * (torch.as_tensor(policy_chosen, dtype=torch.float32)\n"
             "                             - torch.as_tensor(reference_chosen, dtype=torch.float32))",
             "chosen_rewards = beta * (torch.as_tensor(reference_chosen, dtype=torch.float32)\n"
             "                             - torch.as_tensor(policy_chosen, dtype=torch.float32))"),
            ("rejected_rewards = beta * (torch.as_tensor(policy_rejected, dtype=torch.float32)\n"
             "                               - torch.as_tensor(reference_rejected, dtype=torch.float32))",
             "rejected_rewards = beta * (torch.as_tensor(reference_rejected, dtype=torch.float32)\n"
             "                               - torch.as_tensor(policy_rejected, dtype=torch.float32))")],
        "β left out of the rewards": [("chosen_rewards = beta * (", "chosen_rewards = ("),
                                      ("rejected_rewards = beta * (", "rejected_rewards = (")],
        "log of a sigmoid (infinite for large differences)": [
            ("loss = -torch.nn.functional.logsigmoid(chosen_rewards - rejected_rewards).mean()",
             "loss = -torch.log(torch.sigmoid(chosen_rewards - rejected_rewards)).mean()")],
        "chosen and rejected swapped in the loss": [
            ("logsigmoid(chosen_rewards - rejected_rewards)", "logsigmoid(rejected_rewards - chosen_rewards)")],
        'default beta = 0.5': [
            ('reference_rejected, beta=0.1):',
             'reference_rejected, beta=0.5):')],
        'differences computed in place on the inputs': [
            (('    chosen_rewards = beta * (torch.as_tensor(policy_chosen, dtype=torch.float32)\n'
              '                             - torch.as_tensor(reference_chosen, dtype=torch.float32))\n'
              '    rejected_rewards = beta * (torch.as_tensor(policy_rejected, dtype=torch.float32)\n'
              '                               - torch.as_tensor(reference_rejected, dtype=torch.float32))\n'),
             ('    chosen, rejected = torch.as_tensor(policy_chosen), torch.as_tensor(policy_rejected)\n'
              '    chosen -= torch.as_tensor(reference_chosen)\n'
              '    rejected -= torch.as_tensor(reference_rejected)\n'
              '    chosen_rewards, rejected_rewards = beta * chosen.float(), beta * rejected.float()\n'))],
        'loss as a Python float': [
            ('return loss, chosen_rewards.detach(), rejected_rewards.detach()',
             'return loss.item(), chosen_rewards.detach(), rejected_rewards.detach()')],
    },
    "attend_with_cache": {
        "no 1/√head_dim scaling": [("/ math.sqrt(query.shape[-1])", "")],
        "scaled by head_dim instead of its square root": [("/ math.sqrt(query.shape[-1])", "/ query.shape[-1]")],
        "new key put in front of the cache": [
            ("key = torch.cat([torch.as_tensor(cache[0], dtype=torch.float32), key], dim=2)",
             "key = torch.cat([key, torch.as_tensor(cache[0], dtype=torch.float32)], dim=2)"),
            ("value = torch.cat([torch.as_tensor(cache[1], dtype=torch.float32), value], dim=2)",
             "value = torch.cat([value, torch.as_tensor(cache[1], dtype=torch.float32)], dim=2)")],
        "the new position does not attend to itself": [
            ("    scores = (key @ query[..., None]).squeeze(-1) / math.sqrt(query.shape[-1])\n"
             "    weights = torch.softmax(scores, dim=-1)\n"
             "    return (weights[:, :, None, :] @ value).squeeze(2), (key, value)",
             "    past = key[:, :, :-1] if key.shape[2] > 1 else key\n"
             "    past_values = value[:, :, :-1] if value.shape[2] > 1 else value\n"
             "    scores = (past @ query[..., None]).squeeze(-1) / math.sqrt(query.shape[-1])\n"
             "    weights = torch.softmax(scores, dim=-1)\n"
             "    return (weights[:, :, None, :] @ past_values).squeeze(2), (key, value)")],
        'keys pre-scaled in place (cache holds k/sqrt(d))': [
            (('    query = torch.as_tensor(query, dtype=torch.float32)\n'
              '    key = torch.as_tensor(key, dtype=torch.float32)[:, :, None, :]\n'
              '    value = torch.as_tensor(value, dtype=torch.float32)[:, :, None, :]\n'),
             ('    query = torch.as_tensor(query, dtype=torch.float64)\n'
              '    key = torch.as_tensor(key, dtype=torch.float64)\n'
              '    key /= math.sqrt(query.shape[-1])  # scale once, when the key is made\n'
              '    key = key[:, :, None, :]\n'
              '    value = torch.as_tensor(value, dtype=torch.float64)[:, :, None, :]\n')),
            ('torch.as_tensor(cache[0], dtype=torch.float32)',
             'torch.as_tensor(cache[0], dtype=torch.float64)'),
            ('torch.as_tensor(cache[1], dtype=torch.float32)',
             'torch.as_tensor(cache[1], dtype=torch.float64)'),
            ('scores = (key @ query[..., None]).squeeze(-1) / math.sqrt(query.shape[-1])',
             'scores = (key @ query[..., None]).squeeze(-1)')],
        'new cache returned as a list': [
            ('(key, value)\n',
             '[key, value]\n')],
        'only a tuple counts as a cache (a list is ignored)': [
            ('if cache is not None:',
             'if isinstance(cache, tuple):')],
    },
}
