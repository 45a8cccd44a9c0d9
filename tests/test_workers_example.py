"""The example host's parallel mode and the workers benchmark, run the way users run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import zrun
from conftest import expect_ok

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "plugin_host"
LEVELS = ["process", pytest.param("interpreter", marks=pytest.mark.skipif(not zrun.InterpreterWorker.available(), reason="3.14+"))]
pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("level", LEVELS)
def test_parallel_host_survives_patching_and_crashing_plugins(level: str, tmp_path: Path) -> None:
    build = [sys.executable, str(EXAMPLE / "build_plugins.py"), str(tmp_path)]
    expect_ok(subprocess.run(build, capture_output=True, text=True, timeout=60))
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "host.py"), str(tmp_path), "--parallel", level], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout  # plugins print to the same stdout from their workers: lines may interleave, so no line is assumed whole
    assert "crasher.zip: plugin_host.plugins:boom -> error: RuntimeError: plugin bug" in out
    assert "quitter.zip: __main__ -> exit: 3  [" in out
    assert "patcher: __main__ -> ok: ran  [" in out
    assert "patcher: json.dumps is now patched by a plugin" in out
    if level == "process":
        assert "segfault: __main__ -> crashed: worker process" in out and "(killed by SIGSEGV)" in out
    else:
        assert "segfault: skipped, a crash in a sub-interpreter ends the whole host process" in out
    assert "host json, environment, recursion limit and threads intact: True" in out


def test_workers_benchmark_smoke() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "workers.py"), "--quick"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| scope |" in done.stdout and "| process |" in done.stdout
    assert "| serial, zrun.Scope in the host |" in done.stdout and "process workers |" in done.stdout
    assert ("| interpreter |" in done.stdout) is zrun.InterpreterWorker.available()
