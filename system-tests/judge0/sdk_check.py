"""Drives Judge0's official Python SDK (PyPI `judge0`), unchanged, against our /judge0/ layer:
a run, test cases and a compilation error. Exits non-zero with the reason on any mismatch.

Usage: sdk_check.py ENDPOINT TOKEN   (ENDPOINT like http://127.0.0.1:PORT/judge0)
"""
import sys

import judge0

endpoint, token = sys.argv[1], sys.argv[2]
# The SDK reads /languages and /config_info on creation and /about (its version picks the
# language-id table) on first use of a language alias.
client = judge0.Client(endpoint, {"Authorization": f"Bearer {token}"})
assert client.version == "1.13.1", client.version
assert client.is_language_supported(judge0.PYTHON), "python is offered"
assert client.config.enable_batched_submissions

# A run.
result = judge0.run(client=client, source_code="print('hello, world')", language=judge0.PYTHON)
assert result.status == judge0.Status.ACCEPTED, (result.status, result.stderr, result.message)
assert result.stdout == "hello, world\n", repr(result.stdout)
assert result.time is not None and result.memory is not None

# Test cases: one submission each, sent as a batch, compared with the expected output.
results = judge0.run(
    client=client,
    source_code="a, b = map(int, input().split())\nprint(a + b)\n",
    language=judge0.PYTHON,
    test_cases=[("1 2", "3"), ("40 2", "42"), ("2 2", "5")],
)
statuses = [r.status for r in results]
assert statuses == [
    judge0.Status.ACCEPTED,
    judge0.Status.ACCEPTED,
    judge0.Status.WRONG_ANSWER,
], statuses
assert [r.stdout for r in results] == ["3\n", "42\n", "4\n"], [r.stdout for r in results]

# A compilation error, with the compiler's message.
result = judge0.run(
    client=client, source_code="int main(void) { return x; }\n", language=judge0.C
)
assert result.status == judge0.Status.COMPILATION_ERROR, result.status
assert "x" in (result.compile_output or ""), result.compile_output

# A runtime error keeps its exit code.
result = judge0.run(
    client=client, source_code="import sys\nsys.exit(3)\n", language=judge0.PYTHON
)
assert result.status == judge0.Status.RUNTIME_ERROR_NZEC, result.status
assert result.exit_code == 3, result.exit_code
print("judge0 SDK: ok")
