"""The demo's own runs, copied from a live demo run (tiny model on the embedded backend): what fires and
what stays quiet. The values are the demo SFT run's real ``grad_norm`` and ``train_mean_nll`` for steps
0-199 (4 significant digits), as it logged them on this project's demo of 2026-11-30."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.test_alerts_helpers import alerts_for, by_rule, write_rows

GRAD = """
92.58 82.16 77.28 76.26 81.8 103.2 94.65 101.3 94.42 81.65 82.95 92.09 102.7 105.4 102.3 92.67 97.97 95.33
95.13 81.23 78.02 71.37 78.13 74.57 77.19 80.95 76.39 77.71 74.61 71.23 66.75 63.31 63.13 62.92 57.89 62.59
60.62 63.9 71.17 75.52 71.4 67.2 65.49 66.16 57.38 53.02 47.08 42.8 42.5 39.2 48.88 43.14 46.28 44.67 42.85
45.77 43.99 38.73 39.81 37.58 41.91 35.09 32.27 32.8 30.03 31.33 30.44 28.53 29.44 27.17 27.06 29.08 26.99
32.68 25.21 25.52 27.2 27.6 26.13 25.63 25.03 23.96 26.59 26.04 28.28 21.61 31.3 27.05 27.42 29.71 28.41
26.28 27.77 30.32 29.37 22.81 24.02 24.12 25.74 29.65 24.83 22.7 27.44 26.44 25.97 26.32 28.99 22.72 25.13
30.67 29.17 32.25 30.23 33.25 41.79 27.27 29.03 26.96 26.47 26.45 22.77 29.71 25.85 30.83 23.37 27.14 23.38
25.96 21.94 23.52 29.6 35.96 26.58 24.59 30.21 21.9 28.19 23.8 29.13 22.83 26.53 22.6 26.02 28.09 27.36
24.08 25.47 26.01 21.68 29.93 31.07 21.22 28.21 22.81 26.98 45.95 26.43 24.41 22.83 43.5 96.8 37.89 43.99
36.25 29.68 35.9 26.46 30.66 23.26 27.88 36.18 30.31 29.1 26.39 25.37 27.69 23.02 32.64 31.48 23.83 27.4
24.92 21.67 25.4 33.25 27.07 32.67 30.55 42.16 28.25 24.45 18.89 20.57 27.12 20.05 26.73 30.07 29.41 23.87
26.56
"""
NLL = """
10.45 10.37 10.22 9.646 9.505 9.157 9.023 8.885 8.33 8.234 7.934 7.592 7.532 7.24 7.086 6.855 6.5 6.129
5.939 5.608 5.714 5.375 5.479 5.046 5.059 4.94 4.554 4.533 4.402 4.219 4.07 3.953 3.684 3.695 3.371 3.428
3.234 3.116 3.123 2.968 2.843 2.779 2.726 2.726 2.617 2.527 2.423 2.283 2.417 2.346 2.259 2.191 2.202 2.128
2.15 2.128 2.085 1.971 1.984 2.01 1.809 1.923 1.905 1.847 1.737 1.798 1.794 1.615 1.709 1.593 1.671 1.753
1.616 1.589 1.606 1.627 1.5 1.538 1.53 1.53 1.474 1.481 1.482 1.435 1.437 1.403 1.437 1.344 1.378 1.381
1.336 1.34 1.277 1.252 1.269 1.271 1.181 1.248 1.191 1.179 1.171 1.123 1.116 1.084 1.122 1.086 1.13 1.067
1.037 1.116 1.002 1.035 1.024 1.086 1.108 1.025 1.009 1.029 1.001 0.9162 0.9088 0.966 0.8135 0.9066 0.8053
0.8967 0.8717 0.8595 0.8239 0.8378 0.8269 0.8286 0.8123 0.8262 0.8427 0.7317 0.8198 0.8372 0.802 0.7345
0.7972 0.7291 0.7679 0.713 0.7181 0.7174 0.6949 0.742 0.741 0.747 0.6552 0.6628 0.6574 0.6426 0.6287 0.6643
0.6715 0.6304 0.5402 0.5873 0.6364 0.6368 0.7034 0.6374 0.6382 0.608 0.592 0.5767 0.6299 0.5882 0.5849
0.5688 0.5358 0.5742 0.5749 0.5595 0.5467 0.596 0.5677 0.5738 0.5288 0.5538 0.499 0.552 0.5314 0.5555 0.5046
0.5142 0.5924 0.5584 0.4929 0.5065 0.494 0.5231 0.4603 0.5142 0.489 0.4952 0.4831 0.4436
"""


def _sft_run(folder: Path, edit=None) -> Path:
    rows = [
        {"step": i, "grad_norm": float(g), "train_mean_nll": float(n)}
        for i, (g, n) in enumerate(zip(GRAD.split(), NLL.split(), strict=True))
    ]
    if edit:
        edit(rows)
    folder.mkdir(parents=True)
    write_rows(folder / "metrics.jsonl", rows)
    return folder


def test_a_lone_grad_norm_spike_the_loss_ignores_is_a_note_not_a_warning(tmp_path):
    """Step 160: grad_norm 96.8, 3.6x its trailing median (robust z 8.6 on log values), while
    train_mean_nll stays within its noise (0.587, 0.636, 0.637) and goes on falling: Adam absorbed it.
    A warning there would be a false alarm on the steady SFT run."""
    alerts = alerts_for(_sft_run(tmp_path / "sft-arith-chat"))
    assert [a for a in alerts if a.level >= 2] == []
    (note,) = by_rule(alerts, "spike", min_level=1)
    assert (note.metric, note.first_step, note.severity) == ("grad_norm", 160, "info")
    assert "the loss did not move" in note.message


def test_a_grad_norm_spike_with_a_loss_spike_is_critical(tmp_path):
    def co_spike(rows):
        rows[160]["train_mean_nll"] *= 30

    alerts = alerts_for(_sft_run(tmp_path / "sft", co_spike))
    grad = next(a for a in by_rule(alerts, "spike") if a.metric == "grad_norm")
    assert (grad.first_step, grad.severity) == (160, "critical") and "with the loss" in grad.message
    loss = next(a for a in by_rule(alerts, "spike") if a.metric == "train_mean_nll")
    assert (loss.first_step, loss.severity) == (160, "warning")  # one point, z > 8: the co-spike is the crit


# The demo's RL runs, steps 0-39 (max_tokens=8), copied the same way: rl-lr1e-1 (lr too high: entropy
# 13x for one step, then the policy collapses onto one 8-token non-answer) and rl-lr2e-3 (steady).
DEMO_RL = {
    "rl-lr1e-1": {
        "env/all/reward/total": (
            "0.01719 0.04688 -0.1 -0.1 -0.08437 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 "
            "-0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 "
            "-0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 -0.1 "
        ),
        "env/all/correct": (
            "0.0625 0.04688 0 0 0.01562 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
            "0 0 0 0 0 0 "
        ),
        "env/all/format": (
            "0.5469 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
        ),
        "env/all/by_group/frac_mixed": (
            "1 0.125 0 0 0.125 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
        ),
        "env/all/by_group/frac_all_good": (
            "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
        ),
        "env/all/by_group/frac_all_bad": (
            "0 0.875 1 1 0.875 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 "
        ),
        "env/all/ac_tokens_per_turn": (
            "4.719 2.094 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 "
        ),
        "optim/entropy": (
            "0.4801 1.063 6.505 0.5791 0.6519 0.404 0.6118 0.3705 0.151 0.2395 0.5226 0.6695 "
            "0.6114 0.265 0.04187 0.0003377 3.129e-05 3.887e-06 6.873e-07 1.192e-07 -0 -0 -0 -0 "
            "-0 -0 -0 -0 -0 -0 -0 -0 -0 -0 -0 -0 -0 -0 -0 -0 "
        ),
        "optim/kl_sample_train_v1": (
            "2.056e-07 1.296e-07 -6.333e-08 -1.029e-07 2.377e-07 3.105e-08 1.86e-08 -6.164e-08 "
            "3.196e-08 1.798e-07 1.924e-07 3.473e-07 2.797e-07 2.683e-07 -1.74e-07 -9.385e-08 "
            "8.983e-07 -3.887e-06 -6.873e-07 -1.192e-07 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
        ),
        "grad_norm": (
            "33.2 73.6 4.59e-06 3.902e-06 153.6 3.04e-06 1.864e-06 8.333e-06 3.961e-06 1.614e-06 "
            "3.796e-06 8.418e-06 7.379e-06 7.52e-06 1.169e-06 2.215e-07 2.073e-08 2.273e-09 "
            "4.502e-10 8.861e-11 1.878e-11 4.807e-12 1.223e-12 3.698e-13 1.218e-13 4.304e-14 "
            "1.611e-14 7.326e-15 4.24e-15 2.63e-15 1.234e-15 1.113e-15 7.3e-16 1.496e-15 "
            "6.409e-16 4.738e-15 4.015e-15 6.23e-15 2.245e-14 3.468e-14 "
        ),
    },
    "rl-lr2e-3": {
        "env/all/reward/total": (
            "-0.01719 0.025 0.1422 0.02187 0.07656 0.1875 0.1719 0.2797 0.07812 0.1875 0.1703 "
            "0.03125 0.1875 0.25 0.1562 0.2344 0.2031 0.1562 0.1562 0.1406 0.1719 0.1562 0.0625 "
            "0.1875 0.3438 0.1562 0.2344 0.2812 0.3906 0.25 0.2031 0.1094 0.3125 0.2188 0.2969 "
            "0.2812 0.1406 0.2344 0.125 0.1406 "
        ),
        "env/all/correct": (
            "0.03125 0.07812 0.1875 0.0625 0.09375 0.1875 0.1719 0.2812 0.07812 0.1875 0.1719 "
            "0.03125 0.1875 0.25 0.1562 0.2344 0.2031 0.1562 0.1562 0.1406 0.1719 0.1562 0.0625 "
            "0.1875 0.3438 0.1562 0.2344 0.2812 0.3906 0.25 0.2031 0.1094 0.3125 0.2188 0.2969 "
            "0.2812 0.1406 0.2344 0.125 0.1406 "
        ),
        "env/all/format": (
            "0.5156 0.4688 0.5469 0.5938 0.8281 1 1 0.9844 1 1 0.9844 1 1 1 1 1 1 1 1 1 1 1 1 1 1 "
            "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 "
        ),
        "env/all/by_group/frac_mixed": (
            "1 1 1 1 0.75 0.75 0.75 0.875 0.5 0.75 0.875 0.125 0.625 0.875 0.5 0.875 0.625 0.5 "
            "0.625 0.75 0.75 0.75 0.375 0.625 0.75 0.75 0.75 0.875 1 0.625 0.75 0.375 0.625 0.75 "
            "0.625 0.875 0.375 0.625 0.5 0.5 "
        ),
        "env/all/by_group/frac_all_good": (
            "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
        ),
        "env/all/by_group/frac_all_bad": (
            "0 0 0 0 0.25 0.25 0.25 0.125 0.5 0.25 0.125 0.875 0.375 0.125 0.5 0.125 0.375 0.5 "
            "0.375 0.25 0.25 0.25 0.625 0.375 0.25 0.25 0.25 0.125 0 0.375 0.25 0.625 0.375 0.25 "
            "0.375 0.125 0.625 0.375 0.5 0.5 "
        ),
        "env/all/ac_tokens_per_turn": (
            "4.969 5.188 4.719 4.875 3.875 3.422 3.109 2.344 2.234 2.281 2.422 2.312 2.234 2.266 "
            "2.312 2.234 2.375 2.219 2.328 2.078 2.031 2.016 2.047 2 2.016 2.047 2 2.078 2.094 2 "
            "2 2.062 2.234 2.109 2.078 2.062 2 2.266 2.156 2.078 "
        ),
        "optim/entropy": (
            "0.4186 0.3542 0.4074 0.5645 0.8378 0.9785 1.155 1.094 1.429 1.241 1.255 1.368 1.212 "
            "1.049 1.332 1.171 1.021 1.339 1.213 1.198 1.166 1.234 1.392 1.378 1.033 1.11 1.074 "
            "0.8006 0.9033 1.158 1.054 1.21 1.023 1.154 1.042 1.128 1.188 1.203 1.234 1.209 "
        ),
        "optim/kl_sample_train_v1": (
            "1.904e-07 2.531e-07 3.217e-07 2.111e-07 2.337e-07 1.598e-07 2.338e-07 2.689e-07 "
            "4.302e-07 3.48e-07 7.642e-08 8.386e-08 3.821e-08 8.488e-08 9.632e-08 -4.518e-08 "
            "-1.272e-08 -3.6e-08 2.53e-08 1.672e-07 1.824e-07 3.401e-07 3.84e-07 2.705e-07 "
            "2.537e-07 1.707e-07 1.636e-07 1.868e-07 1.824e-07 2.447e-07 2.294e-08 1.585e-07 "
            "1.637e-07 2.077e-07 3.199e-08 1.413e-07 -2.924e-08 9.806e-08 9.482e-08 2.063e-07 "
        ),
        "grad_norm": (
            "18.4 39.34 51.13 38.85 51.98 66.64 60.7 87.07 34.07 52.98 67.56 35.68 75.31 89.94 "
            "74.93 78.18 68.78 92 90.04 55.75 59.84 66.43 30.5 63.04 91.23 62.53 67.35 84.64 "
            "84.02 67.53 74.26 51.26 87.65 82.35 84.7 101.2 67.68 68.43 47.83 33.3 "
        ),
    },
}


def _rl_run(folder: Path, name: str) -> Path:
    cols = {k: [float(v) for v in "".join(parts).split()] for k, parts in DEMO_RL[name].items()}
    rows = [{"step": i, **{k: vals[i] for k, vals in cols.items()}} for i in range(40)]
    folder.mkdir(parents=True)
    write_rows(folder / "metrics.jsonl", rows)
    (folder / "config.json").write_text(json.dumps({"learning_rate": 0.1, "max_tokens": 8}))
    return folder


def test_the_demo_unstable_run_fires_collapse_and_reward_rules(tmp_path):
    alerts = alerts_for(_rl_run(tmp_path / "rl-lr1e-1", "rl-lr1e-1"))
    fired = {a.rule: a for a in alerts if a.level >= 2}
    assert set(fired) == {"entropy_collapse", "no_signal", "reward_pinned", "length_cap"}
    collapse = fired["entropy_collapse"]
    assert (collapse.severity, collapse.flag) == ("critical", "entropy 0")
    assert "collapsed to 0" in collapse.message and "inf" not in collapse.message
    assert "floor" in fired["reward_pinned"].message and "too hard" in fired["no_signal"].message
    # all 64 answers at the 8-token cap from step 2 (4.7 tokens at step 0): the run babbles, not the budget
    assert (fired["length_cap"].first_step, fired["length_cap"].threshold) == (2, 8)


def test_the_demo_steady_run_stays_quiet(tmp_path):
    """Answers of 2-5 tokens under max_tokens 8, entropy 0.4 -> 1.2 (below 2x its first-10 median),
    k1 sampler KL around +-1e-7 (noise around 0, negative at some steps)."""
    assert [a for a in alerts_for(_rl_run(tmp_path / "rl-lr2e-3", "rl-lr2e-3")) if a.level >= 2] == []
