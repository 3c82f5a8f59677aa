"""A console a person can follow during a run, with every line still kept in a log file.

verl's trainer runs in Ray workers whose output Ray forwards to the driver's terminal: the config dump,
engine start-up, weight loading and third-party warnings come to thousands of lines, among which the
lines that tell how training goes cannot be found. Two layers keep the console short:

* ``quiet_known_warnings`` (every process, from the verl plug-in): Python warnings and log records
  that are harmless in every srpo run (optional verl engines that are not installed, the critic
  being off by design) are not emitted at all.
* ``ConsoleFilter`` (the driver, around verl's run): everything written to the driver's stdout and
  stderr, its own (verl's trainer loop runs in the driver, srpo.verl_glue.in_driver) and what Ray
  forwards from workers, goes to ``<output_dir>/console.log``; the terminal gets srpo's own lines,
  the progress bar, SRPO's lines (History Resampling, stage switch), one short line per step and per
  validation (from verl's metric line, whose full content is in ``metrics-*.jsonl``), and anything
  that looks like a problem (tracebacks, errors).

``srpo.verbose=true`` (or ``SRPO_VERBOSE=1``) turns both off: everything reaches the terminal.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings
from pathlib import Path
from typing import BinaryIO

VERBOSE_ENV = "SRPO_VERBOSE"

# (category, message regex) of warnings that say nothing about an srpo run.
HARMLESS_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    # verl probes every optional training engine at import; srpo uses FSDP.
    (UserWarning, r"(torchtitan|veomni|automodel|mindspeed|megatron) engine is not available"),
    # SRPO is critic-free by design (algorithm.adv_estimator=srpo).
    (UserWarning, r"Disabled critic as algorithm\.adv_estimator != gae"),
)
# Loggers whose INFO records repeat and carry no news: the platform (chosen by srpo) in every process, and
# the tokenizer family resolved again for every rollout (twice per rollout in the agent loop, which runs in
# the driver: srpo.verl_glue.agent_loop).
CHATTY_LOGGERS = ("verl.plugin.platform.platform_manager", "verl.utils.tokenizer.continuous_token")


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false", "False")


def quiet_known_warnings() -> None:
    """Silence the warnings and log records listed above in this process, unless verbose."""
    if verbose():
        return
    for category, message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Ray's prefix on forwarded worker output: "(TaskRunnerV1 pid=123)", "(raylet)", "(pid=9, ip=10.0.0.1)".
_RAY_PREFIX = re.compile(r"^\((?P<source>[^()]*?)(?: pid=\d+)?(?:, ip=[\d.]+)?\) ?")
# Kept lines start with one of these (a progress bar's last redraw counts from its last "\r"): a log
# record that merely mentions them ("[time][srpo.algorithm.sampler][INFO] - SRPO curriculum ...") is not.
_KEEP = re.compile(r"^(?:Training Progress|History Resampling|SRPO curriculum|srpo[:.])")
# verl's progress bar redraws on stderr without a newline until it ends, so whatever else reaches
# stderr meanwhile (a log record, a line Ray forwards from a worker) continues the bar's line.
_BAR = re.compile(r"Training Progress:[^\r]*?\[[^\]\r]*?(?:it/s|s/it)\]")
_DRIVER = "driver"  # the source of lines without Ray's prefix: this process
_PROBLEM = re.compile(
    r"^Traceback|^\w+(Error|Exception)\b|\b(ERROR|CRITICAL|FATAL)\b|out of memory|\bOOM\b|\b[Kk]illed\b",
)
_METRIC = re.compile(r"(?P<key>[\w/@.-]+):(?:np\.\w+\()?(?P<value>-?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf))")
_VAL_ACC = re.compile(r"^val-core/(?P<source>.+)/acc/mean@\d+$")


def summarize_step_line(text: str) -> str | None:
    """verl's console metric line (``step:N - key:value - ...``) as one short line, or None if not one.

    With validation metrics in it: held-out accuracy per data source. Otherwise: training score,
    SRPO's per-domain accuracy, pool size and step time.
    """
    if not text.startswith("step:"):
        return None
    metrics = {m["key"]: float(m["value"]) for m in _METRIC.finditer(text)}
    step = int(metrics.get("step", -1))
    val = {m["source"]: v for k, v in metrics.items() if (m := _VAL_ACC.match(k))}
    if val:
        cells = ", ".join(f"{source} {acc:.3f}" for source, acc in sorted(val.items()))
        return f"srpo: validation at step {step}: held-out accuracy {cells}"
    parts = []
    if "critic/score/mean" in metrics:
        parts.append(f"score {metrics['critic/score/mean']:.3f}")
    acc = {k.rsplit("/", 1)[1]: v for k, v in metrics.items() if k.startswith("srpo/acc/")}
    if acc:
        parts.append("acc " + ", ".join(f"{d} {v:.3f}" for d, v in sorted(acc.items())))
    if "srpo/pool_size" in metrics:
        parts.append(f"pool {metrics['srpo/pool_size']:.0f}")
    if "timing_s/step" in metrics:
        parts.append(f"{metrics['timing_s/step']:.1f} s")
    return f"srpo: step {step}: " + " | ".join(parts)


class LineRules:
    """Decides, line by line, what reaches the terminal (a line, a replacement line, or None)."""

    def __init__(self) -> None:
        self._in_traceback: set[str] = set()

    def __call__(self, line: str) -> str | None:
        plain = _ANSI.sub("", line).rstrip("\r\n")
        bars = list(_BAR.finditer(plain))
        if bars and bars[-1].end() < len(plain):  # the bar, then another line: judged one by one
            cut = bars[-1].end()
            kept = [self._one(part + "\n") for part in (plain[:cut], plain[cut:])]
            return "".join(k for k in kept if k is not None) or None
        return self._one(line)

    def _one(self, line: str) -> str | None:
        plain = _ANSI.sub("", line).rstrip("\r\n")
        match = _RAY_PREFIX.match(plain)
        # The driver's own lines (verl's trainer loop among them) follow the same rules as a worker's.
        source, text = (match["source"], plain[match.end() :]) if match else (_DRIVER, plain)
        if source in self._in_traceback:
            if not text[:1].isspace():
                self._in_traceback.discard(source)  # the exception line closes the traceback
            return line
        if text.startswith("Traceback"):
            self._in_traceback.add(source)
            return line
        last = text.split("\r")[-1]  # a progress bar's last state
        if _KEEP.search(last):
            return last + "\n"  # without Ray's prefix
        if _PROBLEM.search(text):
            return line
        summary = summarize_step_line(text)
        return None if summary is None else summary + "\n"


class ConsoleFilter:
    """Routes the process's stdout and stderr (file descriptors 1 and 2) through ``LineRules``.

    Every byte goes to ``log_path``; the kept lines go to the terminal the process started with.
    Works at the descriptor level because Ray prints forwarded worker output from its own thread
    and child processes inherit the descriptors. stdout and stderr get a pipe each, read line by
    line on their own: a progress bar redrawn on stderr without a newline must not swallow the
    metric line printed on stdout meanwhile.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.rules = LineRules()
        self.dropped = 0
        self._saved: tuple[int, int] | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._log: BinaryIO | None = None
        self._terminal: BinaryIO | None = None

    def __enter__(self) -> ConsoleFilter:
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (closed when both pumps are done)
        self._terminal = os.fdopen(os.dup(self._saved[0]), "wb", buffering=0)
        for fd in (1, 2):
            read_fd, write_fd = os.pipe()
            os.dup2(write_fd, fd)
            os.close(write_fd)
            thread = threading.Thread(
                target=self._pump, args=(read_fd,), name=f"srpo-console-{fd}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        assert self._saved is not None
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        # Ray's own processes may hold the pipes open for longer; the threads are daemons then.
        for thread in self._threads:
            thread.join(timeout=5)
        if not any(thread.is_alive() for thread in self._threads):
            for stream in (self._log, self._terminal):
                if stream is not None:
                    stream.close()
        if self.dropped:
            print(
                f"srpo: {self.dropped} more lines of worker output are in {self.log_path} "
                "(srpo.verbose=true prints them)",
                flush=True,
            )

    def _pump(self, read_fd: int) -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                *lines, pending = (pending + chunk).split(b"\n")
                with self._lock:
                    self._log.write(chunk)
                    self._log.flush()
                    for raw in lines:
                        self._emit(raw + b"\n", self._terminal)
            if pending:
                with self._lock:
                    self._emit(pending, self._terminal)

    def _emit(self, raw: bytes, terminal: BinaryIO) -> None:
        try:
            kept = self.rules(raw.decode("utf-8", errors="replace"))
        except Exception:  # a rule must never swallow output
            kept = raw.decode("utf-8", errors="replace")
        if kept is None:
            self.dropped += 1
            return
        terminal.write(kept.encode("utf-8", errors="replace"))
