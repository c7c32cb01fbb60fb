"""Finishing or undoing an operation in progress: ``continue``, ``skip``, ``abort`` and ``recover``.

All four read the operation's journal in the backend's git dir (docs/journal.md): ``continue``
and ``skip`` resume a stopped replay, ``abort`` and ``recover`` put back what it changed.
"""

from __future__ import annotations

from pathlib import Path

import click

from fspatch.cli.base import command
from fspatch.cli.options import backend_option, format_option, one_backend, opts, report_options
from fspatch.cli.render import clear_progress, progress, render_replay, say, to_json


@command("continue")
@backend_option
@report_options
@click.pass_context
def continue_(ctx: click.Context, backend: str | None, report_file: Path | None, fmt: str) -> None:
    """Record the resolved conflict into the stopped patch and resume the replay."""
    from fspatch.commands import resolve as cmd

    r = cmd.run_continue(opts(ctx).workspace(), backend, progress=progress(ctx))
    render_replay(ctx, r, fmt, report_file)


@command("skip")
@backend_option
@report_options
@click.pass_context
def skip(ctx: click.Context, backend: str | None, report_file: Path | None, fmt: str) -> None:
    """Drop the stopped patch from its layer and resume the replay.

    The skipped patch's line is removed from its layer's series and its patch file is deleted
    when the replay finishes ('fspatch abort' before that keeps everything); skip says so.
    """
    from fspatch.commands import resolve as cmd

    r = cmd.run_skip(opts(ctx).workspace(), backend, progress=progress(ctx))
    clear_progress(ctx)
    if fmt == "text" and not opts(ctx).quiet:
        for o in r.report.patches:
            if o.status == "skipped":
                click.echo(
                    f"skipped {o.layer}/{o.patch}: its series line and patch file are removed from the layer",
                    err=True,
                )
    render_replay(ctx, r, fmt, report_file)


@command("abort")
@backend_option
@format_option
@click.pass_context
def abort(ctx: click.Context, backend: str | None, fmt: str) -> None:
    """Stop the replay and restore the lock, patches, series, checkout and refs as they were."""
    from fspatch.commands import resolve as cmd

    r = cmd.run_abort(opts(ctx).workspace(), backend)
    if fmt == "json":
        click.echo(to_json(r))
        return
    say(ctx, f"{r.backend}: {r.operation} aborted; {len(r.restored)} workspace files restored")


@command()
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@backend_option
@click.option(
    "--discard",
    is_flag=True,
    help="Drop the journal without undoing anything (after inspecting one fspatch refuses to act on).",
)
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Confirm the directory of an interrupted 'apply --to DIR' (outside the workspace) to undo it there.",
)
@click.pass_context
def recover(ctx: click.Context, backend_name: str | None, backend: str | None, discard: bool, to: Path | None) -> None:
    """Undo a command that was killed half-way: put back every byte from its journal.

    A journal is checked before it is acted on: one that is damaged, or that names a path outside
    the workspace and its checkouts, is refused; inspect it, then drop it with --discard.
    """
    from fspatch.commands import recover as cmd

    ws, name = opts(ctx).workspace(), one_backend(backend_name, backend)
    if discard:
        if to is not None:
            raise click.UsageError("--discard and --to exclude each other")
        for gone in cmd.run_discard(ws, name).discarded:
            say(ctx, f"{gone.where}: dropped the journal, nothing undone ({', '.join(gone.removed)})")
        return
    r = cmd.require_any(cmd.run(ws, name, to=to))
    for item in r.recovered:
        say(ctx, f"{item.where}: undid the interrupted '{item.operation}' ({len(item.restored)} paths restored)")
