"""Where srpo's Hydra configs are, in a source checkout and in an installed wheel.

The repository keeps ``configs/`` at its top level, beside ``srpo/``; a wheel ships the same files
inside the package as ``srpo/configs`` (``setup.py`` maps one onto the other). Every module that reads
a config asks here instead of walking up from its own file, so both layouts work.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The folder holding ``embedded.yaml``, ``srpo.yaml``, ``data/``, ``baselines/``, ... ."""
    for candidate in (_PACKAGE / "configs", _PACKAGE.parent / "configs"):
        if (candidate / "srpo_base.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"srpo's configs are neither in {_PACKAGE / 'configs'} (an installed wheel) nor in "
        f"{_PACKAGE.parent / 'configs'} (a source checkout): reinstall srpo."
    )
