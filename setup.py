"""Package list for setuptools (everything else is in pyproject.toml).

The repository keeps its Hydra configs in ``configs/`` at the top, where users look for them; the
wheel must carry them too, so ``configs/`` and its sub-folders are installed as the package
``srpo.configs`` (found again by ``srpo.paths.config_dir``). pyproject.toml cannot map a folder
outside a package into it while also discovering packages, hence this file.
"""

from pathlib import Path

from setuptools import find_packages, setup

CONFIG_PACKAGES = {
    ".".join(("srpo", *folder.parts)): str(folder)
    for folder in sorted([Path("configs"), *Path("configs").rglob("*")])
    if folder.is_dir() and any(folder.glob("*.yaml"))
}

setup(
    packages=find_packages(include=["srpo*", "sandbox*", "reward_fns*"]) + list(CONFIG_PACKAGES),
    package_dir=CONFIG_PACKAGES,
)
