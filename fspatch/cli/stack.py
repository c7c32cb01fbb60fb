"""Building and moving stacks: ``apply``, ``push``, ``pop``, ``goto``, and looking at them: ``status``, ``series``."""

from __future__ import annotations

from pathlib import Path

import click

from fspatch.cli.base import command
from fspatch.cli.options import TASK_CHOICE, backend_option, format_option, opts, pick_backend, vendor_option
from fspatch.cli.render import say, to_json


@command()
@click.argument("backend_name", metavar="BACKEND")
@vendor_option
@click.option("--task", type=TASK_CHOICE, help="Task the vendor layer must declare.")
@click.option("--upto", metavar="PATCH", help="Stop after PATCH (of the top layer being applied).")
@click.option(
    "--force",
    is_flag=True,
    help="Check the stack out even if HEAD was moved away from it (with --to: write into a non-empty DIR).",
)
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the patched tree into plain directory DIR instead of checking it out.",
)
@click.option("--at", "at", metavar="COMMIT", help="Use the layers and upstream.lock of this workspace commit.")
@click.option(
    "--key",
    "key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="RSA private key (PEM) for encrypted patches, decrypted in memory only.",
)
@click.pass_context
def apply(
    ctx: click.Context,
    backend_name: str,
    vendor: str | None,
    task: str | None,
    upto: str | None,
    force: bool,
    to: Path | None = None,
    at: str | None = None,
    key: Path | None = None,
) -> None:
    """Build BACKEND's stack (upstream → common → vendor) in memory and check out its top."""
    from fspatch.commands import apply as cmd

    r = cmd.run(
        opts(ctx).workspace(), backend_name, vendor=vendor, task=task, upto=upto, force=force, to=to, at=at, key=key
    )
    for name in r.unauthenticated:
        click.echo(f"warning: {name}: unauthenticated encryption (AES-256-CBC, no MAC); checked strictly", err=True)
    for layer in r.layers:
        top = f", top {layer.top}" if layer.top else ""
        say(ctx, f"{r.backend}: {layer.layer}: applied {layer.applied}/{layer.total} patches{top}")
    if r.to is not None:
        say(ctx, f"{r.backend}: wrote {r.touched} files to {r.to}")
        return
    say(ctx, f"{r.backend}: checked out {r.head[:12]} ({r.touched} files written)")


@command()
@click.argument("patch", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Push every unapplied patch.")
@backend_option
@vendor_option
@click.pass_context
def push(ctx: click.Context, patch: str | None, all_: bool, backend: str | None, vendor: str | None) -> None:
    """Apply the next patch (or up to PATCH, or all) of the current layer."""
    from fspatch.commands import push as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), patch=patch, all_=all_, vendor=vendor)
    for name in r.pushed:
        say(ctx, f"Applying {name}")
    say(ctx, f"Now at {r.top}")


@command()
@click.argument("patch", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Pop every applied patch of the layer.")
@backend_option
@vendor_option
@click.pass_context
def pop(ctx: click.Context, patch: str | None, all_: bool, backend: str | None, vendor: str | None) -> None:
    """Unapply the top patch (or down to PATCH, or all) of the current layer."""
    from fspatch.commands import pop as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), patch=patch, all_=all_, vendor=vendor)
    for name in reversed(r.popped):
        say(ctx, f"Removing {name}")
    say(ctx, f"Now at {r.top}" if r.top else "No patches applied")


@command()
@click.argument("patch")
@backend_option
@vendor_option
@click.pass_context
def goto(ctx: click.Context, patch: str, backend: str | None, vendor: str | None) -> None:
    """Push or pop until PATCH is the top of its layer."""
    from fspatch.commands import goto as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), patch, vendor=vendor)
    for name in reversed(r.popped):
        say(ctx, f"Removing {name}")
    for name in r.pushed:
        say(ctx, f"Applying {name}")
    say(ctx, f"Now at {r.top}")


@command()
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@format_option
@click.pass_context
def status(ctx: click.Context, backend_name: str | None, fmt: str) -> None:
    """Show each backend's pin, applied layers and local edits."""
    from fspatch.commands import status as cmd

    r = cmd.run(opts(ctx).workspace(), backend_name)
    if fmt == "json":
        click.echo(to_json(r))
        return
    for b in r.backends:
        click.echo(f"{b.backend}: {b.ref} ({b.upstream[:12]}) in {b.path}")
        if not b.checkout:
            click.echo("  no checkout; run 'fspatch backend add' or clone it there")
            continue
        for layer in b.layers:
            top = f", top {layer.top}" if layer.top else ""
            click.echo(f"  {layer.layer}: {layer.applied}/{layer.total} applied{top}")
        if b.waiting:
            click.echo(f"  {b.waiting}")
        if not b.head_at_stack:
            click.echo(f"  HEAD {str(b.head)[:12]} is not the stack top")
        if b.dirty:
            click.echo(f"  {len(b.dirty)} changed file{'s' if len(b.dirty) != 1 else ''} not refreshed:")
            for p in b.dirty[:20]:
                click.echo(f"    {p}")
        else:
            click.echo("  checkout clean")


@command("series")
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@vendor_option
@format_option
@click.pass_context
def series_cmd(ctx: click.Context, backend_name: str | None, vendor: str | None, fmt: str) -> None:
    """List a layer's patches: '+' applied, '>' top, '-' unapplied."""
    from fspatch.commands import series as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend_name), vendor=vendor)
    if fmt == "json":
        click.echo(to_json(r))
        return
    for p in r.patches:
        mark = ">" if p.top else "+" if p.applied else "-"
        click.echo(f"{mark} {p.name}" + (f"  # {p.subject}" if p.subject and opts(ctx).verbose else ""))
