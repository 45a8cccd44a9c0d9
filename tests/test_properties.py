"""Properties, with hypothesis: random trees run as runpy runs them; bad input gives typed errors only.

- A random package tree (nested packages, relative and absolute imports, data
  files, output at import time) run through zrun from every source kind prints
  what the same tree on disk prints through ``runpy``, and its globals agree
  apart from the differences listed in ``docs/compatibility.md``.
- Any string given to ``zrun.target.parse`` (and any argv to the CLI's parser)
  gives a :class:`~zrun.target.Target` or a usage error, never anything else.
- Any bytes, and any mutation of a valid archive, given to ``Archive`` give an
  index or an :class:`~zrun.errors.ArchiveError`, and reading every member
  gives bytes or an ``ArchiveError``: never ``struct.error``, ``zlib.error``,
  ``KeyError``, ``IndexError``, ``UnicodeDecodeError`` or ``MemoryError``.

Example counts are kept small (the whole file runs in well under a minute);
the fuzzers in ``fuzz/`` search the same input spaces for much longer.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import keyword
import os
import runpy
import string
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import hostile
import zrun
from conftest import write_tree, write_zip, zip_bytes
from zrun.cli.main import UsageError, parse_args
from zrun.errors import ArchiveError, TargetError
from zrun.target import Target, is_module_name, parse
from zrun.zip.archive import Archive, clear_cache

#: ``ZRUN_PROPERTY_SCALE=20 pytest tests/test_properties.py`` searches twenty times longer.
SCALE = max(1, int(os.environ.get("ZRUN_PROPERTY_SCALE") or 1))


def examples(count: int, *checks: HealthCheck) -> Any:
    return settings(max_examples=count * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, *checks])


FAST = examples(300)

# --- random package trees ----------------------------------------------------------------------

_counter = itertools.count()
LEAF_NAMES = ["alpha", "beta", "gamma", "delta", "omega", "x", "y2", "_private", "mod_a"]
PACKAGE_NAMES = ["sub", "inner", "deep", "lib_"]


class Module(NamedTuple):
    package: Tuple[str, ...]  # below the top-level package
    name: str
    value: int


class Tree(NamedTuple):
    modules: List[Module]
    data: Dict[Tuple[Tuple[str, ...], str], str]  # (package, file name) -> text
    main_package: Tuple[str, ...]
    main_is_dunder_main: bool  # run the package (its __main__) rather than a named module
    imports: List[Tuple[int, bool]]  # (module index, relative?)
    reads: List[Tuple[Tuple[str, ...], str]]
    docstring: Optional[str]
    output_end: str


packages = st.lists(st.sampled_from(PACKAGE_NAMES), max_size=2).map(tuple)


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    modules = draw(
        st.lists(
            st.builds(Module, packages, st.sampled_from(LEAF_NAMES), st.integers(-(10**6), 10**6)),
            min_size=1,
            max_size=6,
            unique_by=lambda m: (m.package, m.name),
        )
    )
    # A name may not be both a module and a package of the same parent (pkg/sub.py beside pkg/sub/).
    package_paths = {m.package[:depth] for m in modules for depth in range(1, len(m.package) + 1)}
    assume(all((*m.package, m.name) not in package_paths for m in modules))
    characters = st.characters(blacklist_categories=("Cs",))  # "\r" too: resource text has universal newlines
    text = st.text(alphabet=characters, max_size=20)
    data = draw(st.dictionaries(st.tuples(packages, st.sampled_from(["a.txt", "b.dat", "c.json"])), text, max_size=3))
    main_package = draw(st.sampled_from(sorted({(), *{m.package for m in modules}})))
    imports = draw(st.lists(st.tuples(st.integers(0, len(modules) - 1), st.booleans()), max_size=6))
    reads = draw(st.lists(st.sampled_from(sorted(data)), max_size=2)) if data else []
    docstring = draw(st.none() | st.text(alphabet=string.ascii_letters + " ", max_size=15))
    return Tree(modules, data, main_package, draw(st.booleans()), imports, reads, docstring, draw(st.sampled_from(["\n", "", " | "])))


def relative_import(main: Tuple[str, ...], target: Tuple[str, ...], name: str) -> str:
    """``from <dots><rest> import name``, as written in a module of package ``main``."""
    common = 0
    while common < min(len(main), len(target)) and main[common] == target[common]:
        common += 1
    dots = "." * (len(main) - common + 1)
    return f"from {dots}{'.'.join(target[common:])} import {name}"


def render(tree: Tree, top: str) -> Tuple[Dict[str, str], str]:
    """The tree's files and the target that runs its main module."""
    files: Dict[str, str] = {}
    for depth in range(len(tree.main_package) + 1):
        files[os.path.join(top, *tree.main_package[:depth], "__init__.py").replace(os.sep, "/")] = ""
    for module in tree.modules:
        for depth in range(len(module.package) + 1):
            files.setdefault("/".join((top, *module.package[:depth], "__init__.py")), "")
        files["/".join((top, *module.package, f"{module.name}.py"))] = (
            f"import sys\nVALUE = {module.value}\nsys.stdout.write('import ' + __name__ + '\\n')\n"
        )
    for (package, leaf), text in tree.data.items():
        for depth in range(len(package) + 1):
            files.setdefault("/".join((top, *package[:depth], "__init__.py")), "")
        files["/".join((top, *package, leaf))] = text
    lines = [f'"""{tree.docstring}"""' if tree.docstring is not None else "# no docstring", "import sys", "RESULT = []"]
    lines += [
        "if sys.version_info >= (3, 10):",
        "    import importlib.resources as resources",
        "else:",
        "    import importlib_resources as resources",
    ]
    for number, (index, relative) in enumerate(tree.imports):
        module = tree.modules[index]
        alias = f"m{number}"
        if relative:
            lines.append(relative_import(tree.main_package, module.package, f"{module.name} as {alias}"))
        else:
            lines.append(f"import {'.'.join((top, *module.package, module.name))} as {alias}")
        lines.append(f"RESULT.append(({module.name!r}, {alias}.VALUE, {alias}.__name__))")
    for package, leaf in tree.reads:
        anchor = ".".join((top, *package))
        lines.append(f"RESULT.append(resources.files({anchor!r}).joinpath({leaf!r}).read_text(encoding='utf-8'))")
    lines.append(f"print(__name__, __package__, __spec__.name, __doc__, RESULT, sep='|', end={tree.output_end!r})")
    main_leaf = "__main__" if tree.main_is_dunder_main else "runme"
    files["/".join((top, *tree.main_package, f"{main_leaf}.py"))] = "\n".join(lines) + "\n"
    target = ".".join((top, *tree.main_package)) if tree.main_is_dunder_main else ".".join((top, *tree.main_package, main_leaf))
    return files, target


def run_quietly(call: Any) -> Tuple[Dict[str, Any], str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        namespace = call()
    return namespace, out.getvalue()


def reference(root: Path, target: str) -> Tuple[Dict[str, Any], str]:
    """The same tree on disk through runpy, with sys put back afterwards."""
    state = zrun.SysState(modules=True)
    try:
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        return run_quietly(lambda: runpy.run_module(target, run_name="__main__", alter_sys=True))
    finally:
        state.restore()


KINDS = ["dir", "zip", "zipbytes", "memory", "frozen"]


def user_globals(namespace: Dict[str, Any]) -> Dict[str, Any]:
    """What the code computed; the modules it imported are different objects in every run."""
    return {key: value for key, value in namespace.items() if not key.startswith("__") and not isinstance(value, ModuleType)}


def _zip_cached_is_none() -> bool:
    """docs/compatibility.md: ``__spec__.cached`` (and ``__cached__`` where set) is None for zip modules (no such file exists)."""
    with tempfile.TemporaryDirectory() as folder:
        archive = write_zip(Path(folder, "probe.zip"), {"probe_cached.py": "import sys\n"})
        namespace = zrun.run(f"{archive}:probe_cached", isolate=True, alter_sys=False)
        return namespace["__spec__"].cached is None and namespace.get("__cached__") is None


def _resource_text_has_universal_newlines() -> bool:
    """``files(pkg).joinpath(f).read_text()`` turns \\r\\n and \\r into \\n on disk (pathlib) and in zipfile.Path."""
    code = "import importlib.resources as r\nT = r.files('probe_nl').joinpath('a.txt').read_text()\n"
    if sys.version_info < (3, 10):
        code = code.replace("importlib.resources", "importlib_resources")
    module = zrun.MemorySource({"probe_nl/__init__.py": "", "probe_nl/a.txt": b"a\r\nb\rc", "probe_nl/m.py": code})
    return zrun.run("probe_nl.m", sources=[module], isolate=True, alter_sys=False)["T"] == "a\nb\nc"


@examples(40)
@given(tree=trees())
def test_trees_run_like_runpy(tree: Tree) -> None:
    top = f"hyptree{next(_counter)}"
    files, target = render(tree, top)
    with tempfile.TemporaryDirectory() as folder:
        root = write_tree(Path(folder, "tree"), files)
        archive = write_zip(Path(folder, "tree.zip"), files)
        expected, expected_out = reference(root, target)
        sources = {
            "dir": str(root),
            "zip": str(archive),
            "zipbytes": zip_bytes(files),
            "memory": zrun.MemorySource(files),
            "frozen": zrun.FrozenSource.compile(zrun.MemorySource(files)),
        }
        for kind in KINDS:
            before = zrun.SysState(modules=True)
            try:
                got, out = run_quietly(lambda source=sources[kind]: zrun.run(target, sources=[source], isolate=True))
                assert before.diff() == [], kind
            finally:
                before.restore()
            assert out == expected_out, kind
            assert user_globals(got) == user_globals(expected), kind
            for name in ("__name__", "__package__", "__doc__"):
                assert got[name] == expected[name], (kind, name)
            assert got["__spec__"].name == expected["__spec__"].name
            assert got["__loader__"] is got["__spec__"].loader is not None
            assert ("__cached__" in got) == ("__cached__" in expected), kind  # as this version's runpy: none from 3.15
            # The documented differences: __file__ only with a real location, a cached file only for directories.
            if kind == "dir":
                assert (got["__file__"], got.get("__cached__")) == (expected["__file__"], expected.get("__cached__"))
                assert got["__spec__"].cached == expected["__spec__"].cached
            elif kind == "zip":
                suffix = expected["__file__"][len(str(root)) :].replace(os.sep, "/")
                assert got["__file__"] == str(archive) + suffix
                assert got["__spec__"].cached is None and got.get("__cached__") is None, kind  # no such file exists
            else:
                assert got["__file__"] is None and got.get("__cached__") is None and got["__spec__"].cached is None


def test_zip_module_cached_is_none() -> None:
    """Found by test_trees_run_like_runpy: the loader sets ``spec.cached = None``, but ``ModuleSpec`` derives one."""
    assert _zip_cached_is_none()


def test_resource_text_newlines() -> None:
    """Found by test_trees_run_like_runpy: a data file with \\r\\n reads back differently from disk."""
    assert _resource_text_has_universal_newlines()


# --- target strings ----------------------------------------------------------------------------

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
dotted = st.lists(identifiers, min_size=1, max_size=3).map(".".join)
paths = st.sampled_from(
    ["app.zip", "./dir", "..", ".", "a/b.pyz", "C:\\x.zip", "C:/x.whl", "/abs/app.pyz", "s.py", "b.zrf", "dir/", "x y.zip", "é.zip"]
)
pieces = st.one_of(dotted, paths, identifiers, st.sampled_from(["", ":", "::", ".", ".rel", "1x", "-", " ", "\x00", "é", "a-b", "\\"]))
target_like = st.lists(pieces, min_size=1, max_size=4).map(lambda parts: ":".join(parts))
any_text = st.text(max_size=30)


def check_target(text: str) -> None:
    try:
        target = parse(text)
    except TargetError as exc:
        assert str(exc)
        return
    assert isinstance(target, Target)
    assert target.location or target.module
    if target.module is not None:
        assert is_module_name(target.module)
        if target.module.startswith("."):  # left for runpy's own "Relative module names not supported"
            assert target.location is None and target.func is None
    if target.func is not None:
        assert target.module is not None
        assert all(part.isidentifier() for part in target.func.split("."))
    assert parse(str(target)) == target  # what it prints is what it parsed


@FAST
@given(text=st.one_of(any_text, target_like))
def test_parse_gives_a_target_or_a_target_error(text: str) -> None:
    check_target(text)


@FAST
@given(argv=st.lists(st.one_of(target_like, st.sampled_from(["-m", "--path", "--path=", "--", "-h", "-V", "-x", "--help"])), max_size=4))
def test_cli_parser_gives_a_command_or_a_usage_error(argv: List[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            target, rest, found = parse_args(list(argv))
        except (UsageError, TargetError) as exc:
            assert str(exc)
            return
        except SystemExit as exc:  # -h / -V
            assert exc.code == 0
            return
    assert isinstance(target, Target)
    assert isinstance(rest, list) and isinstance(found, list)


# --- the archive reader ------------------------------------------------------------------------

SEEDS = dict(hostile.seeds())
SEED_NAMES = sorted(SEEDS)
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE, 2**63 - 1, 2**64 - 1]


@st.composite
def mutated_zips(draw: st.DrawFn) -> bytes:
    blob = bytearray(SEEDS[draw(st.sampled_from(SEED_NAMES))])
    for _ in range(draw(st.integers(1, 4))):
        if not blob:
            break
        at = draw(st.integers(0, len(blob) - 1))
        op = draw(st.sampled_from(["flip", "u16", "u32", "u64", "cut", "insert", "delete", "splice"]))
        if op == "flip":
            blob[at] ^= 1 << draw(st.integers(0, 7))
        elif op in ("u16", "u32", "u64"):
            width = {"u16": 2, "u32": 4, "u64": 8}[op]
            value = draw(st.sampled_from(INTERESTING)) & ((1 << (8 * width)) - 1)
            blob[at : at + width] = value.to_bytes(width, "little")
        elif op == "cut":
            del blob[at:]
        elif op == "insert":
            blob[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del blob[at : at + draw(st.integers(1, 64))]
        else:  # a record from another seed
            other = SEEDS[draw(st.sampled_from(SEED_NAMES))]
            start = draw(st.integers(0, max(0, len(other) - 1)))
            blob[at:at] = other[start : start + draw(st.integers(1, 64))]
    return bytes(blob)


def check_archive(blob: bytes, folder: str) -> None:
    """Index from memory and from a file; read every member; only ArchiveErrors may come out."""
    path = os.path.join(folder, "fuzzed.zip")
    with open(path, "wb") as stream:
        stream.write(blob)
    clear_cache()
    for opener in (lambda: Archive.from_bytes(blob, label="<fuzzed>"), lambda: Archive.open(path)):
        try:
            archive = opener()
            for name in list(archive.members):
                with contextlib.suppress(ArchiveError):
                    data = archive.read(name)
                    assert len(data) == archive.members[name].size
        except ArchiveError as exc:
            assert str(exc)


@pytest.fixture(scope="module")
def scratch() -> Any:
    with tempfile.TemporaryDirectory() as folder:
        yield folder


@examples(500, HealthCheck.function_scoped_fixture)
@given(blob=mutated_zips())
def test_mutated_archives_give_archive_errors_only(blob: bytes, scratch: str) -> None:
    check_archive(blob, scratch)


@examples(300, HealthCheck.function_scoped_fixture)
@given(blob=st.one_of(st.binary(max_size=200), st.binary(max_size=40).map(lambda b: b + b"PK\x05\x06" + bytes(18))))
def test_random_bytes_give_archive_errors_only(blob: bytes, scratch: str) -> None:
    check_archive(blob, scratch)


def test_seeds_are_what_they_say() -> None:
    """The mutation base is sound: the good seeds read back, member by member."""
    for name in ("good-deflate", "good-stored", "good-bzip2", "good-lzma", "good-prefixed", "zip64", "forced-zip64"):
        archive = Archive.from_bytes(SEEDS[name])
        assert archive.members and all(archive.read(member) is not None for member in archive.members)
