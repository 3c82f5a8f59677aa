"""How long a step waited for rewards after its last response was generated.

verl's agent loop scores each rollout as soon as its generation ends, overlapped with the generation of
the others, and both happen under the step's ``gen`` timer; so a slow reward (a code sandbox) costs
step time only in the tail, after the last response is out. verl records per rollout how long its
generation and its scoring took (``AgentLoopMetrics``), all rollouts of a step being submitted
together: rollout i is then scored by ``gen_i + score_i`` and the last response is out at
``max(gen)``. The tail of a domain is ``max over its rollouts of (gen_i + score_i) - max(gen)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def reward_tail_metrics(
    generate_s: Sequence[float], score_s: Sequence[float], domains: Sequence[str]
) -> dict[str, float]:
    """``srpo/reward_wait/*`` metrics of one step: the tail overall and per domain, mean scoring time."""
    gen = np.asarray(generate_s, dtype=np.float64)
    score = np.asarray(score_s, dtype=np.float64)
    if not (len(gen) == len(score) == len(domains)) or len(gen) == 0:
        raise ValueError(
            f"reward_tail_metrics: need one generate, score and domain per rollout, got "
            f"{len(gen)}, {len(score)} and {len(domains)}"
        )
    last_out = float(gen.max())
    done = gen + score
    metrics = {"srpo/reward_wait/tail_s": max(0.0, float(done.max()) - last_out)}
    labels = np.asarray(domains)
    for domain in sorted(set(domains)):
        mask = labels == domain
        metrics[f"srpo/reward_wait/tail_s/{domain}"] = max(0.0, float(done[mask].max()) - last_out)
        metrics[f"srpo/reward_wait/score_mean_s/{domain}"] = float(score[mask].mean())
    return metrics
