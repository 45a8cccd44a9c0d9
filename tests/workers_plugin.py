"""The plugin that tests/test_workers*.py run in isolated workers: one function per leak."""

from __future__ import annotations

from typing import Dict

LEAKY = """\
import atexit
import importlib
import os
import signal
import sys
import threading
import time


def pid():
    return os.getpid()


def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


def patch(module, attr):
    setattr(importlib.import_module(module), attr, lambda *args, **kwargs: "patched")
    return probe(module, attr)


def probe(module, attr):
    value = getattr(importlib.import_module(module), attr)(".")
    return value if value == "patched" else "intact"


def start_thread(seconds, daemon=False):
    threading.Thread(target=time.sleep, args=(seconds,), name="plugin-thread", daemon=daemon).start()
    return sorted(thread.name for thread in threading.enumerate())


def register_atexit(path):
    atexit.register(_touch, path)
    return True


def _touch(path):
    with open(path, "w") as stream:
        stream.write("ran")


def set_signal():
    signal.signal(signal.SIGUSR1, lambda *args: None)
    return True


def set_environ(name):
    os.environ[name] = "plugin"
    return os.environ[name]


def set_recursion_limit(limit):
    sys.setrecursionlimit(limit)
    return sys.getrecursionlimit()


def open_fd(path):
    return os.open(path, os.O_RDONLY)


def exit_hard(code):
    os._exit(code)


def segfault():
    import ctypes

    ctypes.string_at(0)


def fail():
    raise ValueError("plugin failure")


class Custom(Exception):
    pass


def fail_custom():
    raise Custom("a class only the plugin has")


def quit(code):
    sys.exit(code)


def unpicklable():
    return lambda: None


def meet(mine, other, seconds):
    open(mine, "w").close()
    deadline = time.monotonic() + seconds
    while not os.path.exists(other):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def hang_with_child(pidfile):
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(pidfile, "w") as stream:
        stream.write(str(child.pid))
    time.sleep(60)


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def allocate(megabytes):
    return len(bytearray(megabytes * 1024 * 1024))


def open_many(path, count):
    handles = []
    try:
        for _ in range(count):
            handles.append(open(path))
    except OSError as exc:
        return exc.errno, len(handles)
    finally:
        for handle in handles:
            handle.close()
    return 0, len(handles)


def spin():
    while True:
        pass


def import_named(name):
    importlib.import_module(name)
    return os.getpid()
"""

INFO = """\
import sys

if sys.version_info < (3, 10):
    from importlib_resources import files
else:
    from importlib.resources import files


def info(argument):
    return {
        "name": __name__,
        "has_file": globals().get("__file__") is not None,
        "data": files("leaky").joinpath("data.txt").read_text(),
        "argument": argument,
    }
"""

MAIN = """\
import sys

from . import _touch

_touch(sys.argv[1])
"""

FILES: Dict[str, str] = {
    "leaky/__init__.py": LEAKY,
    "leaky/info.py": INFO,
    "leaky/data.txt": "shipped data",
    "leaky/__main__.py": MAIN,
}
