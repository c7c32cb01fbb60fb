"""Every verb module keeps one contract (STYLE §5): `run…()` functions that return a result dataclass.

And the layering of DESIGN §3: only the git adapter imports pygit2; only cli modules print.
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
    """DESIGN §3: core and commands return values; only cli*.py talk to the terminal."""
    offenders = []
    for p in PKG.rglob("*.py"):
        if p.name.startswith("cli") or p.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
                if name in ("print", "echo", "secho", "input"):
                    offenders.append(f"{p.relative_to(PKG)}:{node.lineno}")
    assert offenders == []


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
