"""click ``shell_complete`` callbacks: patch, backend, vendor and layer names from the workspace.

During completion click parses the command line without running any callback, so the workspace
(``-C DIR``), backend (``-b``) and layer (``--layer``/``--vendor``) are read from the parsed
parameters of the contexts, not from ``ctx.obj``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem


def _param(ctx: click.Context, name: str) -> Any:
    here: click.Context | None = ctx
    while here is not None:
        value = here.params.get(name)
        if value is not None:
            return value
        here = here.parent
    return None


def _items(ctx: click.Context, what: str, incomplete: str) -> list[CompletionItem]:
    from fspatch.commands import complete as cmd

    directory = _param(ctx, "directory")
    backend = _param(ctx, "backend") or _param(ctx, "backend_name")
    layer = _param(ctx, "vendor") or _param(ctx, "layer")
    got = cmd.run(Path(directory) if directory else None, what, incomplete, backend=backend, layer=layer)
    return [CompletionItem(n) for n in got.names]


def patch_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _items(ctx, "patch", incomplete)


def backend_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _items(ctx, "backend", incomplete)


def vendor_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _items(ctx, "vendor", incomplete)


def layer_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _items(ctx, "layer", incomplete)


def attach(root: click.Group) -> None:
    """Give every PATCH/BACKEND/VENDOR/LAYER parameter of every verb its completion."""
    from fspatch.cli.globals import walk

    by_name = {
        "patch": patch_names,
        "old": patch_names,
        "first": patch_names,
        "second": patch_names,
        "to": patch_names,
        "upto": patch_names,
        "backend": backend_names,
        "backend_name": backend_names,
        "backends": backend_names,
        "vendors": vendor_names,
    }
    for path, cmd in walk(root):
        for p in cmd.params:
            if p.name == "vendor":
                fn = layer_names if any("--layer" in o for o in getattr(p, "opts", [])) else vendor_names
                p._custom_shell_complete = fn
            elif p.name in by_name and p._custom_shell_complete is None:
                if p.name == "to" and path and path[-1] == "apply":
                    continue
                p._custom_shell_complete = by_name[p.name]
