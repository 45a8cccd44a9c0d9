"""Scopes over every source kind: the host's sys comes back exactly, whatever the plugin did."""

from __future__ import annotations

import gc
import os
import sys
import threading
import zipfile
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List

import pytest

import zrun
from conftest import Files, expect_ok, run_python, write_tree, write_zip
from zrun.engine.syslock import LockTimeout

PLUGIN: Files = {
    "utils.py": "WHO = 'plugin'\n",
    "helpers/__init__.py": "WHO = 'plugin helpers'\n",
    "colorsys.py": "WHO = 'plugin colorsys'\n",
    "__main__.py": "import sys\nTOP = sys.argv[1:]\n",
    "plug/__init__.py": "import utils\nLOADED = utils.WHO\n",
    "plug/__main__.py": "import sys, utils\nRESULT = (utils.WHO, sys.argv[1:])\n",
    "plug/api.py": "import utils\n\ndef double(x, *, times=2):\n    return x * times\n\ndef who():\n    return utils.WHO\n",
    "plug/echo.py": "VALUE = GIVEN + 1\n",
    "plug/version.py": "VERSION = 1\n",
    "plug/work.py": (
        "import scope_probe\n"
        "scope_probe.enter()\n"
        "try:\n"
        "    BARRIER.wait(5)\n"
        "    OUT = SEED * 2\n"
        "finally:\n"
        "    scope_probe.leave()\n"
    ),
    "plug/serial.py": (
        "import sys, time, scope_probe\n"
        "scope_probe.enter()\n"
        "time.sleep(0.005)\n"
        "ARGV = list(sys.argv[1:])\n"
        "scope_probe.leave()\n"
    ),
    "plug/wait.py": "STARTED.set()\nGATE.wait(5)\nDONE = True\n",
    "plug/messy.py": (
        "import io, os, sys\n"
        "sys.path.append('/nowhere')\n"
        "sys.argv = ['rebound']\n"
        "sys.meta_path.append(object())\n"
        "sys.path_hooks.append(len)\n"
        "sys.path_importer_cache['/nowhere'] = None\n"
        "sys.modules['leaked_name'] = sys.modules['plug']\n"
        "sys.stdout = io.StringIO()\n"
        "sys.excepthook = print\n"
        "sys.setrecursionlimit(sys.getrecursionlimit() + 17)\n"
        "sys.dont_write_bytecode = not sys.dont_write_bytecode\n"
        "def fail(how):\n"
        "    if how == 'raise':\n"
        "        raise RuntimeError('plugin bug')\n"
        "    sys.exit(3)\n"
    ),
    "plug/meta.py": "import importlib.metadata\ndef version():\n    return importlib.metadata.version('zrun-scope-demo')\n",
    "zrun_scope_demo-1.2.3.dist-info/METADATA": "Metadata-Version: 2.1\nName: zrun-scope-demo\nVersion: 1.2.3\n",
    "plug/env.py": "import os\ndef change(where):\n    os.environ['ZRUN_SCOPE_TEST'] = 'set'\n    os.chdir(where)\n",
    "sys.py": "raise RuntimeError('a plugin cannot replace sys')\n",
    "zrun/__init__.py": "raise RuntimeError('a plugin cannot replace zrun')\n",
}


class Probe:
    """How many plugin runs are inside the probed region at once, at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1


@pytest.fixture
def host(clean_sys: Any) -> Iterator[SimpleNamespace]:
    """Modules a host imported before any scope: ``utils``, ``helpers``(+``.sub``), a probe."""
    utils, helpers, sub, probe = ModuleType("utils"), ModuleType("helpers"), ModuleType("helpers.sub"), ModuleType("scope_probe")
    utils.WHO, helpers.__path__, sub.X = "host", [], 1  # type: ignore[attr-defined]
    state = Probe()
    probe.enter, probe.leave, probe.state = state.enter, state.leave, state  # type: ignore[attr-defined]
    added = {"utils": utils, "helpers": helpers, "helpers.sub": sub, "scope_probe": probe}
    sys.modules.update(added)
    yield SimpleNamespace(probe=state, **{name.replace(".", "_"): module for name, module in added.items()})
    for name in added:
        del sys.modules[name]


@pytest.fixture
def strict() -> Iterator[Callable[[], List[str]]]:
    """All of sys.modules compared, not only the names clean_sys protects."""
    zrun.Scope([])  # zrun's own modules are loaded before the snapshot, as in a host
    state = zrun.SysState(modules=True)
    yield state.diff


def test_exit_puts_sys_back(make_tree: Any, host: Any, strict: Any) -> None:
    scope = zrun.Scope(make_tree(PLUGIN).sources)
    with scope:
        assert scope.import_module("plug").LOADED == "plugin"
        assert scope.call("plug.api:who") == "plugin"
        assert scope.import_module("helpers").WHO == "plugin helpers"
        assert scope.import_module("colorsys").WHO == "plugin colorsys"  # before the stdlib's too
        assert "helpers.sub" not in sys.modules  # the host's submodule is not the plugin's
        assert {"plug", "plug.api", "utils", "helpers"} <= set(scope.modules)
        assert scope.diff() != []  # while entered, the scope's own changes show
    assert sys.modules["utils"] is host.utils and sys.modules["helpers"] is host.helpers
    assert sys.modules["helpers.sub"] is host.helpers_sub and host.utils.WHO == "host"
    assert "plug" not in sys.modules and "plug.api" not in sys.modules
    assert {"plug", "plug.api", "utils", "helpers"} <= set(scope.modules)
    assert scope.diff() == [] and strict() == []


def test_run_restores_argv_and_main(make_tree: Any, host: Any, strict: Any) -> None:
    argv, argv_items, main = sys.argv, list(sys.argv), sys.modules["__main__"]
    with zrun.Scope(make_tree(PLUGIN).sources) as scope:
        assert scope.run("plug", ["-v"])["RESULT"] == ("plugin", ["-v"])
        assert scope.run("__main__", ["x"])["TOP"] == ["x"]
        assert sys.argv is argv and sys.argv == argv_items and sys.modules["__main__"] is main
        echo = scope.run_module("plug.echo", {"GIVEN": 1}, run_name="echo")
        assert (echo["VALUE"], echo["__name__"]) == (2, "echo")
        assert scope.run_module("plug", alter_sys=True)["RESULT"][0] == "plugin"
    assert sys.argv is argv and sys.modules["__main__"] is main and strict() == []


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_plugin_that_fails_leaves_no_trace(make_tree: Any, host: Any, strict: Any, how: str) -> None:
    scope = zrun.Scope(make_tree(PLUGIN).sources)
    stdout, hook, limit = sys.stdout, sys.excepthook, sys.getrecursionlimit()
    with pytest.raises(RuntimeError if how == "raise" else SystemExit):
        with scope:
            scope.call("plug.messy:fail", how)
    assert (sys.stdout, sys.excepthook, sys.getrecursionlimit()) == (stdout, hook, limit)
    assert "/nowhere" not in sys.path and "leaked_name" not in sys.modules
    assert scope.diff() == [] and strict() == []


def test_diff_reports_what_came_back(make_tree: Any, host: Any) -> None:
    scope = zrun.Scope(make_tree(PLUGIN).sources)
    with scope:
        scope.import_module("plug")
    stdout = sys.stdout
    sys.path.append("/late")
    sys.modules["plug"] = ModuleType("plug")
    sys.stdout = open(os.devnull, "w")
    try:
        assert scope.diff() == [f"sys.path changed: {sys.path[:-1]!r} -> {sys.path!r}", "sys.modules['plug'] added", "sys.stdout replaced"]
    finally:
        sys.stdout.close()
        sys.stdout = stdout
        sys.path.remove("/late")
        del sys.modules["plug"]
    assert scope.diff() == []


def test_restore_environ_and_cwd(make_tree: Any, host: Any, tmp_path: Path) -> None:
    cwd = os.getcwd()
    with zrun.Scope(make_tree(PLUGIN).sources, restore_environ=True, restore_cwd=True) as scope:
        scope.call("plug.env:change", str(tmp_path))
        assert os.environ["ZRUN_SCOPE_TEST"] == "set" and os.getcwd() == str(tmp_path)
    assert "ZRUN_SCOPE_TEST" not in os.environ and os.getcwd() == cwd and scope.diff() == []
    try:  # both are opt-in: by default they are the host's business
        with zrun.Scope(make_tree(PLUGIN).sources) as scope:
            scope.call("plug.env:change", str(tmp_path))
        assert os.environ["ZRUN_SCOPE_TEST"] == "set" and os.getcwd() == str(tmp_path)
    finally:
        os.environ.pop("ZRUN_SCOPE_TEST", None)
        os.chdir(cwd)


def test_reenter_nest_and_use_outside(make_tree: Any, host: Any, strict: Any) -> None:
    scope = zrun.Scope(make_tree(PLUGIN).sources)
    with scope:
        with scope:
            scope.import_module("plug")
        assert "plug" in sys.modules  # only the outermost exit restores
    assert "plug" not in sys.modules
    with scope:
        assert scope.import_module("plug.api").double(2) == 4
    api = scope.import_module("plug.api")  # not entered: entered for the call only
    assert api.who() == "plugin" and "plug.api" not in sys.modules
    assert scope.diff() == [] and strict() == []


def test_metadata_of_sources_on_disk(make_tree: Any, host: Any, strict: Any) -> None:
    tree = make_tree(PLUGIN)
    if not tree.has_location:
        pytest.skip("importlib.metadata reads sys.path entries on disk only")
    with zrun.Scope(tree.sources) as scope:
        assert scope.call("plug.meta:version") == "1.2.3"
    assert scope.diff() == [] and strict() == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/self/fd")
def test_metadata_of_a_replaced_archive_is_its_new_content(tmp_path: Path) -> None:
    """importlib.metadata caches a zipfile per ``sys.path`` entry (3.10+): a scope's archive must not stay open
    after the scope; and once a host replaces it (a plugin update), the next scope sees its new metadata."""
    plugin = tmp_path / "plug.zip"

    def build(version: str) -> None:
        files = {
            "plugmeta/__init__.py": "import importlib.metadata as m\n\ndef version():\n    return m.version('plugmeta')\n",
            "plugmeta-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: plugmeta\nVersion: {version}\n",
        }
        write_zip(tmp_path / "next.zip", files)
        os.replace(tmp_path / "next.zip", plugin)

    def held_open() -> List[str]:
        links = [os.path.join("/proc/self/fd", fd) for fd in os.listdir("/proc/self/fd")]
        return [link for link in links if os.path.exists(link) and os.readlink(link) == str(plugin)]

    build("1.0")
    with zrun.Scope([str(plugin)]) as scope:
        assert scope.call("plugmeta:version") == "1.0"
    gc.collect()  # zipfile.Path's objects form cycles: unreachable is the point, not collected yet
    assert held_open() == []
    build("2.0")
    with zrun.Scope([str(plugin)]) as scope:
        assert scope.call("plugmeta:version") == "2.0"


def test_builtins_and_zrun_are_never_shadowed(make_tree: Any, host: Any) -> None:
    with zrun.Scope(make_tree(PLUGIN).sources) as scope:
        assert scope.import_module("sys") is sys and scope.import_module("zrun") is zrun
        assert scope.call("plug.api:double", 21) == 42


def test_zrun_own_modules_are_never_dropped(tmp_path: Path) -> None:
    """zrun's lazily imported modules are the host's: a fresh process, first run inside a scope."""
    app = write_zip(tmp_path / "app.zip", {"__main__.py": "X = 1\n"})
    code = (
        "import sys, zrun\n"
        "scope = zrun.Scope([])\n"
        f"with scope:\n    scope.run({str(app)!r})\n"
        "print([name for name in scope.modules if name.startswith('zrun')], 'zrun.frozen' in sys.modules, scope.diff())\n"
    )
    assert expect_ok(run_python(code)).strip() == "[] True []"


def test_isolate_false_keeps_modules_until_reload(make_tree: Any, host: Any) -> None:
    scope = zrun.Scope(make_tree(PLUGIN).sources, isolate=False)
    with scope:
        plug = scope.import_module("plug")
    assert sys.modules["plug"] is plug and sys.modules["utils"] is host.utils  # clashes still resolve to the host
    assert scope.reload() is False
    assert "plug" not in sys.modules and "plug.api" not in sys.modules


def test_call_errors(make_tree: Any, host: Any) -> None:
    tree = make_tree(PLUGIN)
    with zrun.Scope(tree.sources) as scope:
        with pytest.raises(zrun.NotRunnable, match=r"No module named plug\.nothing"):
            scope.call("plug.nothing:f")
        with pytest.raises(zrun.NotRunnable, match="has no attribute 'nope'"):
            scope.call("plug.api:nope")
        with pytest.raises(zrun.TargetError, match="not 'module:function'"):
            scope.call("plug.api")
        with pytest.raises(zrun.TargetError, match="not one of this scope's sources"):
            scope.call("/elsewhere.zip:plug.api:double", 1)
        if tree.location is not None:
            assert scope.call(f"{tree.location}:plug.api:double", 2, times=5) == 10


def _rewrite(tree: Any, files: Files) -> None:
    if tree.kind == "dir":
        write_tree(Path(tree.location), files)
    else:
        partial = Path(tree.location + ".partial")
        write_zip(partial, files)
        os.replace(partial, tree.location)


def test_reload_sees_new_code(make_tree: Any, host: Any, strict: Any) -> None:
    tree = make_tree(PLUGIN)
    if tree.kind not in ("dir", "zip"):
        pytest.skip("only sources on disk can change")
    with zrun.Scope(tree.sources) as scope:
        assert scope.import_module("plug.version").VERSION == 1
        _rewrite(tree, {**PLUGIN, "plug/version.py": "VERSION = 22\n"})
        assert scope.stale is (tree.kind == "zip")  # a directory has no cheap change stamp
        assert scope.reload() is (tree.kind == "zip")
        assert "plug" not in sys.modules
        assert scope.import_module("plug.version").VERSION == 22
    assert scope.diff() == [] and strict() == []


def _threads(count: int, work: Callable[[int], Any]) -> Dict[int, Any]:
    results: Dict[int, Any] = {}

    def one(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException as exc:  # reported below, on the test's thread
            results[index] = exc

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_parallel_runs_in_an_entered_scope(make_tree: Any, host: Any, strict: Any) -> None:
    barrier = threading.Barrier(8)  # inside the plugin: passes only if all 8 runs are in at once
    with zrun.Scope(make_tree(PLUGIN).sources) as scope:

        def run(i: int) -> Any:
            return scope.run_module("plug.work", {"SEED": i, "BARRIER": barrier})["OUT"], scope.call("plug.api:double", i)

        results = _threads(8, run)
    assert results == {i: (2 * i, 2 * i) for i in range(8)}
    assert host.probe.peak == 8
    assert scope.diff() == [] and strict() == []


def test_runs_that_alter_sys_are_serialised(make_tree: Any, host: Any, strict: Any) -> None:
    tree = make_tree(PLUGIN)
    results = _threads(8, lambda i: zrun.Scope(tree.sources).run("plug.serial", [str(i)])["ARGV"])
    assert results == {i: [str(i)] for i in range(8)}
    assert host.probe.peak == 1
    assert strict() == []


def test_lock_timeout(make_tree: Any, host: Any) -> None:
    tree = make_tree(PLUGIN)
    holder = zrun.Scope(tree.sources)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder:
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(10)
        with pytest.raises(LockTimeout, match=r"could not enter the scope within 0\.05 s"):
            with zrun.Scope(tree.sources, lock_timeout=0.05):
                pass
        assert holder.call("plug.api:double", 4) == 8  # alter_sys=False: shares the entered scope
        holder.lock_timeout = 0.05
        with pytest.raises(LockTimeout):
            holder.run("plug", [])  # alters sys: waits for the thread that entered
    finally:
        release.set()
        thread.join(10)
    assert issubclass(LockTimeout, zrun.ZrunError) and issubclass(LockTimeout, TimeoutError)


def test_exit_waits_for_parallel_runs(make_tree: Any, host: Any) -> None:
    scope = zrun.Scope(make_tree(PLUGIN).sources)
    entered, exiting, exited, started, gate = (threading.Event() for _ in range(5))

    def owner() -> None:
        with scope:
            entered.set()
            started.wait(10)
            exiting.set()
        exited.set()

    thread = threading.Thread(target=owner)
    thread.start()
    entered.wait(10)
    runs = threading.Thread(target=lambda: scope.run_module("plug.wait", {"STARTED": started, "GATE": gate}))
    runs.start()
    assert exiting.wait(10)
    assert not exited.wait(0.2) and "plug" in sys.modules  # sys is not pulled from under the run
    gate.set()
    runs.join(10)
    thread.join(10)
    assert exited.is_set() and "plug" not in sys.modules and scope.diff() == []


def _fd_count() -> int:
    for folder in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(folder):
            return len(os.listdir(folder))
    pytest.skip("no way to count open file descriptors here")


def _rss() -> int:
    try:
        with open("/proc/self/statm") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def test_thousand_replace_and_rerun_cycles(tmp_path: Path, clean_sys: Any) -> None:
    """Hot reload: a zip replaced on disk 1000 times; new code each run, no fd or memory growth.

    Memory is counted as live interpreter blocks (every object, frame and code
    object is one or more), which a leak of even one object per cycle shows,
    and as RSS for everything else. tracemalloc is not used: the interpreter's
    table of interned names churns (the plugin's names die with it) and its
    periodic resize looks like a one-off megabyte of growth.
    """
    path = tmp_path / "plugin.zip"

    def build(version: int) -> None:
        partial = tmp_path / "plugin.partial"
        with zipfile.ZipFile(partial, "w") as archive:
            archive.writestr("plug/__init__.py", "from .helper import twice\n")
            archive.writestr("plug/helper.py", "def twice(x):\n    return 2 * x\n")
            archive.writestr("plug/__main__.py", f"import sys\nfrom plug import twice\nVERSION = twice({version})\n")
        os.replace(partial, path)

    build(0)
    scope = zrun.Scope(str(path))
    for cycle in range(1000):
        build(cycle)
        current = scope if cycle % 2 else zrun.Scope(str(path))  # a kept scope, and fresh ones
        if current.stale:
            current.reload()
        with current:
            assert current.run("plug")["VERSION"] == 2 * cycle
        if cycle == 99:
            gc.collect()
            fds, blocks, rss = _fd_count(), sys.getallocatedblocks(), _rss()
    gc.collect()
    growth = _fd_count() - fds, sys.getallocatedblocks() - blocks, _rss() - rss
    print(f"after 900 more cycles: {growth[0]:+d} fds, {growth[1]:+d} blocks, {growth[2]:+d} bytes RSS")
    assert growth[0] <= 0
    assert growth[1] < 900  # fewer than one object per cycle
    assert growth[2] < 2 * 1024 * 1024
