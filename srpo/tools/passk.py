"""pass@k and avg@k from per-sample correctness, grouped per problem and per data source.

pass@k is the unbiased estimator of Chen et al. (2021): with ``n`` samples of which ``c`` are
correct, the chance that ``k`` samples drawn without replacement contain a correct one is
``1 - C(n-c, k) / C(n, k)``. It is computed as a running product so that large ``n`` does not
overflow. avg@k is the paper's "pass@1 averaged over k samples": the mean accuracy per problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples, ``c`` of them correct."""
    if n < 1:
        raise ValueError(f"pass_at_k: n={n} samples, need at least 1")
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: c={c} correct out of n={n} is impossible")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: k={k} must be in [1, n={n}] (n samples cannot estimate pass@{k})")
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


@dataclass(frozen=True)
class SourceScores:
    """Scores of one data source: problems, samples per problem, avg@k and pass@k for each k."""

    data_source: str
    n_problems: int
    n_samples: int
    avg_at_k: float
    pass_at_k: dict[int, float]


def score_groups(groups: Iterable[tuple[str, Sequence[bool]]], ks: Sequence[int]) -> dict[str, SourceScores]:
    """Aggregate ``(data_source, per-sample correctness of one problem)`` groups per data source.

    Every problem of a source must have the same number of samples (the eval draws ``n`` each);
    a mismatch means a lost or duplicated generation and is reported instead of averaged away.
    """
    by_source: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for source, correct in groups:
        by_source[source].append((len(correct), sum(bool(x) for x in correct)))
    out: dict[str, SourceScores] = {}
    for source, counts in sorted(by_source.items()):
        sizes = {n for n, _ in counts}
        if len(sizes) != 1:
            raise ValueError(f"data source {source!r}: problems have different sample counts {sorted(sizes)}")
        n = sizes.pop()
        bad = [k for k in ks if not 1 <= k <= n]
        if bad:
            raise ValueError(f"data source {source!r}: k={bad} outside [1, {n}] samples per problem")
        out[source] = SourceScores(
            data_source=source,
            n_problems=len(counts),
            n_samples=n,
            avg_at_k=sum(c / n for n, c in counts) / len(counts),
            pass_at_k={k: sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in ks},
        )
    return out
