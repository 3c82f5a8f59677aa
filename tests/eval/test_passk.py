"""pass@k against the closed form and brute-force enumeration of k-subsets."""

from __future__ import annotations

import itertools
import math

import pytest

from srpo.tools.passk import pass_at_k, score_groups


def _enumerated(n: int, c: int, k: int) -> float:
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_closed_form_and_enumeration(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            closed = 1.0 - math.comb(n - c, k) / math.comb(n, k)
            got = pass_at_k(n, c, k)
            assert got == pytest.approx(closed, abs=1e-12)
            assert got == pytest.approx(_enumerated(n, c, k), abs=1e-12)


def test_edges() -> None:
    assert pass_at_k(8, 0, 4) == 0.0
    assert pass_at_k(8, 8, 1) == 1.0
    assert pass_at_k(8, 1, 8) == 1.0  # k = n: any correct sample is drawn
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)  # pass@1 is the accuracy


def test_large_n_is_stable() -> None:
    assert pass_at_k(1000, 1, 1) == pytest.approx(1e-3)
    assert 0.0 < pass_at_k(5000, 2, 3) < 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(4, 1, 5), (4, 1, 0), (0, 0, 1), (4, 5, 1), (4, -1, 1)])
def test_bad_inputs_raise(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_score_groups_per_source() -> None:
    groups = [
        ("math", [True, False, False, False]),
        ("math", [False, False, False, False]),
        ("code", [True, True, True, True]),
    ]
    s = score_groups(groups, ks=[1, 4])
    assert s["math"].n_problems == 2 and s["math"].n_samples == 4
    assert s["math"].avg_at_k == pytest.approx(1 / 8)
    assert s["math"].pass_at_k[1] == pytest.approx(1 / 8)
    assert s["math"].pass_at_k[4] == pytest.approx(0.5)
    assert s["code"].pass_at_k[4] == 1.0


def test_score_groups_rejects_uneven_and_large_k() -> None:
    with pytest.raises(ValueError, match="different sample counts"):
        score_groups([("m", [True]), ("m", [True, False])], ks=[1])
    with pytest.raises(ValueError, match="outside"):
        score_groups([("m", [True, False])], ks=[4])
