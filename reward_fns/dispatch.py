"""verl entry points: ``compute_score`` (one response), ``compute_score_async`` (the same as a
coroutine, for verl's reward loop) and ``compute_score_batch`` (a rollout batch).

Use from any verl run::

    reward.custom_reward_function.path=pkg://reward_fns.dispatch
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.weights.format=0.2

Every result is a dict with the same keys, whatever the domain (verl builds its per-sample arrays
from the first result's keys): ``score`` (the scalar reward), ``acc`` (0..1; what DAPO's
``filter_groups`` and History Resampling should read), ``format`` and ``language`` (1 = good),
``pred`` (the extracted answer, or a program digest, for verl's majority-vote metrics),
``reason`` (why: ``equal``, ``no_answer``, ``timeout``, ``passed 3/5: wrong_answer x2``...) and
``verifier_timeout`` (1.0 when the math verifier hit its bound).

A malformed row (no ground truth, unparsable test spec, unknown domain) raises ``ValueError`` naming
the row; a hostile or broken *response* never raises, it scores 0 with a reason.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from reward_fns.bounded import BoundedResult, shared_pool
from reward_fns.code_reward import (
    CodeGrader,
    code_accuracy,
    extract_program,
    parse_test_spec,
    program_digest,
    shared_grader,
)
from reward_fns.config import RewardConfig, reward_config_from_kwargs
from reward_fns.domains import domain_names, domain_of_source, get_domain, known_sources, load_function
from reward_fns.math_grade import grade_math_response, grade_text_parts
from sandbox import RunResult, TestSpec

#: What a domain grader receives per row: ``(response, ground_truth, row_name, extra_info)``.
Row = tuple[str, Any, str, Mapping[str, Any] | None]

RESULT_KEYS = ("score", "acc", "format", "language", "pred", "reason", "verifier_timeout")

_config_cache: dict[str, RewardConfig] = {}
_config_lock = threading.Lock()


def _config(kwargs: Mapping[str, Any]) -> RewardConfig:
    """The validated config for these reward_kwargs (parsed once per distinct value)."""
    key = json.dumps(kwargs, sort_keys=True, default=repr)
    with _config_lock:
        cfg = _config_cache.get(key)
    if cfg is None:
        cfg = reward_config_from_kwargs(kwargs)
        with _config_lock:
            _config_cache[key] = cfg
    return cfg


def row_name(data_source: Any, extra_info: Mapping[str, Any] | None) -> str:
    """How errors name a row: its data source plus prompt_id / index when present."""
    info = extra_info or {}
    ids = ", ".join(f"{k}={info[k]!r}" for k in ("prompt_id", "index", "split") if info.get(k) is not None)
    return f"row(data_source={data_source!r}{', ' + ids if ids else ''})"


def route(data_source: Any, extra_info: Mapping[str, Any] | None) -> str:
    """The row's domain: ``extra_info["domain"]`` first, then the domain that claims its data source."""
    domain = (extra_info or {}).get("domain")
    if domain is not None:
        if domain not in domain_names():
            raise ValueError(
                f"{row_name(data_source, extra_info)}: extra_info.domain={domain!r} is not one of {domain_names()}"
            )
        return str(domain)
    known = domain_of_source(str(data_source))
    if known is None:
        raise ValueError(
            f"{row_name(data_source, extra_info)}: no extra_info.domain and data_source is not a known source; "
            f"set extra_info.domain to one of {domain_names()} (known sources: {known_sources()})"
        )
    return known


def _math_ground_truth(ground_truth: Any, row: str) -> str:
    if isinstance(ground_truth, bool) or ground_truth is None:
        raise ValueError(f"{row}: math row has no reference answer in reward_model.ground_truth")
    if isinstance(ground_truth, int | float):
        return repr(ground_truth)
    if not isinstance(ground_truth, str):
        raise ValueError(f"{row}: math reference answer must be a string, got {type(ground_truth).__name__}")
    if not ground_truth.strip():
        raise ValueError(f"{row}: math row has an empty reference answer in reward_model.ground_truth")
    return ground_truth


def _result(
    cfg: RewardConfig, acc: float, fmt: float, lang: float, pred: str, reason: str, timeout: bool
) -> dict:
    w = cfg.weights
    score = w.accuracy * acc + w.format * fmt - w.language * (1.0 - lang)
    return {
        "score": float(score),
        "acc": float(acc),
        "format": float(fmt),
        "language": float(lang),
        "pred": pred,
        "reason": reason,
        "verifier_timeout": 1.0 if timeout else 0.0,
    }


def _math_opts(cfg: RewardConfig) -> dict[str, Any]:
    return asdict(cfg.math)


def _pool(cfg: RewardConfig):
    return shared_pool(cfg.math_workers(), cfg.math.timeout_s, cfg.math.memory_mb, cfg.math.wall_timeout_s)


def _text_parts(cfg: RewardConfig, responses: Sequence[str], domain: str) -> list[dict[str, float]]:
    """Format and language parts, bounded like everything that scans a response with regexes."""
    template, lang = cfg.template_regex(domain), asdict(cfg.language)
    results = _pool(cfg).map(grade_text_parts, [(r, template, lang) for r in responses])
    return [r.value if r.ok else {"format": 0.0, "language": 0.0} for r in results]


def _math_from_bounded(cfg: RewardConfig, bounded: BoundedResult) -> dict:
    if bounded.ok:
        v = bounded.value
        return _result(cfg, v["acc"], v["format"], v["language"], v["pred"], v["reason"], False)
    # the check overran or failed: keep what the worker reported before (format, language, answer)
    v = bounded.value or {"format": 0.0, "language": 0.0, "pred": ""}
    timeout = bounded.reason in ("timeout", "stalled")
    reason = {
        "timeout": f"timeout(>{cfg.math.timeout_s:g}s cpu)",
        "stalled": f"stalled(>{cfg.math.wall_timeout_s:g}s wall)",
    }.get(bounded.reason, bounded.reason)
    return _result(cfg, 0.0, v["format"], v["language"], v["pred"], reason, timeout)


def grade_math_rows(cfg: RewardConfig, rows: Sequence[Row]) -> list[dict]:
    """Math rows ``(response, ground_truth, row_name, extra_info)``, verified by the bounded pool."""
    truths = [_math_ground_truth(gt, row) for _, gt, row, _ in rows]
    template, lang, opts = cfg.template_regex("math"), asdict(cfg.language), _math_opts(cfg)
    jobs = [(resp, gt, opts, template, lang) for (resp, *_), gt in zip(rows, truths, strict=True)]
    results = _pool(cfg).map(grade_math_response, jobs)
    return [_math_from_bounded(cfg, r) for r in results]


def _grader(cfg: RewardConfig) -> CodeGrader:
    code = cfg.code
    return shared_grader(code.sandbox_options(), code.batch_window_s, code.max_batch, code.reuse_results)


def _code_result(
    cfg: RewardConfig, program: str | None, parts: dict[str, float], run: RunResult | None
) -> dict:
    """The result of one code row: ``run`` is None exactly when no program was found."""
    if program is None or run is None:
        return _result(cfg, 0.0, parts["format"], parts["language"], "", "no_code_block", False)
    acc, reason = code_accuracy(run, cfg.code.partial_credit)
    return _result(cfg, acc, parts["format"], parts["language"], program_digest(program), reason, False)


def _code_spec(ground_truth: Any, row: str, extra_info: Mapping[str, Any] | None) -> TestSpec:
    """The row's test spec; ``extra_info.language``, when given, must name the spec's language."""
    spec = parse_test_spec(ground_truth, row)
    language = (extra_info or {}).get("language")
    if language is not None and language != spec.language:
        raise ValueError(
            f"{row}: extra_info.language is {language!r} but the test spec's language is {spec.language!r}"
        )
    return spec


def grade_code_rows(cfg: RewardConfig, rows: Sequence[Row]) -> list[dict]:
    """Code rows ``(response, ground_truth, row_name, extra_info)``; specs are all checked before
    anything runs. The program is the last fenced block tagged for the spec's language (```python,
    ```cpp, ...). Several programs run as one sandbox batch; a single one joins the batches that
    concurrent calls share.
    """
    specs = [_code_spec(gt, row, info) for _, gt, row, info in rows]
    programs = [
        extract_program(resp, cfg.code.tags_for(spec.language), cfg.code.require_fence)
        for (resp, *_), spec in zip(rows, specs, strict=True)
    ]
    parts = _text_parts(cfg, [resp for resp, *_ in rows], "code")
    grader = _grader(cfg)
    todo = [i for i, p in enumerate(programs) if p is not None]
    if len(todo) == 1:
        run = [grader.run_one(programs[todo[0]], specs[todo[0]])]
    else:
        run = grader.run_batch([(programs[i], specs[i]) for i in todo])
    by_row = dict(zip(todo, run, strict=True))
    return [_code_result(cfg, program, parts[i], by_row.get(i)) for i, program in enumerate(programs)]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """SRPO reward of one response, with verl's custom reward function signature."""
    grade = load_function(get_domain(route(data_source, extra_info)).grader)
    return grade(
        _config(kwargs), [(solution_str, ground_truth, row_name(data_source, extra_info), extra_info)]
    )[0]


async def compute_score_async(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """``compute_score`` as a coroutine, for verl's reward loop (it awaits coroutine reward functions).

    The synchronous form holds one of the loop's few executor threads while its program waits for
    the sandbox, so a step's code rewards reach the sandbox a handful at a time and its math rewards
    and tokenizer calls queue behind them. Here a code reward awaits its sandbox batch without a
    thread: a whole step's programs share batches, and math is graded at once.
    """
    cfg = _config(kwargs)
    row = row_name(data_source, extra_info)
    domain = get_domain(route(data_source, extra_info))
    if domain.async_grader is not None:
        return await load_function(domain.async_grader)(cfg, (solution_str, ground_truth, row, extra_info))
    grade = load_function(domain.grader)
    return (await asyncio.to_thread(grade, cfg, [(solution_str, ground_truth, row, extra_info)]))[0]


async def grade_code_row_async(cfg: RewardConfig, item: Row) -> dict:
    """One code row as a coroutine: it awaits its sandbox batch instead of holding a thread."""
    response, ground_truth, row, extra_info = item
    spec = _code_spec(ground_truth, row, extra_info)
    program = extract_program(response, cfg.code.tags_for(spec.language), cfg.code.require_fence)
    # the program goes to the sandbox first: its format and language parts, graded meanwhile on
    # the verifier pool, may queue behind a step's math rewards
    run = None if program is None else asyncio.wrap_future(_grader(cfg).submit(program, spec))
    try:
        parts = (await asyncio.to_thread(_text_parts, cfg, [response], "code"))[0]
    except BaseException:
        if run is not None:
            run.cancel()
        raise
    return _code_result(cfg, program, parts, None if run is None else await run)


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """SRPO rewards of a whole batch (verl's batch reward manager signature), in input order.

    Math rows are verified ``workers`` at a time while the code rows run as one sandbox batch.
    """
    n = len(solution_strs)
    if not (len(data_sources) == len(ground_truths) == n) or (
        extra_infos is not None and len(extra_infos) != n
    ):
        raise ValueError(
            f"compute_score_batch: lengths differ (data_sources={len(data_sources)}, solution_strs={n}, "
            f"ground_truths={len(ground_truths)}, extra_infos={None if extra_infos is None else len(extra_infos)})"
        )
    cfg = _config(kwargs)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    by_domain: dict[str, list[int]] = {}
    for i in range(n):
        by_domain.setdefault(route(data_sources[i], infos[i]), []).append(i)
    results: list[dict[str, Any] | None] = [None] * n
    # each domain's rows go to its grader at once, the domains side by side (math on the verifier
    # pool while code waits for the sandbox)
    with ThreadPoolExecutor(max_workers=max(1, len(by_domain))) as ex:
        futures = {
            domain: ex.submit(
                load_function(get_domain(domain).grader),
                cfg,
                [
                    (solution_strs[i], ground_truths[i], row_name(data_sources[i], infos[i]), infos[i])
                    for i in idx
                ],
            )
            for domain, idx in by_domain.items()
        }
        for domain, future in futures.items():
            for i, r in zip(by_domain[domain], future.result(), strict=True):
                results[i] = r
    return results  # type: ignore[return-value]
