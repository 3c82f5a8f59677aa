"""The bound holds inside a Ray actor, called from the actor's executor threads (as verl's reward
loop workers do): a hanging answer times out, a good one is graded, the actor survives.

Marked slow: 20-40 s of Ray start-up, and on an overloaded 2-core machine Ray's own node start-up
can time out before the test begins."""

from __future__ import annotations

import time

import pytest

ray = pytest.importorskip("ray")


@ray.remote(num_cpus=0)
class Grader:
    def grade_in_threads(self, responses: list[str], truth: str) -> list[tuple[float, str, float]]:
        import asyncio
        import time

        from reward_fns.dispatch import compute_score

        async def one(response: str) -> tuple[float, str, float]:
            loop = asyncio.get_running_loop()
            start = time.monotonic()
            kwargs = {"math": {"timeout_s": 2.0, "workers": 2}}
            r = await loop.run_in_executor(None, lambda: compute_score("gsm8k", response, truth, **kwargs))
            return r["acc"], r["reason"], time.monotonic() - start

        async def all_of_them() -> list[tuple[float, str, float]]:
            return list(await asyncio.gather(*(one(r) for r in responses)))

        return asyncio.run(all_of_them())


@pytest.mark.slow
def test_bounded_grading_inside_a_ray_actor():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        grader = Grader.remote()
        start = time.monotonic()
        out = ray.get(
            grader.grade_in_threads.remote(
                [r"\boxed{9^{9^{9^{9}}}}", r"\boxed{\frac{6}{2}}", "no answer"], "3"
            ),
            timeout=120,
        )
        assert time.monotonic() - start < 100
        (acc_h, reason_h, t_h), (acc_g, reason_g, _), (acc_n, reason_n, _) = out
        # the bound is 2 s of CPU: how long that takes depends on the load; 15 s is the wall backstop
        assert acc_h == 0.0 and reason_h.startswith("timeout") and t_h < 15.0
        assert (acc_g, reason_g) == (1.0, "equal")
        assert (acc_n, reason_n) == (0.0, "no_answer")
    finally:
        ray.shutdown()
