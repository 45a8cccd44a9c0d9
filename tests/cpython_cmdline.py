"""Run CPython's own ``test.test_cmd_line_script`` with every script and module it starts run by zrun.

The test module starts interpreters through ``test.support.script_helper``,
which calls ``subprocess.Popen([sys.executable, *options, *target])``. Here
``subprocess.Popen`` is replaced, in this process only, by :class:`ThroughZrun`,
which puts ``-m zrun`` in front of the target of such a command line:

- ``python OPTIONS -m MOD ARGS``  becomes ``python OPTIONS -m zrun -m MOD ARGS``
- ``python OPTIONS PATH ARGS``    becomes ``python OPTIONS -m zrun PATH ARGS``

so the interpreter options (``-I``, ``-E``, ``-W``, ``-X``...) still apply to
the interpreter that runs zrun. ``-c``, stdin and bare REPL starts have no
target for zrun and are left alone, and tests made only of those are not run
(see :data:`NO_TARGET`). Used by ``test_cpython_cmdline.py`` in a subprocess;
prints one JSON object: which tests ran, how many command lines went
through zrun, which tests failed or errored (with their tracebacks), which
were skipped.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import unittest
from typing import Any, Iterator, List, Sequence

#: Options of the ``python`` command line whose value is the next word (or the rest of the word).
VALUED_FLAGS = "WX"
VALUED_LONG_OPTIONS = ("--check-hash-based-pycs",)

#: Tests that start no script, directory, zip file or module (``-c``, stdin,
#: the REPL): zrun has nothing to run in them, so they would test the bare
#: interpreter and only pad the count of passes. Every other test of the
#: module runs; all of them together take a few seconds, so none is dropped
#: for time.
NO_TARGET = (
    "test_dash_c_loader",
    "test_stdin_loader",
    "test_repl_stdout_flush",
    "test_repl_stdout_flush_separate_stderr",
    "test_repl_stderr_flush",
    "test_repl_stderr_flush_separate_stderr",
    "test_issue8202_dash_c_file_ignored",
    "test_source_lines_are_shown_when_running_source",
)


def through_zrun(command: Sequence[str]) -> List[str]:
    """``command`` (``[python, *options, *target]``) with ``-m zrun`` inserted before its target."""
    words = list(command)
    index = 1
    while index < len(words):
        word = words[index]
        if word == "--":
            return [*words[:index], "-m", "zrun", *words[index:]]
        if word.startswith("--"):
            index += 2 if word in VALUED_LONG_OPTIONS else 1
            continue
        if word == "-":
            return words  # the script comes from stdin
        if not word.startswith("-"):
            return [*words[:index], "-m", "zrun", *words[index:]]
        for position, flag in enumerate(word[1:], start=1):
            if flag == "c":
                return words
            if flag == "m":
                flags, rest = word[:position], word[position + 1 :]
                module = [rest] if rest else []
                return [*words[:index], *([flags] if flags != "-" else []), "-m", "zrun", "-m", *module, *words[index + 1 :]]
            if flag in VALUED_FLAGS:
                if position == len(word) - 1:
                    index += 1  # the value is the next word
                break
        index += 1
    return words


class ThroughZrun(subprocess.Popen):  # type: ignore[type-arg]
    """``subprocess.Popen`` that runs the targets of this interpreter's command lines through zrun."""

    #: How many command lines were sent through zrun: the report shows zrun really ran.
    rewritten = 0

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        if isinstance(args, (list, tuple)) and args and args[0] == sys.executable:
            changed = through_zrun(args)
            if changed != list(args):
                ThroughZrun.rewritten += 1
            args = changed
        super().__init__(args, *rest, **kwargs)


def _tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests(item)
        else:
            yield item


def _name(test: unittest.TestCase) -> str:
    """``CmdLineTest.test_x``: the id without the module, as ``DOCUMENTED`` lists it."""
    return test.id().rpartition("test_cmd_line_script.")[2]


def main() -> int:
    subprocess.Popen = ThroughZrun  # type: ignore[misc]
    from test import test_cmd_line_script

    loaded = unittest.defaultTestLoader.loadTestsFromModule(test_cmd_line_script)
    suite = unittest.TestSuite(test for test in _tests(loaded) if test.id().rpartition(".")[2] not in NO_TARGET)
    ran = sorted(_name(test) for test in _tests(suite))  # the run empties the suite
    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    broken = sorted(_name(test) for test, _ in result.failures + result.errors)
    skipped = sorted(_name(test) for test, _ in result.skipped)
    details = {_name(test): trace for test, trace in result.failures + result.errors}
    report = {"ran": ran, "through_zrun": ThroughZrun.rewritten, "broken": broken, "skipped": skipped, "details": details}
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
