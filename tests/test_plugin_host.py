"""examples/plugin_host: the host survives every plugin, in-process and as users run it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, List

import pytest

import zrun
from conftest import expect_ok

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "plugin_host"

FIRST_ROUND = [
    "crasher.zip: plugin_host.plugins:boom -> error: RuntimeError: plugin bug: division by zero",
    "greeter.zip: greeter -> ok: ran",
    "greeter.zip: plugin_host.plugins:greet -> ok: hello from greeter 1.0 (using the plugin's utils)",
    "messy.zip: __main__ -> ok: ran",
    "quitter.zip: __main__ -> exit: 3",
]


@pytest.fixture
def example(clean_sys: Any) -> Iterator[ModuleType]:
    """``host.py`` imported as a module, the way ``python host.py`` sees its folder; all undone after."""
    zrun.Scope([])  # zrun's own modules are the host's, loaded before the snapshot
    state = zrun.SysState(modules=True, environ=True)
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield importlib.import_module("host")
    finally:
        state.restore()


def test_host_in_process(example: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = importlib.import_module("build_plugins")
    build.build(tmp_path)
    (tmp_path / "broken.zip").write_bytes(b"not a zip at all")
    log: List[str] = []
    host = example.PluginHost(str(tmp_path), log=log.append)
    assert [str(outcome) for outcome in host.run_all()] == FIRST_ROUND
    assert log[0].startswith("broken.zip: skipped, ") and log[1:] == FIRST_ROUND
    assert capsys.readouterr().out == "hello from greeter 1.0 (using the plugin's utils)\nquitter: giving up\n"
    assert example.host_is_intact() and sys.modules["utils"].WHO == "the host's utils"
    assert host.leftovers == {name: [] for name in ("crasher.zip", "greeter.zip", "messy.zip", "quitter.zip")}
    assert "MESSY_PLUGIN" not in os.environ and "greeter" not in sys.modules

    build.build(tmp_path, version="2.0", names=["greeter"])
    log.clear()
    second = {(outcome.plugin, outcome.entry): outcome.detail for outcome in host.run_all()}
    assert "greeter.zip: changed on disk, reloaded" in log
    assert second["greeter.zip", "plugin_host.plugins:greet"] == "hello from greeter 2.0 (using the plugin's utils)"
    os.remove(tmp_path / "greeter.zip")
    host.run_all()
    assert sorted(os.path.basename(archive) for archive in host.scopes) == ["crasher.zip", "messy.zip", "quitter.zip"]


def test_host_as_a_program(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": ""}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env)

    expect_ok(run(str(EXAMPLE / "build_plugins.py"), str(tmp_path)))
    out = expect_ok(run(str(EXAMPLE / "host.py"), str(tmp_path), "--demo-reload")).splitlines()
    second = [line.replace("greeter 1.0", "greeter 2.0") for line in FIRST_ROUND]
    assert [line for line in out if " -> " in line] == FIRST_ROUND + second
    assert out.count("hello from greeter 2.0 (using the plugin's utils)") == 1  # the package's __main__ printed
    assert "greeter.zip: changed on disk, reloaded" in out
    assert out[-1] == "host utils intact: True; sys clean after every plugin: True"
