"""C++ programs: compiled once per run (with the image's precompiled bits/stdc++.h), each case a
native run under the same limits, `compile_error` with the compiler's message tail.

Uses the image `build_sandbox_image.sh --cpp` builds (SRPO_SANDBOX_CPP_IMAGE, default
srpo-sandbox:cpp; built on first use). One warm container, so every program here shares it.
"""

from __future__ import annotations

import textwrap

import pytest

from sandbox import TestSpec, Verdict, make_sandbox

from .conftest import docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SUM = """
#include <bits/stdc++.h>
using namespace std;
int main() { long long a, b; cin >> a >> b; cout << a + b << "\\n"; }
"""


@pytest.fixture(scope="module")
def sb(cpp_image):
    config = docker_config(
        image=cpp_image, pool_size=1, time_limit_s=2.0, memory_mb=256, output_limit_bytes=1 << 20
    )
    with make_sandbox(config) as sandbox:
        yield sandbox
    assert sandbox.containers() == []


def stdio(cases: list[tuple[str, str]], **kw) -> TestSpec:
    spec = {
        "format": "stdio",
        "language": "cpp",
        "cases": [{"input": i, "output": o} for i, o in cases],
        **kw,
    }
    return TestSpec.from_dict(spec)


def run(sb, program: str, spec: TestSpec):
    return sb.run(textwrap.dedent(program), spec)


def test_compiled_once_and_run_per_case(sb):
    cases = [(f"{i} {i * 7}\n", f"{i * 8}\n") for i in range(8)]
    result = run(sb, SUM, stdio(cases))
    assert result.all_passed, result
    assert result.compile_time_s is not None and result.compile_time_s > 0
    # one compile for the run; every case is a native start, far below any compile
    assert all(t.wall_time_s < result.compile_time_s for t in result.tests), result


def test_a_wrong_answer_is_judged_per_case(sb):
    result = run(sb, SUM.replace("a + b", "a - b"), stdio([("1 1\n", "2\n"), ("3 0\n", "3\n")]))
    assert result.verdicts == [Verdict.WRONG_ANSWER, Verdict.PASSED], result


def test_compile_error_carries_the_compilers_message(sb):
    program = """
        #include <bits/stdc++.h>
        int main() { undefined_function(42); }
    """
    result = run(sb, program, stdio([("", ""), ("", "")]))
    assert result.verdicts == [Verdict.COMPILE_ERROR] * 2, result
    t = result.tests[0]
    assert "undefined_function" in t.detail and "error:" in t.detail, t
    assert "prog.cpp:3" in t.stderr_tail, t
    assert run(sb, SUM, stdio([("2 2\n", "4\n")])).all_passed, "the next run must be unaffected"


def test_a_compile_that_never_ends_is_a_compile_error(sb):
    """The compiler is the program's: `#include "/dev/zero"` or template blow-ups hit its limits."""
    program = '#include "/dev/zero"\nint main() {}\n'
    result = run(sb, program, stdio([("", "")]))
    assert result.verdicts == [Verdict.COMPILE_ERROR], result
    assert run(sb, SUM, stdio([("2 2\n", "4\n")])).all_passed


@pytest.mark.parametrize(
    ("program", "verdict"),
    [
        ("int main() { for (;;) {} }", Verdict.TIME_LIMIT),
        (
            "#include <bits/stdc++.h>\nint main() { std::vector<std::vector<char>> v;"
            " for (;;) v.emplace_back(1 << 24, 1); }",
            Verdict.MEMORY_LIMIT,
        ),
        ('#include <cstdio>\nint main() { for (;;) std::puts("yyyyyyyyyyyyyyyy"); }', Verdict.OUTPUT_LIMIT),
        ("int main() { return 3; }", Verdict.RUNTIME_ERROR),
        ("#include <cstdlib>\nint main() { std::abort(); }", Verdict.RUNTIME_ERROR),
    ],
)
def test_limits_apply_to_native_programs(sb, program, verdict):
    result = run(sb, program, stdio([("", "")]))
    assert result.verdicts == [verdict], result


def test_a_case_cannot_touch_the_binary_or_see_another_case(sb):
    """Each case runs in a fresh dir; the binary is root's and read-only, outside the work dir."""
    program = """
        #include <bits/stdc++.h>
        #include <unistd.h>
        int main() {
            bool seen = std::ifstream("mark").good();
            std::ofstream("mark") << "x";
            char exe[4096] = {0};
            readlink("/proc/self/exe", exe, sizeof exe - 1);
            bool write_exe = std::fopen(exe, "r+") != nullptr;
            bool write_dir = std::fopen((std::string(exe) + ".x").c_str(), "w") != nullptr;
            std::cout << seen << write_exe << write_dir << "\\n";
        }
    """
    result = run(sb, program, stdio([("", "000\n")] * 3))
    assert result.all_passed, result


def test_python_still_runs_in_the_cpp_image(sb):
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "2 3\n", "output": "5\n"}]})
    assert sb.run("a, b = map(int, input().split())\nprint(a + b)\n", spec).all_passed


def test_cpp_needs_stdio():
    with pytest.raises(ValueError, match="format call needs language python"):
        TestSpec.from_dict({"format": "call", "fn_name": "f", "language": "cpp", "cases": [{"expected": 1}]})


def test_an_image_without_g_plus_plus_says_so(docker_ready):
    with make_sandbox(docker_config(pool_size=1)) as plain_image:
        result = plain_image.run(SUM, stdio([("1 2\n", "3\n")]))
    assert result.verdicts == [Verdict.SANDBOX_ERROR], result
    assert "build_sandbox_image.sh --cpp" in result.tests[0].detail, result


def test_the_code_reward_grades_cpp_rows(cpp_image):
    """A row whose spec says cpp: the reward takes the ```cpp block and runs it in the C++ image."""
    from reward_fns.dispatch import compute_score_batch

    spec = stdio([("1 2\n", "3\n"), ("5 5\n", "10\n")]).to_dict()
    info = {"domain": "code", "prompt_id": "sum-cpp", "language": "cpp"}
    responses = [
        f"Here it is:\n```cpp\n{textwrap.dedent(SUM)}```\n",  # right
        f"```cpp\n{textwrap.dedent(SUM).replace('a + b', 'a * b')}```\n",  # wrong
        "```cpp\nint main( {\n```\n",  # does not compile
        "```python\nprint(sum(map(int, input().split())))\n```\n",  # not the row's language
    ]
    kwargs = {
        "code": {"sandbox": {"backend": "docker", "image": cpp_image, "pool_size": 1, "time_limit_s": 10.0}}
    }
    results = compute_score_batch(["srpo/codegen"] * 4, responses, [spec] * 4, [info] * 4, **kwargs)
    assert [r["acc"] for r in results] == [1.0, 0.0, 0.0, 0.0], results
    assert "compile_error" in results[2]["reason"] and results[3]["reason"] == "no_code_block", results
