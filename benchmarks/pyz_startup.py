"""Start-up of ``runner.pyz`` against a plain shiv app, ``python -m zrun`` and ``python -c pass``.

    python benchmarks/pyz_startup.py [--runs 21] [--pyz dist/runner.pyz]

Every command prints "hello" (``python -c pass`` aside). The commands run in
alternation, in a rotating order, so drift of the machine hits all alike;
the table gives medians and the ratio to ``python -c pass``.

- *later runs*: shiv's cache (``SHIV_ROOT``) already holds the extracted
  site-packages and the ``__pycache__`` the first run wrote;
- *first run*: every run gets an empty ``SHIV_ROOT``, so it pays for
  extraction and for compiling what it imports.

``PYTHONDONTWRITEBYTECODE`` is removed from the environment unless
``--no-write-bytecode`` is given (then nothing is cached and every run
compiles zrun from source, as on a read-only ``SHIV_ROOT``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
Command = Tuple[str, List[str], Dict[str, str]]


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_pyz", ROOT / "build_scripts" / "build_pyz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_fixtures(work: Path) -> Tuple[Path, Path]:
    """``hello.zip`` (module ``hello``) and ``hello-shiv.pyz`` (a shiv app whose entry point prints hello)."""
    hello = 'print("hello")\n'
    with zipfile.ZipFile(work / "hello.zip", "w") as archive:
        archive.writestr("hello.py", hello)
    site_packages = work / "hello-site-packages"
    site_packages.mkdir()
    (site_packages / "hello_app.py").write_text('def main():\n    print("hello")\n', encoding="utf-8")
    shiv_app = work / "hello-shiv.pyz"
    command = [sys.executable, "-m", "shiv", "--site-packages", str(site_packages), "--reproducible", "-e", "hello_app:main", "-o", str(shiv_app)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return work / "hello.zip", shiv_app


def timed(command: List[str], env: Dict[str, str], expect: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or result.stdout.strip() != expect:
        raise SystemExit(f"{' '.join(command)} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return elapsed


def measure(commands: Sequence[Command], runs: int, fresh_root: Optional[Path] = None) -> Dict[str, List[float]]:
    """Run every command ``runs`` times, alternating; with ``fresh_root``, each run gets a new SHIV_ROOT."""
    times: Dict[str, List[float]] = {name: [] for name, _, _ in commands}
    for round_ in range(runs):
        shift = round_ % len(commands)
        for name, command, env in [*commands[shift:], *commands[:shift]]:
            if fresh_root is not None:
                env = dict(env, SHIV_ROOT=str(fresh_root / f"{name}-{round_}"))
            times[name].append(timed(command, env, "" if name == "python -c pass" else "hello"))
    return times


def report(title: str, times: Dict[str, List[float]], baseline: float) -> None:
    print(f"\n{title}")
    print(f"  {'command':<34} {'median ms':>10} {'x python -c pass':>17}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<34} {median * 1000:>10.1f} {median / baseline:>17.2f}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs per command (default: %(default)s)")
    parser.add_argument("--pyz", type=Path, help="a built runner.pyz (default: build one now)")
    parser.add_argument("--no-write-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE=1 (no pyc cache)")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.no_write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="zrun-bench-") as tmp:
        work = Path(tmp)
        pyz = args.pyz.resolve() if args.pyz else load_builder().build(work / "runner.pyz")
        hello_zip, shiv_app = make_fixtures(work)
        warm_env = dict(env, SHIV_ROOT=str(work / "warm-root"))
        module_env = dict(warm_env, PYTHONPATH=str(ROOT / "src"))
        py = sys.executable
        commands: List[Command] = [
            ("python runner.pyz hello.zip:hello", [py, str(pyz), f"{hello_zip}:hello"], warm_env),
            ("python hello-shiv.pyz (plain shiv)", [py, str(shiv_app)], warm_env),
            ("python -m zrun hello.zip:hello", [py, "-m", "zrun", f"{hello_zip}:hello"], module_env),
            ("python -c pass", [py, "-c", "pass"], warm_env),
        ]
        print(f"{sys.implementation.name} {sys.version.split()[0]}, {args.runs} runs each, medians")
        measure(commands, 2)  # warm-up: extract into warm-root, write __pycache__, fill the OS cache
        later = measure(commands, args.runs)
        baseline = statistics.median(later["python -c pass"])
        report("later runs (warm shiv cache)", later, baseline)
        first = measure(commands[:2], args.runs, fresh_root=work / "cold")
        report("first run (empty SHIV_ROOT: extract + compile)", first, baseline)

        pyz_later = statistics.median(later[commands[0][0]])
        print("\nratios (later runs):")
        print(f"  runner.pyz / plain shiv app   {pyz_later / statistics.median(later[commands[1][0]]):.2f}")
        print(f"  runner.pyz / python -m zrun   {pyz_later / statistics.median(later[commands[2][0]]):.2f}")
        print(f"  first run / later run (pyz)   {statistics.median(first[commands[0][0]]) / pyz_later:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
