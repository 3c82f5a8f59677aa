"""The default console keeps what a person follows, drops start-up noise, and loses nothing from the log."""

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from srpo.verl_glue.console import LineRules, quiet_known_warnings, summarize_step_line

STEP = (
    "step:12 - global_seqlen/min:5706.0 - actor/entropy:0.0417 - critic/score/mean:np.float64(0.5375) - "
    "srpo/acc/code:0.25 - srpo/acc/math:np.float64(0.75) - srpo/pool_size:163.0 - timing_s/step:9.84"
)
VAL = "step:10 - val-core/srpo/arith/acc/mean@1:np.float64(0.39375) - val-core/srpo/codegen/acc/mean@1:0.5"


def test_step_line_is_summarized():
    assert (
        summarize_step_line(STEP)
        == "srpo: step 12: score 0.537 | acc code 0.250, math 0.750 | pool 163 | 9.8 s"
    )
    assert summarize_step_line(VAL) == (
        "srpo: validation at step 10: held-out accuracy srpo/arith 0.394, srpo/codegen 0.500"
    )
    assert summarize_step_line("stepping on") is None


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        # srpo's own lines pass, routine Ray start-up does not
        ("srpo: building (or reusing) the embedded base model ...\n", True),
        ("2026-12-02 10:43:40,001\tINFO worker.py:2012 -- Started a local Ray instance.\n", False),
        # verl's trainer loop runs in the driver: its chatter has no Ray prefix and is dropped too
        ("INFO:2026-12-02 14:13:27,131:Total training steps: 5\n", False),
        ("                 'adv_estimator': 'srpo',\n", False),
        ("dataset len: 288\n", False),
        ("ValueError: bad shape\n", True),
        # worker chatter is dropped ...
        (
            "\x1b[36m(AgentLoopWorkerTQ pid=563)\x1b[0m WARNING:transfer_queue: target_num_threads 8 "
            "should not exceed total physical CPU cores 2. Setting to 2.\n",
            False,
        ),
        ("\x1b[36m(TaskRunnerV1 pid=1)\x1b[0m                 'adv_estimator': 'srpo',\n", False),
        ("(WorkerDict pid=7) \rLoading weights: 100%|##| 50/50\n", False),
        # ... except problems
        ("(WorkerDict pid=7) RuntimeError: gloo connection closed\n", True),
        ("(raylet) A worker died or was killed while executing a task\n", True),
        ("(TaskRunnerV1 pid=1) ERROR 12-02 10:00:00 engine failed\n", True),
    ],
)
def test_line_rules(line, kept):
    assert (LineRules()(line) is not None) == kept


def test_progress_and_srpo_lines_lose_the_ray_prefix():
    rules = LineRules()
    bar = "\x1b[36m(TaskRunnerV1 pid=1)\x1b[0m \rTraining Progress:   2%|  | 1/40 [00:36<23:39, 36.39s/it]\n"
    assert rules(bar) == "Training Progress:   2%|  | 1/40 [00:36<23:39, 36.39s/it]\n"
    hr = "(TaskRunnerV1 pid=1) History Resampling after epoch 1: saw 192 prompts (141 mixed, ...)\n"
    assert rules(hr).startswith("History Resampling after epoch 1")
    assert rules("(TaskRunnerV1 pid=1) " + STEP + "\n").startswith("srpo: step 12:")


def test_driver_lines_a_progress_bar_shares_with_a_worker_line():
    """verl's trainer in the driver: its bar (stderr, no newline yet) and a line Ray forwards to stderr."""
    rules = LineRules()
    merged = (
        "\rTraining Progress:  40%|####      | 2/5 [02:48<04:06, 82.20s/it]"
        "(TransferQueueController pid=31896) 2026-12-02 14:33:43,289 - INFO - transfer_queue: 1333 requests\n"
    )
    assert rules(merged) == "Training Progress:  40%|####      | 2/5 [02:48<04:06, 82.20s/it]\n"
    failing = "\rTraining Progress:  40%|#| 2/5 [02:48<04:06, 82.20s/it](WorkerDict pid=7) RuntimeError: gloo closed\n"
    assert rules(failing) == (
        "Training Progress:  40%|#| 2/5 [02:48<04:06, 82.20s/it]\n(WorkerDict pid=7) RuntimeError: gloo closed\n"
    )
    own_log = "\rTraining Progress:  80%|#| 4/5 [06:08<01:33, 93.87s/it]INFO:2026-12-02 14:37:45,616:Saving checkpoint\n"
    assert rules(own_log) == "Training Progress:  80%|#| 4/5 [06:08<01:33, 93.87s/it]\n"
    first = "Training Progress:   0%|          | 0/5 [00:00<?, ?it/s](LeanRouter pid=1781) WARNING: Triton\n"
    assert rules(first) == "Training Progress:   0%|          | 0/5 [00:00<?, ?it/s]\n"
    # a log record that mentions a kept phrase is not kept; the line the trainer prints is
    assert rules("[2026-12-02 14:33:37][srpo.algorithm.sampler][INFO] - SRPO curriculum: stage 2\n") is None
    assert rules("SRPO curriculum: stage 2 (math, code) from step 3\n") is not None


def test_a_worker_traceback_is_kept_whole():
    rules = LineRules()
    lines = [
        "(WorkerDict pid=7) Traceback (most recent call last):\n",
        '(WorkerDict pid=7)   File "x.py", line 1, in <module>\n',
        "(WorkerDict pid=7)     update()\n",
        "(WorkerDict pid=7) ValueError: bad shape\n",
        "(WorkerDict pid=7) Loading weights: 10%\n",
    ]
    assert [rules(line) is not None for line in lines] == [True, True, True, True, False]


def test_known_harmless_warnings_are_silenced(monkeypatch):
    monkeypatch.delenv("SRPO_VERBOSE", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_warnings()
        warnings.warn(
            "megatron engine is not available: ModuleNotFoundError('megatron')", UserWarning, stacklevel=1
        )
        warnings.warn("something else is off", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else is off"]


def test_per_rollout_tokenizer_records_are_quiet(monkeypatch):
    """verl logs the tokenizer family at INFO twice per rollout; the agent loop runs in the driver."""
    import logging

    monkeypatch.delenv("SRPO_VERBOSE", raising=False)
    logger = logging.getLogger("verl.utils.tokenizer.continuous_token")
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    quiet_known_warnings()
    assert not logger.isEnabledFor(logging.INFO) and logger.isEnabledFor(logging.WARNING)


def test_filter_keeps_everything_in_the_log_and_little_on_the_terminal(tmp_path: Path):
    """Descriptor-level: a child process's output (as Ray's processes write it) is filtered too."""
    log = tmp_path / "console.log"
    script = textwrap.dedent(
        f"""
        import subprocess, sys
        from pathlib import Path
        from srpo.verl_glue.console import ConsoleFilter
        with ConsoleFilter(Path({str(log)!r})):
            print("srpo: driver line", flush=True)
            # a progress bar redrawn on stderr without a newline, a metric line on stdout meanwhile
            sys.stderr.write("\\rTraining Progress:   2%|  | 1/40"); sys.stderr.flush()
            print({STEP!r}, flush=True)
            sys.stderr.write("\\rTraining Progress:   5%|  | 2/40\\n"); sys.stderr.flush()
            subprocess.run([sys.executable, "-c", "import sys; print('(WorkerDict pid=7) noise'); "
                            "print('(TaskRunnerV1 pid=1) {STEP}'); sys.stderr.write('(pid=3) noise 2\\\\n')"])
        print("after the run")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()  # stdout and stderr are read by a thread each: order may vary
    assert lines[-1] == "after the run"
    assert sorted(lines) == sorted(
        [
            "srpo: driver line",
            "srpo: step 12: score 0.537 | acc code 0.250, math 0.750 | pool 163 | 9.8 s",
            "Training Progress:   5%|  | 2/40",
            "srpo: step 12: score 0.537 | acc code 0.250, math 0.750 | pool 163 | 9.8 s",
            f"srpo: 2 more lines of worker output are in {log} (srpo.verbose=true prints them)",
            "after the run",
        ]
    )
    logged = log.read_text()
    assert "(WorkerDict pid=7) noise" in logged and "noise 2" in logged and STEP in logged


def test_workers_get_transfer_queue_threads_and_verbosity(monkeypatch):
    """TransferQueue warns at every put/get when its 8 threads exceed the physical cores: size it to them."""
    import psutil
    from hydra import compose, initialize_config_dir

    from srpo.main import CONFIG_DIR, set_worker_env

    monkeypatch.delenv("TQ_NUM_THREADS", raising=False)
    monkeypatch.delenv("SRPO_VERBOSE", raising=False)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        config = compose(config_name="embedded")
    set_worker_env(config)
    env = config.ray_kwargs.ray_init.runtime_env.env_vars
    threads = env["TQ_NUM_THREADS"]
    assert threads == str(min(8, psutil.cpu_count(logical=False)))
    assert env.SRPO_VERBOSE == "0"
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        config = compose(
            config_name="embedded",
            overrides=["srpo.verbose=true", "+ray_kwargs.ray_init.runtime_env.env_vars.TQ_NUM_THREADS=3"],
        )
    set_worker_env(config)
    env = config.ray_kwargs.ray_init.runtime_env.env_vars
    assert env.TQ_NUM_THREADS == 3 and env.SRPO_VERBOSE == "1" and os.environ["SRPO_VERBOSE"] == "1"
