"""zrun's own modules import each other without circles, and each module stays small.

Read from the source files, as ``farm-studio look`` reads them: every ``import``
counts, the lazy ones inside functions too (a lazy import is still a
dependency, only a later one); imports under ``if TYPE_CHECKING:`` do not run
and do not count. The circles checked are those through the archive reader
(``zrun.zip``), the loader family (``zrun.loading``), the command line
(``zrun.cli``), ``zrun.pyz`` and ``zrun.cache.shiv``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set

import zrun

PACKAGE = Path(zrun.__file__).parent
#: The modules whose circles this file checks: (prefix, or exact name).
CHECKED = ("zrun.zip.", "zrun.loading.", "zrun.cli.", "zrun.pyz", "zrun.cache.shiv")


def module_names() -> Dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _runs(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that runs, skipping the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                yield child
                yield from _runs(child)
            continue
        yield node
        yield from _runs(node)


def imports_of(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    """The zrun modules that module ``name`` (at ``path``) imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: Set[str] = set()
    for node in _runs(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import zrun.zip.archive`` names the module, not its packages
                target = target.rpartition(".")[0]
            if target and target != name and target != "zrun":
                found.add(target)
    return found


def circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def checked(name: str) -> bool:
    return any(name.startswith(prefix) if prefix.endswith(".") else name == prefix for prefix in CHECKED)


def test_the_graph_reader_sees_lazy_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    modules = module_names()
    fake = tmp_path / "fake.py"
    fake.write_text(
        "from __future__ import annotations\n"
        "import os\n"
        "from ..errors import ZrunError\n"
        "TYPE_CHECKING = False\n"
        "if TYPE_CHECKING:\n"
        "    from . import table\n"
        "else:\n"
        "    from . import index\n"
        "def later():\n"
        "    from .methods import NAMES\n"
        "    import zrun.cli.main\n"
    )
    found = imports_of("zrun.zip.fake", fake, modules)
    assert found == {"zrun.errors", "zrun.zip.index", "zrun.zip.methods", "zrun.cli.main"}


def test_no_import_circle_through_the_reader_the_loaders_or_the_command_line() -> None:
    modules = module_names()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    found = [group for group in circles(graph) if any(checked(name) for name in group)]
    assert found == []


def test_modules_stay_under_250_lines() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in module_names().items()}
    assert {name: lines for name, lines in sizes.items() if lines > 250} == {}


def test_the_layout_page_names_every_module() -> None:
    """docs/layout.md is how a newcomer finds a module: each one is in its package's section."""
    page = (PACKAGE.parent.parent / "docs" / "layout.md").read_text(encoding="utf-8")
    sections = {heading.split("\n", 1)[0]: heading for heading in page.split("\n## ")[1:]}
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        package, _, leaf = relative.rpartition("/")
        if package and leaf == "__init__.py" and len(path.read_text(encoding="utf-8").splitlines()) < 10:
            continue  # a package's face: its docstring is the section's heading
        where = [text for heading, text in sections.items() if (f"`{package}/`" in heading if package else "basics" in heading)]
        if not any(f"| `{leaf}` |" in text or f"| `{relative}` |" in text for text in where):
            missing.append(relative)
    assert missing == []
