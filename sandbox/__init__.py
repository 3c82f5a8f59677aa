"""Run untrusted, model-written programs against test cases in isolated Docker containers."""

from sandbox.api import (
    DEFAULT_IMAGE,
    AssertCase,
    BadTestSpec,
    CallCase,
    ImageMissing,
    RunResult,
    Sandbox,
    SandboxConfig,
    SandboxError,
    SandboxUnavailable,
    StdioCase,
    TestResult,
    TestSpec,
    Verdict,
)
from sandbox.factory import make_sandbox

__all__ = [
    "DEFAULT_IMAGE",
    "AssertCase",
    "BadTestSpec",
    "CallCase",
    "ImageMissing",
    "RunResult",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "StdioCase",
    "TestResult",
    "TestSpec",
    "Verdict",
    "make_sandbox",
]
