"""``init`` and ``backend add|list``: the workspace and the upstreams it pins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from fspatch.cli.base import command, group
from fspatch.cli.options import format_option, lock_workspace, opts
from fspatch.cli.render import say, to_json


@command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, directory: Path | None) -> None:
    """Create an fspatch workspace (upstream.lock, series/, vendors/, schemas/)."""
    from fspatch.commands import init as cmd

    root = directory or opts(ctx).directory or Path.cwd()
    root.mkdir(parents=True, exist_ok=True)
    lock_workspace(ctx, root.resolve())  # an init into an existing folder waits for no one
    r = cmd.run(root.resolve())
    say(ctx, f"Initialized fspatch workspace in {r.root}")
    for p in r.created:
        say(ctx, f"  created {p}")


@group()
def backend() -> None:
    """Manage the upstream backends pinned in upstream.lock."""


@backend.command("add")
@click.argument("name")
@click.option("--url", required=True, help="Git URL, local path or file:// URL of the upstream.")
@click.option("--ref", required=True, help="Tag, branch or commit to pin.")
@click.option("--path", "path", help="Checkout path in the workspace (default third_party/NAME).")
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="NAME",
    help="Another spelling of the name, e.g. FlagScale's Megatron-LM (repeatable; kept in upstream.lock).",
)
@click.pass_context
def backend_add(ctx: click.Context, name: str, url: str, ref: str, path: str | None, aliases: tuple[str, ...]) -> None:
    """Clone (or reuse) a backend checkout and pin REF's commit in upstream.lock."""
    from fspatch.commands import backend as cmd

    r = cmd.run_add(opts(ctx).workspace(), name, url=url, ref=ref, path=path, aliases=aliases)
    verb = "cloned into" if r.cloned else "reusing"
    say(ctx, f"{r.backend}: {verb} {r.path}, pinned {r.ref} at {r.commit}")


@backend.command("list")
@format_option
@click.pass_context
def backend_list(ctx: click.Context, fmt: str) -> None:
    """List the pinned backends."""
    ws = opts(ctx).workspace()
    items = [dataclasses.asdict(b) for _, b in sorted(ws.backends().items())]
    if fmt == "json":
        click.echo(to_json(items, key="backends"))
        return
    for b in items:
        click.echo(f"{b['name']:<12} {b['ref']:<16} {b['commit'][:12]}  {b['path']}  {b['url']}")
