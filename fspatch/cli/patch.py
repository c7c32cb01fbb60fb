"""Editing patches: ``new``, ``refresh``, ``delete``, ``rename``, ``diff``, and ``fmt`` for their files' form."""

from __future__ import annotations

import click

from fspatch.cli.base import command
from fspatch.cli.globals import color_on, paging_on
from fspatch.cli.options import backend_option, backends_option, opts, pick_backend, vendor_option
from fspatch.cli.render import say
from fspatch.cli.term import color_diff, emit


@command()
@click.argument("name")
@click.option("-m", "--message", help="Subject of the new patch.")
@backend_option
@vendor_option
@click.pass_context
def new(ctx: click.Context, name: str, message: str | None, backend: str | None, vendor: str | None) -> None:
    """Create an empty patch NAME above the current top; edit files, then refresh."""
    from fspatch.commands import new as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), name, message=message, vendor=vendor)
    say(ctx, f"Patch {r.path} is now on top")


@command()
@click.argument("patch", required=False)
@click.option("--mark", "mark_", is_flag=True, help="First wrap unmarked changes in FLAGSCALE MODIFICATION markers.")
@backend_option
@vendor_option
@click.pass_context
def refresh(ctx: click.Context, patch: str | None, mark_: bool, backend: str | None, vendor: str | None) -> None:
    """Record the checkout's edits (staged, unstaged, untracked) into the top patch or PATCH."""
    ws = opts(ctx).workspace()
    if mark_:
        from fspatch.commands import mark as mark_cmd

        m = mark_cmd.run(ws, pick_backend(ws, backend), patch=patch, vendor=vendor)
        for path in m.wrapped:
            say(ctx, f"marked {path}")
        say(ctx, f"Refreshed {m.patch}" if m.file_changed else f"{m.patch} unchanged")
        return
    from fspatch.commands import refresh as cmd

    r = cmd.run(ws, pick_backend(ws, backend), patch=patch, vendor=vendor)
    if r.file_changed:
        say(ctx, f"Refreshed {r.path} ({len(r.files)} file{'s' if len(r.files) != 1 else ''})")
    else:
        say(ctx, f"{r.path} unchanged")


@command()
@click.argument("patch", required=False)
@click.option("--keep", "keep_file", is_flag=True, help="Keep the patch file; only drop it from the series.")
@backend_option
@vendor_option
@click.pass_context
def delete(ctx: click.Context, patch: str | None, keep_file: bool, backend: str | None, vendor: str | None) -> None:
    """Remove PATCH (default: the top patch) from its series, popping it first if it is the top."""
    from fspatch.commands import delete as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), patch, vendor=vendor, keep_file=keep_file)
    if r.popped:
        say(ctx, f"Removing {r.patch}")
    say(ctx, f"Deleted {r.patch}" + ("" if r.file_removed else " from the series (file kept)"))


@command()
@click.argument("old")
@click.argument("new_name", metavar="NEW")
@backend_option
@vendor_option
@click.pass_context
def rename(ctx: click.Context, old: str, new_name: str, backend: str | None, vendor: str | None) -> None:
    """Rename patch OLD to NEW (file and series entry)."""
    from fspatch.commands import rename as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), old, new_name, vendor=vendor)
    say(ctx, f"Renamed {r.old} to {r.new}")


@command()
@click.argument("patch", required=False)
@backend_option
@vendor_option
@click.pass_context
def diff(ctx: click.Context, patch: str | None, backend: str | None, vendor: str | None) -> None:
    """Show PATCH's diff; without PATCH, the top patch with the unrefreshed edits."""
    from fspatch.commands import diff as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), patch=patch, vendor=vendor)
    if not opts(ctx).quiet:
        for what in r.resolved:  # on stderr: stdout stays a patch for git apply
            click.echo(f"{r.patch}: resolved by fspatch at the last replay: {what}", err=True)
    emit(color_diff(r.text, color_on(ctx)), paging=paging_on(ctx))


@command()
@click.argument("backends", metavar="[BACKEND]...", nargs=-1)
@backends_option
@click.option("-n", "--dry-run", is_flag=True, help="Only list the files that would be rewritten.")
@click.pass_context
def fmt(ctx: click.Context, backends: tuple[str, ...], backend_opts: tuple[str, ...], dry_run: bool) -> None:
    """Rewrite non-canonical patch files in canonical form (same patches, fspatch's spelling).

    Exit 0; with --dry-run, 1 when some file would change (like a formatter's --check).
    """
    from fspatch.commands import fmt as cmd

    r = cmd.run(opts(ctx).workspace(), [*backends, *backend_opts] or None, dry_run=dry_run)
    for path in r.rewritten:
        say(ctx, f"{'would rewrite' if dry_run else 'rewrote'} {path}")
    for f in r.problems:
        click.echo(f"skipped {f.file}:{f.line}: {f.message}", err=True)
    if dry_run and r.rewritten:
        ctx.exit(1)
