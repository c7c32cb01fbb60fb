"""Every verb module keeps one contract (STYLE §5): `run…()` functions that return a result dataclass.

And the layering of DESIGN §3: only the git adapter imports pygit2; only the cli package prints.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import typing
from pathlib import Path

import fspatch
import fspatch.commands

PKG = Path(fspatch.__file__).parent


def test_every_command_module_exposes_run_returning_a_dataclass() -> None:
    """commands/<verb>.py: public run/run_* functions, each annotated to return a dataclass."""
    for info in pkgutil.iter_modules(fspatch.commands.__path__):
        module = importlib.import_module(f"fspatch.commands.{info.name}")
        runs = [f for n, f in inspect.getmembers(module, inspect.isfunction) if n == "run" or n.startswith("run_")]
        runs = [f for f in runs if f.__module__ == module.__name__]
        assert runs, f"{info.name} has no run()"
        for f in runs:
            hints = typing.get_type_hints(f)
            result = hints.get("return")
            assert result is not None and dataclasses.is_dataclass(result), f"{info.name}.{f.__name__} -> {result}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_git_adapter_imports_pygit2() -> None:
    """DESIGN §3: one module talks to pygit2."""
    offenders = [p.name for p in PKG.rglob("*.py") if "pygit2" in _imports(p) and p.name != "git_adapter.py"]
    assert offenders == []


def test_only_cli_modules_print() -> None:
    """DESIGN §3: core and commands return values; only the fspatch/cli/ package talks to the terminal."""
    offenders = []
    for p in PKG.rglob("*.py"):
        if p.relative_to(PKG).parts[0] == "cli" or p.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
                if name in ("print", "echo", "secho", "input"):
                    offenders.append(f"{p.relative_to(PKG)}:{node.lineno}")
    assert offenders == []


# -- the import graph (DESIGN §3, issue 12) ------------------------------------------------
# Layers, top to bottom.  An import may point down or stay in its layer, never up; the graph of
# the whole package, the CLI included, has no cycle.  Every import counts: module level, inside a
# function (the lazy imports that keep start-up fast) and under TYPE_CHECKING.
LAYER = {"__main__": 5, "compat": 5, "cli": 4, "api": 4, "commands": 3, "core": 2, "git_adapter": 1, "errors": 0, "": 0}

# The CLI reaches core behaviour only through a command.  It may import from core exactly these
# names: opening the workspace every command takes and resolving a BACKEND argument (argument
# parsing), and pure renderers of the values commands return.  Anything else belongs in a command
# (or in its result).  The CLI imports no core module whole and never the git adapter.
CLI_MAY_IMPORT_FROM_CORE = {
    ("fspatch.core.workspace", "Workspace"),  # Options.workspace(): the argument every command takes
    ("fspatch.core.workspace", "find_root"),  # -C DIR / the cwd → the workspace root
    ("fspatch.core.session", "pick_backend"),  # -b BACKEND → a backend name
    ("fspatch.core.report", "render_text"),  # check's findings → text, json, junit, sarif
    ("fspatch.core.report", "render_json"),
    ("fspatch.core.report", "render_junit"),
    ("fspatch.core.report", "render_sarif"),
    ("fspatch.core.report_markdown", "render_markdown"),  # check → Markdown (a pull-request body)
    ("fspatch.core.report_markdown", "render_replay_markdown"),  # a replay's report → Markdown
    ("fspatch.core.health", "all_rules"),  # the rule table SARIF describes
    ("fspatch.core.matrix", "matrix_dict"),  # matrix → json, markdown, text
    ("fspatch.core.matrix", "render_matrix_markdown"),
    ("fspatch.core.matrix", "render_matrix_text"),
    ("fspatch.core.html", "render_review_html"),  # review → HTML page
    ("fspatch.core.envelope", "envelope"),  # every JSON output → its versioned envelope (docs/json.md)
    ("fspatch.core.envelope", "kind_of"),
    ("fspatch.core.review", "as_json"),  # review → JSON without the hunks
    ("fspatch.core.lock", "workspace_locked"),  # Options.workspace(): every changing verb holds the lock
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}


def _import_targets(path: Path) -> list[tuple[str, str | None, int]]:
    """Every (module, imported name or None, line) a file imports from the fspatch package."""
    return _imports_in(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")


def _imports_in(source: str, module: str, *, is_package: bool) -> list[tuple[str, str | None, int]]:
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "fspatch"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] == "fspatch":
                out += [(base, a.name, node.lineno) for a in node.names]
    return out


def _edges() -> dict[str, set[str]]:
    """module → the fspatch modules it imports (``from pkg import mod`` points at mod)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for module, imported, _ in _import_targets(path):
            sub = f"{module}.{imported}"
            targets.add(sub if sub in MODULES else module)
        graph[name] = {t for t in targets if t != name}
    return graph


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    assert top in LAYER, f"{module}: place fspatch/{top} in a layer of LAYER"
    return LAYER[top]


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return [f"{m} -> {t}" for m, targets in sorted(graph.items()) for t in sorted(targets) if _layer(t) > _layer(m)]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle for every back edge a depth-first walk meets (empty exactly when the graph is a DAG)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return cycles


def test_every_import_points_at_a_module_that_exists() -> None:
    """The graph below is only as good as its edges: an import of a missing fspatch module is a bug."""
    missing = [f"{m} -> {t}" for m, ts in _edges().items() for t in ts if t not in MODULES]
    assert missing == []


def test_no_import_points_up_a_layer() -> None:
    """cli → commands → core → git_adapter → errors: nothing below imports anything above it."""
    assert _upward(_edges()) == []


def test_the_import_graph_has_no_cycle() -> None:
    """No circle anywhere in fspatch, the CLI package included (its modules never import fspatch.cli)."""
    assert _cycles(_edges()) == []


def test_the_cli_reaches_core_only_through_commands() -> None:
    """The CLI imports from core only the names in CLI_MAY_IMPORT_FROM_CORE, and never the git adapter."""
    used: set[tuple[str, str]] = set()
    offenders = []
    for name, path in sorted(MODULES.items()):
        if not name.startswith("fspatch.cli"):
            continue
        for module, imported, line in _import_targets(path):
            where = f"{path.relative_to(PKG)}:{line}"
            if module == "fspatch.git_adapter" or (module, imported) == ("fspatch", "git_adapter"):
                offenders.append(f"{where}: the git adapter")
            elif module == "fspatch.core" or (module.startswith("fspatch.core.") and imported is None):
                offenders.append(f"{where}: a whole core module ({module} {imported or ''})")
            elif module.startswith("fspatch.core."):
                assert imported is not None
                if (module, imported) in CLI_MAY_IMPORT_FROM_CORE:
                    used.add((module, imported))
                else:
                    offenders.append(f"{where}: {module}.{imported}")
    assert offenders == []
    assert used == CLI_MAY_IMPORT_FROM_CORE, f"stale entries: {sorted(CLI_MAY_IMPORT_FROM_CORE - used)}"


def test_the_graph_rules_catch_what_they_forbid() -> None:
    """Lazy, relative and TYPE_CHECKING imports are edges; an upward edge and a circle are reported."""
    src = (
        "from typing import TYPE_CHECKING\n"
        "from . import options\n"
        "if TYPE_CHECKING:\n    from fspatch.git_adapter import GitRepo\n"
        "def f() -> None:\n    from fspatch.cli import main_group\n    import fspatch.core.rebase\n"
    )
    found = {(m, n) for m, n, _ in _imports_in(src, "fspatch.cli.probe", is_package=False)}
    assert found == {
        ("fspatch.cli", "options"),
        ("fspatch.git_adapter", "GitRepo"),
        ("fspatch.cli", "main_group"),
        ("fspatch.core.rebase", None),
    }
    assert _upward({"fspatch.core.stack": {"fspatch.commands.apply", "fspatch.errors"}}) == [
        "fspatch.core.stack -> fspatch.commands.apply"
    ]
    circle = {"fspatch.cli": {"fspatch.cli.stack"}, "fspatch.cli.stack": {"fspatch.cli"}}
    assert _cycles(circle) == [["fspatch.cli", "fspatch.cli.stack", "fspatch.cli"]]
def _fspatch_imports(path: Path) -> set[str]:
    """The fspatch modules a file imports (``from fspatch.commands import x`` names ``fspatch.commands.x``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("fspatch"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fspatch"):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _is_package_module(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_no_command_imports_another_command() -> None:
    """DESIGN §3 / issue 12: verbs never call verbs; they compose core operations (the import pins it)."""
    offenders = []
    for p in sorted((PKG / "commands").glob("*.py")):
        own = f"fspatch.commands.{p.stem}"
        for name in _fspatch_imports(p):
            if not _is_package_module(name, "fspatch.commands") or name in ("fspatch.commands", own):
                continue
            if name.startswith(own + "."):
                continue
            offenders.append(f"commands/{p.name} imports {name}")
    assert offenders == []


def test_core_imports_neither_commands_nor_cli() -> None:
    """Imports point down only: the core never reaches up into the verbs or the command line."""
    offenders = []
    for p in sorted((PKG / "core").rglob("*.py")):
        for name in _fspatch_imports(p):
            if _is_package_module(name, "fspatch.commands") or _is_package_module(name, "fspatch.cli"):
                offenders.append(f"{p.relative_to(PKG)} imports {name}")
            if name.startswith("fspatch.cli_"):
                offenders.append(f"{p.relative_to(PKG)} imports {name}")
    assert offenders == []


def test_commands_never_import_the_cli() -> None:
    """A verb returns a result; rendering and exit codes are the command line's, never imported back."""
    offenders = []
    for p in sorted((PKG / "commands").rglob("*.py")):
        for name in _fspatch_imports(p):
            if _is_package_module(name, "fspatch.cli") or name.startswith("fspatch.cli_"):
                offenders.append(f"commands/{p.name} imports {name}")
    assert offenders == []


def test_the_git_adapter_and_errors_import_no_layer_above() -> None:
    """The bottom of the graph (git adapter, errors) imports nothing of core, commands or cli."""
    for leaf in ("git_adapter.py", "errors.py"):
        ups = [
            n
            for n in _fspatch_imports(PKG / leaf)
            if any(_is_package_module(n, pkg) for pkg in ("fspatch.core", "fspatch.commands", "fspatch.cli"))
            or n.startswith("fspatch.cli_")
        ]
        assert ups == [], f"{leaf} imports {ups}"
