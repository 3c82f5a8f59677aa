"""A synthetic learner for the prompt-selection simulation (benchmarks/simulate_selection.py).

This is a *model of training*, not training: it stands in for the policy so that the project's real
sampler, History Resampling, curriculum and skipping code can be driven at the paper's scale
(256 prompts x 32 rollouts per step, tens of thousands of prompts, 1,000+ steps) in minutes on CPU.
Its assumptions, which decide every result of the simulation:

* Every prompt ``i`` has a domain (math or code) and a latent difficulty ``d_i``. The chance that one
  rollout solves it is ``sigmoid(theta[domain] + u_i - d_i)``, zero for an *unlearnable* prompt (think
  of a wrong reference answer). ``theta`` is the policy's skill in the domain (shared by all its
  prompts, so it transfers); ``u_i`` is what the policy learned about this prompt in particular.
* A group of ``G`` rollouts with ``k`` correct carries the learning signal ``4 k (G - k) / G**2``: 0
  when the group agrees (zero GRPO advantage), 1 when half is correct. Only these groups move the
  policy, as in GRPO.
* One step moves ``theta[domain]`` by ``eta_global`` times the sum of its groups' signals divided by the
  batch size (the token-mean loss: zero-advantage groups in the batch dilute the update), scaled by
  ``1 - gain / capacity`` when a capacity is set (the skill saturates). Each trained group moves its
  own ``u_i`` by ``eta_local`` times its signal.
* With ``forget_rate > 0`` every ``u_i`` shrinks by that share each step: what was learned about a
  prompt fades unless it is trained again, so a solved prompt's solve rate drifts back down.

``accuracy`` is the mean solve rate over *every* prompt of the set (those still in the pool and those
History Resampling dropped), per domain and overall: the quantity a held-out set drawn from the same
distribution would estimate if per-prompt learning transferred like the shared skill.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LearnerSpec:
    """One simulated world: the prompt set and how the policy learns on it."""

    n_math: int = 16_000
    n_code: int = 8_000
    # Difficulty distribution per domain: normal(mean, std) on the logit scale.
    math_difficulty: tuple[float, float] = (0.0, 1.6)
    code_difficulty: tuple[float, float] = (0.5, 1.6)
    # Share of prompts per domain that no skill can solve (always all wrong).
    unlearnable_frac: float = 0.0
    # Starting skill per domain (logit scale).
    theta0: dict[str, float] = field(default_factory=lambda: {"math": 0.0, "code": -0.5})
    eta_global: float = 0.008
    eta_local: float = 0.25
    # Skill gain at which learning stops (None: no ceiling).
    capacity: float | None = None
    forget_rate: float = 0.0


class SyntheticLearner:
    """The simulated policy: solve rates per prompt, rollouts, and learning from rollout groups."""

    def __init__(self, spec: LearnerSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        n = spec.n_math + spec.n_code
        self.domains = np.array(["math"] * spec.n_math + ["code"] * spec.n_code, dtype=object)
        self.is_code = np.zeros(n, dtype=bool)
        self.is_code[spec.n_math :] = True
        self.difficulty = np.concatenate(
            [
                rng.normal(*spec.math_difficulty, size=spec.n_math),
                rng.normal(*spec.code_difficulty, size=spec.n_code),
            ]
        )
        self.learnable = rng.random(n) >= spec.unlearnable_frac
        self.local = np.zeros(n)
        self.theta = {d: float(v) for d, v in spec.theta0.items()}
        self.gain = {d: 0.0 for d in self.theta}

    def __len__(self) -> int:
        return len(self.difficulty)

    def solve_rate(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Chance that one rollout of each row is correct (all rows when ``rows`` is None)."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        theta = np.where(self.is_code[rows], self.theta["code"], self.theta["math"])
        logit = theta + self.local[rows] - self.difficulty[rows]
        return np.where(self.learnable[rows], 1.0 / (1.0 + np.exp(-logit)), 0.0)

    def rollout(self, rows: np.ndarray, group_size: int, rng: np.random.Generator) -> np.ndarray:
        """Number of correct rollouts out of ``group_size`` for each row."""
        return rng.binomial(group_size, self.solve_rate(rows))

    def learn(self, rows: np.ndarray, n_correct: np.ndarray, group_size: int, batch_size: int) -> None:
        """One policy update from the trained groups (``rows[i]`` had ``n_correct[i]`` correct)."""
        spec = self.spec
        rows = np.asarray(rows, dtype=np.int64)
        signal = group_signal(n_correct, group_size)
        for domain, mask in (("math", ~self.is_code[rows]), ("code", self.is_code[rows])):
            total = float(signal[mask].sum())
            if total == 0.0:
                continue
            room = 1.0 if spec.capacity is None else max(0.0, 1.0 - self.gain[domain] / spec.capacity)
            step = spec.eta_global * total / batch_size * room
            self.theta[domain] += step
            self.gain[domain] += step
        if spec.forget_rate > 0:
            self.local *= 1.0 - spec.forget_rate
        np.add.at(self.local, rows, spec.eta_local * signal)

    def accuracy(self) -> dict[str, float]:
        """Mean solve rate over every prompt of the set: overall and per domain."""
        rate = self.solve_rate()
        return {
            "all": float(rate.mean()),
            "math": float(rate[~self.is_code].mean()),
            "code": float(rate[self.is_code].mean()) if self.is_code.any() else float("nan"),
        }


def group_signal(n_correct: np.ndarray, group_size: int) -> np.ndarray:
    """GRPO's learning signal of a binary-reward group: ``4 k (G - k) / G**2`` (0 when all agree)."""
    k = np.asarray(n_correct, dtype=np.float64)
    return 4.0 * k * (group_size - k) / float(group_size) ** 2
