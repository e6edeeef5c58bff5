"""Schemathesis runs over an OpenAPI document, shared by tests/serve and tests/lab.

Each run is the ``schemathesis run`` command in its own process (its Hypothesis state stays
out of the test process) with every check on (``--checks all``), every phase (examples,
coverage, fuzzing, stateful), one worker and deterministic generation: the same cases on
every run, whatever the suite's random seed. The per-API settings (credentials, the values
of path parameters, narrow exclusions with their reasons) come as the text of a
``schemathesis.toml``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

#: Test cases per operation and phase: small, so both documents run in well under a minute.
MAX_EXAMPLES = 10


def command(location: str, base_url: str, config: Path) -> list[str]:
    """The ``schemathesis run`` command line for a document (URL or file) and an API."""
    return [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", location, "--url", base_url,
        "--checks", "all", "--workers", "1", "--no-color", "--request-timeout", "20",
        "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
    ]  # fmt: skip


def write_config(tmp: Path, text: str) -> Path:
    """``text`` as ``tmp/schemathesis.toml`` (the run also runs in ``tmp``)."""
    path = tmp / "schemathesis.toml"
    path.write_text(text, encoding="utf-8")
    return path


def report(code: int | None, output: str) -> str:
    """The assertion message of a failed run: its failures and summary, not its progress."""
    start = output.find("=== FAILURES ===")
    start = output.rfind("\n", 0, start) if start >= 0 else max(0, len(output) - 20_000)
    return f"schemathesis exited {code}:\n{output[start:][-30_000:]}"


def run(location: str, base_url: str, config_text: str, tmp: Path, timeout: float = 240) -> None:
    """Run schemathesis; fail the test with its failures unless every check passed."""
    config = write_config(tmp, config_text)
    proc = subprocess.run(
        command(location, base_url, config),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, report(proc.returncode, output)


async def run_async(
    location: str, base_url: str, config_text: str, tmp: Path, timeout: float = 240
) -> None:
    """:func:`run` for a test whose server runs on its own event loop (pytest-jupyter)."""
    config = write_config(tmp, config_text)
    proc = await asyncio.create_subprocess_exec(
        *command(location, base_url, config),
        cwd=tmp,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        raise AssertionError(report(None, out.decode(errors="replace"))) from None
    assert proc.returncode == 0, report(proc.returncode, out.decode(errors="replace"))
