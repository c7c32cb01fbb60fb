"""``fspatch absorb``: the checkout's edits into the patches that own them (git-absorb's idea)."""

from __future__ import annotations

import click

from fspatch.cli.base import command
from fspatch.cli.options import backend_option, format_option, opts, pick_backend
from fspatch.cli.render import clean, say, to_json


@command()
@click.option("--into", metavar="PATCH", help="Patch for hunks no patch owns (default: the top patch of the layer).")
@click.option("-n", "--dry-run", "dry_run", is_flag=True, help="Only list where each hunk would go.")
@backend_option
@click.option(
    "--layer",
    "--vendor",
    "vendor",
    metavar="LAYER",
    help="Only this layer's patches: common or a vendor's (default: every applied layer).",
)
@format_option
@click.pass_context
def absorb(
    ctx: click.Context, into: str | None, dry_run: bool, backend: str | None, vendor: str | None, fmt: str
) -> None:
    """Record each edited hunk into the applied patch that last changed its lines."""
    from fspatch.commands import absorb as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), layer=vendor, into=into, dry_run=dry_run)
    if fmt == "json":
        click.echo(to_json(r))
        return
    for h in r.hunks:
        new = " (new)" if h.new else ""
        say(ctx, clean(f"{h.where} {h.change} -> {h.layer}/{h.patch}{new} [{h.rule}]"))
    if r.dry_run:
        say(ctx, f"dry run: {len(r.hunks)} hunk{'s' if len(r.hunks) != 1 else ''} into {len(r.patches)} patches")
        return
    for p in r.patches:
        say(ctx, f"{'Refreshed' if p in r.changed else 'Unchanged'} {p}")
