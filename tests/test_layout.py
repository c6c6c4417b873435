"""The layout holds: imports run one way (core ← synth; core ← etl; core ← tiles; core ← services; all ← the CLI;
bench and tests may import any part, bench never tests) and no module imports itself back through others.

Read from the source with ``ast``, not by importing: every ``import`` and ``from … import`` counts, relative ones
resolved and those inside functions included, since a lazy import is still a dependency. Not seen: modules named
in strings (``importlib.import_module``; services/config.py checks pygeoapi plugins that way).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("core", "synth", "etl", "tiles", "services", "stadsmodel", "bench", "scripts")
# importer's top-level package → the top-level packages it must not import (and why, for the message)
FORBIDDEN = {
    "core": ({"synth", "etl", "tiles", "services", "stadsmodel", "bench", "tests", "scripts"},
             "core is the ground floor: it imports nothing above it"),
    "synth": ({"etl", "tiles", "services", "stadsmodel", "bench", "tests", "scripts"},
              "synth generates inputs from the ground floor only (core)"),
    "etl": ({"synth", "tiles", "services", "stadsmodel", "bench", "tests", "scripts"},
            "etl imports only core"),
    "tiles": ({"synth", "etl", "services", "stadsmodel", "bench", "tests", "scripts"},
              "tiles reads products through core, never etl code"),
    "services": ({"synth", "etl", "tiles", "stadsmodel", "bench", "tests", "scripts"},
                 "services read the store and the products through core, never etl or tiles code"),
    "stadsmodel": (set(), ""),
    "bench": ({"stadsmodel", "tests"}, "a benchmark builds its own inputs; it never imports the tests or the CLI"),
    "scripts": ({"core", "synth", "etl", "tiles", "services", "stadsmodel", "bench", "tests"},
                "scripts/ runs before the project is installed: standard library only"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. services.config
    target: str  # what it imports, resolved: the module itself when it is one of ours (etl.writers.store)
    line: int
    text: str  # the statement as written, for the message

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}: {self.text}) imports {self.target}"


def find_modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name → file, for every .py file under the packages (a package is its __init__.py)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "node_modules" in path.parts or any(p.startswith(".") for p in path.relative_to(root).parts):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: set[str]) -> str:
    """The longest prefix of ``name`` that is a known module (etl.writers.store.write → etl.writers.store)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return name


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    source_text = path.read_text(encoding="utf-8")
    tree = ast.parse(source_text, filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [_resolve(a.name, known) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package, one level up per extra dot
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[:len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            targets = [_resolve(f"{source}.{a.name}", known) if f"{source}.{a.name}" in known
                       else _resolve(source, known) for a in node.names]
        else:
            continue
        text = ast.get_source_segment(source_text, node) or ""
        found += [Import(module, t, node.lineno, " ".join(text.split())) for t in dict.fromkeys(targets)]
    return found


def import_graph(root: Path, packages=PACKAGES) -> dict[str, list[Import]]:
    modules = find_modules(root, packages)
    known = set(modules)
    return {m: imports_of(m, p, known) for m, p in modules.items()}


def layering_violations(graph: dict[str, list[Import]]) -> list[str]:
    out = []
    for module, imports in graph.items():
        forbidden, why = FORBIDDEN[module.split(".")[0]]
        out += [f"{imp}: {why}" for imp in imports if imp.target.split(".")[0] in forbidden]
    return out


def import_cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself (Tarjan)."""
    edges = {m: sorted({i.target for i in imps if i.target in graph}) for m, imps in graph.items()}
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v: str) -> None:  # the graph is a few hundred modules: recursion depth is no concern
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def describe_cycle(graph: dict[str, list[Import]], component: list[str]) -> str:
    inside = set(component)
    return "import cycle between " + ", ".join(component) + ": " + "; ".join(
        str(i) for m in component for i in graph[m] if i.target in inside)


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return import_graph(ROOT)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_one_way(graph, package):
    wrong = layering_violations({m: i for m, i in graph.items() if m.split(".")[0] == package})
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle(graph):
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(describe_cycle(graph, c) for c in cycles)


def test_scripts_use_the_standard_library_only(graph):
    # setup.sh runs scripts/ before the venv exists
    outside = [str(i) for m, imps in graph.items() if m.startswith("scripts")
               for i in imps if i.target.split(".")[0] not in sys.stdlib_module_names | {"__future__", "scripts"}]
    assert not outside, "\n".join(outside)


def test_every_folder_with_python_code_is_checked():
    folders = {p.relative_to(ROOT).parts[0] for p in ROOT.glob("*/**/*.py")
               if not any(part.startswith(".") or part == "node_modules" for part in p.relative_to(ROOT).parts)}
    assert folders - {"tests"} <= set(PACKAGES), f"not in PACKAGES: {sorted(folders - {'tests'} - set(PACKAGES))}"


def test_the_graph_sees_every_package_and_the_cli_imports_them(graph):
    assert {m.split(".")[0] for m in graph} == set(PACKAGES)
    cli = {i.target.split(".")[0] for i in graph["stadsmodel.cli"]}
    assert {"etl", "tiles", "services", "synth"} <= cli  # lazy imports inside functions are found


# ------------------------------------------------------------------ the checker itself, on a made-up tree

def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_forbidden_import_is_named_with_its_module_and_statement(tmp_path):
    root = _tree(tmp_path, {
        "core/__init__.py": "", "core/crs.py": "def f():\n    from etl.build import build_model\n",
        "etl/__init__.py": "", "etl/build.py": "from core import crs\n",
        "services/__init__.py": "", "services/app.py": "from ..etl import build\n",
        "bench/run.py": "import tests.services.conftest\n",
    })
    wrong = layering_violations(import_graph(root, ("core", "etl", "services", "bench")))
    assert sorted(wrong) == [
        "bench.run (line 1: import tests.services.conftest) imports tests.services.conftest: "
        "a benchmark builds its own inputs; it never imports the tests or the CLI",
        "core.crs (line 2: from etl.build import build_model) imports etl.build: "
        "core is the ground floor: it imports nothing above it",
        "services.app (line 1: from ..etl import build) imports etl.build: "
        "services read the store and the products through core, never etl or tiles code",
    ]


def test_a_cycle_through_a_relative_and_a_lazy_import_is_found(tmp_path):
    root = _tree(tmp_path, {
        "tiles/__init__.py": "from tiles.tiler import tile_model\n",
        "tiles/tiler.py": "from . import pointcloud\n",
        "tiles/pointcloud.py": "def g():\n    from .tiler import tile_model\n",
        "tiles/georef.py": "import tiles.tiler\n",  # depends on the cycle, is not part of it
    })
    graph = import_graph(root, ("tiles",))
    assert import_cycles(graph) == [["tiles.pointcloud", "tiles.tiler"]]
    message = describe_cycle(graph, ["tiles.pointcloud", "tiles.tiler"])
    assert "tiles.pointcloud (line 2: from .tiler import tile_model) imports tiles.tiler" in message
    assert "tiles.tiler (line 1: from . import pointcloud) imports tiles.pointcloud" in message
