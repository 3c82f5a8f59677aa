"""Importing this module activates verl-on-CPU (``srpo.cpu.activate``); listed in ``srpo.verl_glue.plugin``.

Cheap on GPU machines: without ``VERL_PLATFORM=cpu`` it only registers the (never auto-detected)
platform class. With it, it also registers the CPU engines and installs the shims, in every process.
"""

from srpo.cpu import activate

CPU_SELECTED = activate()
