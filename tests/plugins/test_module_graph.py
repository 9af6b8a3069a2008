"""No import circle among telco_mart's modules.

A circle is what forces an import into a function body "to avoid a circular import", and
such an import hides the arrow: a reader of the module's header no longer sees what it
depends on, and the order modules happen to be imported in decides whether it works. So
every import counts here, wherever it is written: at module level, inside a function, or
under ``TYPE_CHECKING``. Importing ``a.b.c`` from outside the package ``a.b`` also runs
``a/b/__init__.py``, which may import modules of its own: that arrow counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import telco_mart

PACKAGE = "telco_mart"


def modules(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, whether it is a package's __init__)."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(package_dir).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imported_names(node: ast.AST, package: str) -> list[str]:
    """The dotted names an import statement may load (``from m import x``: ``m`` and ``m.x``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*parent, *([node.module] if node.module else [])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, from every import statement in its file."""
    known = modules(package_dir)

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in known.items():
        package = module if is_package else module.rpartition(".")[0]
        arrows: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for name in imported_names(node, package):
                target = owner(name) if name.split(".")[0] == PACKAGE else None
                if target is None or target == module:
                    continue
                arrows.add(target)
                # the packages above the target that importing it initialises, unless this
                # module is inside them (its own package is initialised before it runs)
                parts = target.split(".")
                for depth in range(2, len(parts)):
                    above = ".".join(parts[:depth])
                    if not module.startswith(above + "."):
                        arrows.add(above)
        graph[module] = arrows
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(graph: dict[str, set[str]], group: list[str]) -> str:
    arrows = [f"  {a} -> {b}" for a in group for b in sorted(graph[a]) if b in group]
    return "import circle among " + ", ".join(group) + ":\n" + "\n".join(arrows)


def test_no_module_of_the_package_imports_itself_round_a_circle() -> None:
    graph = import_graph(Path(telco_mart.__file__).parent)
    assert len(graph) > 40  # the package was found, not an empty folder
    assert not (found := cycles(graph)), "\n".join(describe(graph, group) for group in found)


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from telco_mart.b import thing", "telco_mart.b"),  # module level
        ("def f():\n    from telco_mart.b import thing\n", "telco_mart.b"),  # inside a function
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import telco_mart.b\n", "telco_mart.b"),
        ("from . import b", "telco_mart.b"),  # relative
        ("from telco_mart.sub.c import thing", "telco_mart.sub"),  # the package __init__ it runs
    ],
)
def test_every_kind_of_import_is_an_arrow_that_closes_a_circle(tmp_path: Path, source: str, module: str) -> None:
    package = tmp_path / PACKAGE
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(source + "\n")
    (package / "b.py").write_text("import telco_mart.a\n")
    (package / "sub" / "__init__.py").write_text("from telco_mart import a\n")
    (package / "sub" / "c.py").write_text("")
    graph = import_graph(package)
    assert module in graph["telco_mart.a"]
    assert any("telco_mart.a" in group for group in cycles(graph))
