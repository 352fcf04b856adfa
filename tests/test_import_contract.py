"""The import rule of docs/architecture.md, checked over the AST of every syncapp/ module.

Layers, lowest first: storage (syncapp/storage, transfer.py) < core (shared services, and the
accounts package syncapp/auth) < features < web edge (route, page and namespace modules, the CLI,
the scheduler, syncapp/web/, the app factory). The rules:

1. imports point down (or stay in their layer): the storage layer imports nothing of syncapp, the
   core imports no feature and no edge module, a feature no edge module;
2. no module imports an entry point (a route, page or namespace module, the CLI) but the app
   factory;
3. no import cycles, counting imports inside functions too;
4. no import of a syncapp module inside a function, except in the app factory (it registers
   everything lazily) and in ALLOWED_FUNCTION_IMPORTS, each with its reason;
5. nothing imports the package `syncapp/__init__.py` (the app factory);
6. `failures.py` and `settings.py`'s readers stay plain: failures.py imports no Flask;
   flask-smorest's Blueprint is used through extensions.Blueprint only.

KNOWN_VIOLATIONS is empty since issue 19 landed. A violation may only be listed there, naming its
issue item, while a change that removes it is in flight; a listed one that no longer happens
fails the test until its line is removed, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "syncapp"

STORAGE = ("syncapp.storage", "syncapp.transfer")
#: shared services; syncapp.auth (users, tokens, live connections) is the core's accounts
#: package: every feature's rows belong to a user and every request has a caller
CORE = (
    "syncapp.auth",
    "syncapp.bodies",
    "syncapp.config",
    "syncapp.cors",
    "syncapp.errors",
    "syncapp.events",
    "syncapp.extensions",
    "syncapp.fastjson",
    "syncapp.failures",
    "syncapp.fields",
    "syncapp.headers",
    "syncapp.httpworker",
    "syncapp.logs",
    "syncapp.memory",
    "syncapp.metrics",
    "syncapp.multipart",
    "syncapp.project",
    "syncapp.quotas",
    "syncapp.ratelimit_storage",
    "syncapp.scheduled_runs",
    "syncapp.security",
    "syncapp.settings",
    "syncapp.socket_guard",
    "syncapp.sockets",
    "syncapp.tenancy",
    "syncapp.timeutil",
    "syncapp.uploads",
)
#: modules that receive work from outside: only the app factory imports them
ENTRY_POINT = re.compile(
    r"^syncapp\.("
    r"(\w+\.)?\w*routes"  # API blueprints: routes.py, users_routes.py, quota_routes.py ...
    r"|(\w+\.)?pages"  # HTML blueprints (issue 19: <feature>/pages.py)
    r"|(\w+\.)?namespace|events_namespace"  # Socket.IO namespaces
    r"|cloud\.oauth|monitoring\.(prometheus|websocket)|web\.(settings|dashboard_api|seed_paths)"
    r"|(\w+\.)?cli"
    r")$"
)
#: the rest of the web edge: may import anything but an entry point
EDGE = ("syncapp", "syncapp.scheduler", "syncapp.web")

#: (module, imported module): a function-level import kept on purpose, and why
#: (storage/__init__.py's lazy backend registry uses importlib, which is not an import statement)
ALLOWED_FUNCTION_IMPORTS: dict[tuple[str, str], str] = {}

#: Violations a change in flight is removing: (rule, importer, imported, issue item). The test
#: fails on any violation not listed here and on any line listed here that no longer happens.
KNOWN_VIOLATIONS: set[tuple[str, str, str, str]] = set()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)
    return node.module or ""


def imports_of(name: str, source: str, known: set[str], is_package: bool) -> list[Import]:
    """The syncapp modules `source` imports; `from package import module` names the module."""
    found: list[Import] = []
    tree = ast.parse(source)
    functions = [
        (f.lineno, f.end_lineno or f.lineno)
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
    ]

    def inside(line: int) -> bool:
        return any(start < line <= end for start, end in functions)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                found.append(Import(name, target, node.lineno, inside(node.lineno)))
    return found


def scan(root: Path = ROOT) -> list[Import]:
    paths = sorted((root / PACKAGE).rglob("*.py"))
    known = {module_name(p, root) for p in paths}
    edges: list[Import] = []
    for path in paths:
        edges += imports_of(
            module_name(path, root), path.read_text(), known, path.name == "__init__.py"
        )
    return edges


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer(name: str) -> int:
    """0 storage, 1 core, 2 feature, 3 web edge."""
    if _under(name, STORAGE):
        return 0
    if name == PACKAGE or ENTRY_POINT.match(name) or _under(name, EDGE[1:]):
        return 3
    if _under(name, CORE):
        return 1
    return 2


def _allowed_in_function(edge: Import) -> bool:
    for (importer, imported), _why in ALLOWED_FUNCTION_IMPORTS.items():
        if edge.importer == importer and (
            edge.imported == imported
            or (imported.endswith(".*") and edge.imported.startswith(imported[:-1]))
        ):
            return True
    return False


def cycles(edges: Iterable[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.imported != edge.importer and edge.imported != PACKAGE:
            graph.setdefault(edge.importer, set()).add(edge.imported)
            graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def violations(edges: list[Import], sources: dict[str, str] | None = None) -> set[tuple]:
    """Every broken rule as (rule, importer, imported)."""
    found: set[tuple] = set()
    for edge in edges:
        source, target = edge.importer, edge.imported
        if source == target:
            continue
        if target == PACKAGE:
            found.add(("package", source, target))
            continue
        if layer(target) > layer(source):
            found.add(("upward", source, target))
        if ENTRY_POINT.match(target) and source != PACKAGE:
            found.add(("entry-point", source, target))
        if edge.in_function and source != PACKAGE and not _allowed_in_function(edge):
            found.add(("function-level", source, target))
    for component in cycles(edges):
        found.add(("cycle", component[0], " ".join(component[1:])))
    for name, text in (sources or {}).items():
        if name == "syncapp.failures" and re.search(r"^\s*(from|import) flask\b", text, re.M):
            found.add(("plain", name, "flask"))
        if name != "syncapp.extensions" and re.search(
            r"^\s*from flask_smorest import .*\bBlueprint\b", text, re.M
        ):
            found.add(("smorest-blueprint", name, "flask_smorest.Blueprint"))
    return found


def _sources(root: Path = ROOT) -> dict[str, str]:
    return {module_name(p, root): p.read_text() for p in (root / PACKAGE).rglob("*.py")}


def test_syncapp_follows_the_import_rule():
    found = violations(scan(), _sources())
    known = {violation[:3] for violation in KNOWN_VIOLATIONS}
    new = sorted(found - known)
    fixed = sorted(known - found)
    assert not new, "imports against docs/architecture.md's import rule:\n" + "\n".join(
        " ".join(v) for v in new
    )
    assert not fixed, "fixed (remove from KNOWN_VIOLATIONS):\n" + "\n".join(
        " ".join(v) for v in fixed
    )


def test_every_known_violation_names_its_issue_item():
    for rule, importer, imported, item in KNOWN_VIOLATIONS:
        assert rule and importer and imported
        assert re.match(r"issue 19 item \d", item), item


def test_the_layers_cover_every_module():
    names = {module_name(p) for p in (ROOT / PACKAGE).rglob("*.py")}
    assert layer("syncapp.storage.smb") == 0 and layer("syncapp.transfer") == 0
    assert layer("syncapp.security") == 1 and layer("syncapp.auth.models") == 1
    assert layer("syncapp.backups.store") == 2
    assert layer("syncapp.auth.routes") == 3 and layer("syncapp.scheduler") == 3
    assert layer("syncapp") == 3
    for name in CORE:
        assert name in names or any(n.startswith(name + ".") for n in names), name


# --- the checker itself, on made-up modules ---------------------------------------------------


def _fake(tmp_path: Path, files: dict[str, str]) -> tuple[list[Import], dict[str, str]]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return scan(tmp_path), _sources(tmp_path)


BASE = {
    "syncapp/__init__.py": "def create_app():\n    from .backups import routes\n",
    "syncapp/storage/__init__.py": "",
    "syncapp/security.py": "",
    "syncapp/backups/__init__.py": "",
    "syncapp/backups/store.py": "from ..security import x\nfrom ..storage import Remote\n",
    "syncapp/backups/routes.py": "from .store import ArchiveStore\n",
}


def test_a_clean_graph_passes(tmp_path):
    assert violations(*_fake(tmp_path, BASE)) == set()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # the core importing a feature
            {
                "syncapp/security.py": "from .backups.models import Archive\n",
                "syncapp/backups/models.py": "",
            },
            {("upward", "syncapp.security", "syncapp.backups.models")},
        ),
        (  # the storage layer importing the core
            {"syncapp/storage/__init__.py": "from ..security import x\n"},
            {("upward", "syncapp.storage", "syncapp.security")},
        ),
        (  # a feature service importing a route module for its factory
            {"syncapp/backups/report.py": "from .routes import archive_store\n"},
            {
                ("entry-point", "syncapp.backups.report", "syncapp.backups.routes"),
                ("upward", "syncapp.backups.report", "syncapp.backups.routes"),
            },
        ),
        (  # a cycle hidden in a function
            {
                "syncapp/backups/a.py": "from . import b\n",
                "syncapp/backups/b.py": "def f():\n    from . import a\n",
            },
            {
                ("function-level", "syncapp.backups.b", "syncapp.backups.a"),
                ("cycle", "syncapp.backups.a", "syncapp.backups.b"),
            },
        ),
        (  # the package's version read from the app factory
            {"syncapp/backups/report.py": "from .. import __version__\n"},
            {("package", "syncapp.backups.report", "syncapp")},
        ),
        (
            {"syncapp/failures.py": "from flask import request\n"},
            {("plain", "syncapp.failures", "flask")},
        ),
        (
            {"syncapp/backups/routes.py": "from flask_smorest import Blueprint\n"},
            {("smorest-blueprint", "syncapp.backups.routes", "flask_smorest.Blueprint")},
        ),
    ],
)
def test_a_new_violation_fails(tmp_path, files, expected):
    assert violations(*_fake(tmp_path, {**BASE, **files})) == expected


def test_function_level_imports_in_the_app_factory_are_allowed(tmp_path):
    edges, sources = _fake(tmp_path, BASE)
    assert any(e.in_function and e.importer == "syncapp" for e in edges)
    assert violations(edges, sources) == set()
