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
