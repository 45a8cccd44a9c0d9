"""Libraries that special-case zipimport, run from their published wheels through zrun.

Each case is what a user types: ``python -m zrun --path WHEEL ...`` in a real
subprocess. The wheels come from PyPI once per session into a cache folder
(``ZRUN_TEST_WHEELS``, else ``~/.cache/zrun-test-wheels``); without the
network the cases are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

import zrun
from conftest import Launcher, expect_ok, write_tree, write_zip

WHEELS = {
    "pip": "pip==24.2" if sys.version_info < (3, 15) else "pip==25.2",  # 24.2 itself fails on 3.15 (typing.no_type_check_decorator)
    "attrs": "attrs==24.2.0",
    "jinja2": "jinja2==3.1.4",
    "markupsafe": "markupsafe==2.1.5" if sys.version_info < (3, 13) else "markupsafe==3.0.3",
    "setuptools": "setuptools==75.1.0" if sys.version_info < (3, 14) else "setuptools==80.9.0",
    "pyfiglet": "pyfiglet==0.8.post1",
    "pygments": "pygments==2.18.0",
    "click": "click==8.1.7",
    "flask": "flask==3.0.3",
    "werkzeug": "werkzeug==3.0.4",
    "itsdangerous": "itsdangerous==2.2.0",
    "blinker": "blinker==1.8.2",
}


class Wheels:
    """Published wheels for this interpreter, each downloaded once (``pip download --no-deps``) when a test asks.

    A wheel that cannot be had (no network, none built for this interpreter) skips the test that asked, saying why.
    """

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def __getitem__(self, key: str) -> Path:
        requirement = WHEELS[key]
        name, _, version = requirement.partition("==")
        matches = self._matching(name, version)
        if not matches:
            command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(self.cache)]
            command.append(requirement)
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=180)
            except subprocess.TimeoutExpired:
                pytest.skip(f"pip download {requirement} timed out (no network?)")
            if result.returncode != 0:
                pytest.skip(f"no wheel: pip download {requirement} failed: {result.stderr.strip().splitlines()[-1:]}")
            matches = self._matching(name, version)
        assert matches, f"pip download {requirement} left no wheel in {self.cache}"
        return matches[0]

    def _matching(self, name: str, version: str) -> List[Path]:
        return [path for path in self.cache.glob("*.whl") if path.name.lower().startswith(f"{name.lower()}-{version}-")]


@pytest.fixture(scope="session")
def wheels() -> Wheels:
    """The wheel cache: ``ZRUN_TEST_WHEELS``, else ``~/.cache/zrun-test-wheels``, one folder per interpreter."""
    root = Path(os.environ.get("ZRUN_TEST_WHEELS") or Path.home() / ".cache" / "zrun-test-wheels")
    cache = root / f"py{sys.version_info[0]}{sys.version_info[1]}"
    cache.mkdir(parents=True, exist_ok=True)
    return Wheels(cache)


def zrun_cli(*args: str, cwd: Any = None, env: Any = None) -> subprocess.CompletedProcess[str]:
    return Launcher("module", [sys.executable, "-m", "zrun"])(*args, cwd=cwd, env=env, timeout=180)


def test_pip_installs_from_its_own_wheel(wheels: Wheels, tmp_path: Path) -> None:
    """distlib's finder registry is keyed by the exact loader type (pip prefetches its launchers at import)."""
    target = tmp_path / "target"
    expect_ok(zrun_cli(f"{wheels['pip']}:pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheels["attrs"])))
    assert (target / "attr" / "__init__.py").is_file()
    frozen = expect_ok(zrun_cli(f"{wheels['pip']}:pip", "freeze", "--path", str(target)))
    assert [line.partition(" @ ")[0] for line in frozen.splitlines()] == ["attrs"]  # installed from a file: "attrs @ file://..."
    assert "attrs-24.2.0-py3-none-any.whl" in frozen


def test_jinja2_package_loader_from_a_zip(wheels: Wheels, tmp_path: Path) -> None:
    """jinja2 checks ``isinstance(loader, zipimport.zipimporter)``, then reads ``archive``, ``get_data`` and ``_files``."""
    app = write_zip(
        tmp_path / "app.zip",
        {
            "tmplapp/__init__.py": "",
            "tmplapp/templates/hello.txt": "Hello, {{ name }}!",
            "tmplapp/templates/mail/body.txt": "body",
            "tmplapp/render.py": (
                "import jinja2\n"
                "env = jinja2.Environment(loader=jinja2.PackageLoader('tmplapp'))\n"
                "print(env.get_template('hello.txt').render(name='zip'))\n"
                "print(env.list_templates())\n"
            ),
        },
    )
    out = expect_ok(zrun_cli("--path", str(wheels["jinja2"]), "--path", str(wheels["markupsafe"]), f"{app}:tmplapp.render"))
    assert out.splitlines() == ["Hello, zip!", "['hello.txt', 'mail/body.txt']"]


def test_pkg_resources_reads_a_zipped_package(wheels: Wheels, tmp_path: Path) -> None:
    """pyfiglet 0.8 reads its fonts through pkg_resources, which asks a provider registered for the loader's type."""
    out = expect_ok(
        zrun_cli("--path", str(wheels["setuptools"]), "--path", str(wheels["pyfiglet"]), "-m", "pyfiglet", "-f", "banner", "ok")
    )
    assert [line.rstrip() for line in out.splitlines()[1:3]] == [" ####  #    #", "#    # #   #"]  # the banner font's "ok"
    app = write_zip(
        tmp_path / "res.zip",
        {
            "resapp/__init__.py": "",
            "resapp/data/one.txt": "one",
            "resapp/show.py": (
                "import pkg_resources as r\n"
                "print(r.resource_string('resapp', 'data/one.txt').decode())\n"
                "print(r.resource_isdir('resapp', 'data'), r.resource_exists('resapp', 'data/none'),\n"
                "      r.resource_listdir('resapp', 'data'))\n"
                "print(open(r.resource_filename('resapp', 'data/one.txt')).read())\n"
            ),
        },
    )
    env = {"PYTHON_EGG_CACHE": str(tmp_path / "eggs")}
    out = expect_ok(zrun_cli("--path", str(wheels["setuptools"]), f"{app}:resapp.show", env=env))
    assert out.splitlines() == ["one", "True False ['one.txt']", "one"]


def test_metadata_of_path_archives(wheels: Wheels, tmp_path: Path) -> None:
    """``importlib.metadata`` asks meta-path finders for ``find_distributions``; --path archives are not on sys.path."""
    script = tmp_path / "v.py"
    script.write_text(
        "import importlib.metadata as m\n"
        "print(m.version('attrs'))\n"
        "print(m.version('pygments'), [e.value for e in m.distribution('pygments').entry_points if e.name == 'pygmentize'])\n"
        "print(m.distribution('pygments').read_text('WHEEL').splitlines()[1])\n",
        encoding="utf-8",
    )
    out = expect_ok(zrun_cli("--path", str(wheels["attrs"]), "--path", str(wheels["pygments"]), str(script)))
    # the archive's pygments, ahead of any installed one (pytest brings one)
    assert out.splitlines() == ["24.2.0", "2.18.0 ['pygments.cmdline:main']", "Generator: hatchling 1.24.2"]


def test_argv_is_changed_in_place(wheels: Wheels) -> None:
    """pygments' ``def main(args=sys.argv)`` holds the list object from its import."""
    out = expect_ok(zrun_cli("--path", str(wheels["pygments"]), "pygments.cmdline:main", "-V"))
    assert out.startswith("Pygments version 2.18.0")


def test_click_names_a_function_target_like_a_console_script(wheels: Wheels, tmp_path: Path) -> None:
    """click reads ``__main__.__package__``: zrun's own ``__main__`` made it ``python -m zrun.cli.main``."""
    app = write_zip(
        tmp_path / "cliapp.zip", {"greet/__init__.py": "", "greet/cli.py": "import click\n@click.command()\ndef main():\n    'Greets.'\n"}
    )
    out = expect_ok(zrun_cli("--path", str(wheels["click"]), f"{app}:greet.cli:main", "--help"))
    assert out.splitlines()[0] == "Usage: cli.py [OPTIONS]"


def test_flask_version_reads_the_metadata_of_its_path_wheels(wheels: Wheels) -> None:
    """``flask --version`` asks importlib.metadata for Flask's and Werkzeug's versions."""
    needed = ("flask", "werkzeug", "itsdangerous", "blinker", "click", "jinja2", "markupsafe")
    paths = [arg for key in needed for arg in ("--path", str(wheels[key]))]
    out = expect_ok(zrun_cli(*paths, "flask.cli:main", "--version"))
    assert out.splitlines()[1:] == ["Flask 3.0.3", "Werkzeug 3.0.4"]


# --- what a target sees of its command line, without downloads ----------------------


def test_function_target_default_argument_sees_the_new_argv(tmp_path: Path, clean_sys: Any) -> None:
    write_tree(tmp_path, {"argvmod.py": "import sys\ndef main(args=sys.argv):\n    return list(args)\n"})
    sys.path.insert(0, str(tmp_path))
    try:
        with zrun.SysState(modules=True):
            assert zrun.run("argvmod:main", ["-V"]) == [str(tmp_path / "argvmod.py"), "-V"]
    finally:
        sys.path.remove(str(tmp_path))
        sys.path_importer_cache.pop(str(tmp_path), None)


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.orig_argv is new in 3.10")
def test_orig_argv_is_what_python_app_would_give(tmp_path: Path) -> None:
    """pex re-executes itself from ``sys.orig_argv``; under an interpreter without zrun that must still work."""
    app = write_zip(
        tmp_path / "app.pex",
        {
            "__main__.py": (
                "import json, os, subprocess, sys\n"
                "if os.environ.get('REEXECUTED'):\n"
                "    print(json.dumps({'child': sys.argv[1:]}))\n"
                "else:\n"
                "    print(json.dumps(sys.orig_argv[1:]))\n"
                "    env = dict(os.environ, REEXECUTED='1', PYTHONNOUSERSITE='1')\n"
                "    base = getattr(sys, '_base_executable', sys.executable)\n"
                "    sys.stdout.flush()\n"
                "    subprocess.run([base, '-S', *sys.orig_argv[1:]], env=env, check=True)\n"
            )
        },
    )
    out = expect_ok(zrun_cli(str(app), "a", "b"))
    assert [json.loads(line) for line in out.splitlines()] == [[str(app), "a", "b"], {"child": ["a", "b"]}]


def test_a_file_named_without_suffix_is_a_path(tmp_path: Path) -> None:
    """A shiv or pex build is often named like a command (``greeter``); ``python greeter`` runs it."""
    write_zip(tmp_path / "greeter", {"__main__.py": "import sys\nprint('greeted', sys.argv[1:])\n"})
    assert expect_ok(zrun_cli("greeter", "x", cwd=tmp_path)) == "greeted ['x']\n"
    from zrun.target import parse

    assert parse("app.pex") == zrun.Target(location="app.pex")


def test_missing_module_named_like_a_folder_says_how_to_run_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {"toolbox/__main__.py": "print('ran')\n"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(zrun.NotRunnable) as info:
        zrun.run("toolbox", isolate=True)
    hint = "'toolbox' is a directory here: run it as './toolbox', or a module inside it as './toolbox:MODULE'"
    assert str(info.value) == f"No module named toolbox; {hint}"


# --- pkgutil and importlib.metadata over every kind of source ----------------------

TREE = {
    "walked/__init__.py": "",
    "walked/alpha.py": "",
    "walked/sub/__init__.py": "",
    "walked/sub/beta.py": "",
    "walked/data/readme.txt": "not a module",
    "walked_probe.py": (
        "import pkgutil, walked\n"
        "LISTED = sorted((m.name, m.ispkg) for m in pkgutil.iter_modules(walked.__path__))\n"
        "WALKED = sorted(m.name for m in pkgutil.walk_packages(walked.__path__, 'walked.'))\n"
        "import importlib.metadata as md\n"
        "VERSION = md.version('walked-dist')\n"
        "POINTS = [e.value for e in md.distribution('walked_dist').entry_points]\n"
    ),
    "walked_dist-1.5.dist-info/METADATA": "Metadata-Version: 2.1\nName: walked-dist\nVersion: 1.5\n",
    "walked_dist-1.5.dist-info/entry_points.txt": "[console_scripts]\nwalk = walked.alpha:main\n",
}


def test_pkgutil_and_metadata_inside_a_source(make_tree: Any, clean_sys: Any) -> None:
    tree = make_tree(TREE)
    namespace = zrun.run("walked_probe", sources=tree.sources, isolate=True)
    assert namespace["LISTED"] == [("alpha", False), ("sub", True)]
    assert namespace["WALKED"] == ["walked.alpha", "walked.sub", "walked.sub.beta"]
    assert namespace["VERSION"] == "1.5"
    assert namespace["POINTS"] == ["walked.alpha:main"]


def test_pkgutil_lists_a_zip_on_sys_path_served_by_zrun(tmp_path: Path, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "listed.zip", {name: data for name, data in TREE.items() if name.startswith("walked/")})
    import pkgutil

    sys.path.insert(0, str(archive))
    zrun.install()
    try:
        with zrun.SysState(modules=True):
            listed: List[Any] = [(m.name, m.ispkg, type(m.module_finder).__name__) for m in pkgutil.iter_modules([str(archive)])]
            assert listed == [("walked", True, "SourceFinder")]
            import walked

            assert sorted(m.name for m in pkgutil.iter_modules(walked.__path__)) == ["alpha", "sub"]
    finally:
        zrun.uninstall()
        sys.path.remove(str(archive))


def test_traceback_keeps_the_users_own_import_module_frames(tmp_path: Path) -> None:
    """Only the frames of zrun importing the target are hidden; the rest is what ``python script.py`` prints."""
    script = write_tree(tmp_path, {"imports.py": "import importlib\nimportlib.import_module('zz_no_such_module')\n"}) / "imports.py"
    direct = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    through = zrun_cli(str(script), cwd=tmp_path)
    assert through.returncode == direct.returncode == 1
    assert "import_module" in direct.stderr
    assert through.stderr == direct.stderr
