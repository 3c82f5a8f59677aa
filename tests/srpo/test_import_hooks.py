"""A registration runs when its verl module is imported, once, and never breaks that import."""

import subprocess
import sys
import textwrap


def _run(code: str, tmp_path) -> str:
    (tmp_path / "watched_pkg").mkdir()
    (tmp_path / "watched_pkg" / "__init__.py").write_text("LOADED = True\n")
    (tmp_path / "watched_pkg" / "sub.py").write_text("X = 1\n")
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{':'.join(sys.path)}"},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_callback_runs_after_the_module_loads_and_only_then(tmp_path):
    out = _run(
        """
        import sys
        from srpo.verl_glue.import_hooks import after_import
        after_import("watched_pkg", lambda: print("hook", sys.modules["watched_pkg"].LOADED))
        print("registered", "watched_pkg" in sys.modules)
        import watched_pkg.sub
        import watched_pkg
        after_import("watched_pkg", lambda: print("at once"))
        import inspect
        print(len(inspect.getsource(watched_pkg)) > 0)
        """,
        tmp_path,
    )
    assert out.split("\n")[:4] == ["registered False", "hook True", "at once", "True"]


def test_a_failing_callback_does_not_break_the_import(tmp_path):
    out = _run(
        """
        from srpo.verl_glue.import_hooks import after_import
        after_import("watched_pkg", lambda: 1 / 0)
        import watched_pkg
        print("imported", watched_pkg.LOADED)
        """,
        tmp_path,
    )
    assert "imported True" in out


def test_verl_registries_fill_when_their_modules_load():
    """In a CPU process, `import verl` alone no longer loads verl's engines and trainer; lookups still work."""
    code = """
        import sys
        import verl
        heavy = [m for m in ("verl.workers.engine", "verl.trainer.ppo.v1", "srpo.verl_glue.trainer") if m in sys.modules]
        print("after import verl:", heavy)
        from verl.trainer.ppo.core_algos import get_adv_estimator_fn
        from verl.trainer.ppo.v1.trainer_base import get_trainer_cls
        from verl.workers.engine.base import EngineRegistry
        print(get_adv_estimator_fn("srpo").__name__, get_trainer_cls("srpo").__name__)
        print(EngineRegistry.get_engine_cls("language_model", "fsdp2").__name__)
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={"VERL_PLATFORM": "cpu", "PYTHONPATH": ":".join(sys.path), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "after import verl: []"
    assert lines[1] == "compute_srpo_outcome_advantage SRPOTrainer"
    assert lines[2] == "FSDPEngineWithLMHead"
