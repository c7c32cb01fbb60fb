"""Building and moving stacks: ``apply``, ``push``, ``pop``, ``goto``, and looking at them: ``status``, ``series``."""

from __future__ import annotations

from pathlib import Path

import click

from fspatch.cli.base import FspatchCommand, command
from fspatch.cli.globals import color_on, paging_on
from fspatch.cli.options import (
    TASK_CHOICE,
    backend_option,
    format_option,
    one_backend,
    opts,
    pick_backend,
    vendor_option,
)
from fspatch.cli.render import say, to_json
from fspatch.cli.term import emit, paint


@command()
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@backend_option
@click.option("--vendor", metavar="VENDOR", help="Also apply this vendor's layer on top of the common layer.")
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
    backend_name: str | None,
    backend: str | None,
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
    from fspatch.commands import resume

    ws = opts(ctx).workspace()
    name = pick_backend(ws, one_backend(backend_name, backend))
    if resume.is_pending(ws, name) and to is None and at is None and upto is None:
        from fspatch.cli.render import progress, render_replay

        say(ctx, f"{name}: patches pending from a bot replay; entering the first one")
        render_replay(ctx, resume.run(ws, name, progress=progress(ctx)), "text", None)
        return
    r = cmd.run(ws, name, vendor=vendor, task=task, upto=upto, force=force, to=to, at=at, key=key)
    for shown in r.unauthenticated:
        click.echo(f"warning: {shown}: unauthenticated encryption (AES-256-CBC, no MAC); checked strictly", err=True)
    for layer in r.layers:
        top = f", top {layer.top}" if layer.top else ""
        say(ctx, f"{r.backend}: {layer.layer}: applied {layer.applied}/{layer.total} patches{top}")
    if r.to is not None:
        say(ctx, f"{r.backend}: wrote {r.touched} files to {r.to}")
        return
    say(ctx, f"{r.backend}: checked out {r.head[:12]} ({r.touched} files written)")


MERGE_STYLES = ("diff3", "merge")


class PushCommand(FspatchCommand):
    """Reads quilt's ``--merge=STYLE`` as ``--merge --merge-style STYLE``.

    A click option with an optional value would take the next word (``push --merge PATCH``)
    as its value, so ``--merge`` stays a flag and only the ``=`` spelling carries a style.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        for i, arg in enumerate(args):
            if arg == "--":
                out += args[i:]
                break
            if arg.startswith("--merge="):
                style = arg.split("=", 1)[1]
                if style not in MERGE_STYLES:
                    raise click.UsageError(f"--merge takes diff3 or merge, not {style!r}", ctx=ctx)
                out += ["--merge", "--merge-style", style]
            else:
                out.append(arg)
        return super().parse_args(ctx, out)


@click.command(cls=PushCommand)
@click.argument("patch", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Push every unapplied patch.")
@click.option(
    "-m",
    "--merge",
    is_flag=True,
    help="When a patch does not apply, merge it 3-way from its index blobs (else write .rej files); "
    "--merge=merge|diff3 also sets the marker style, as quilt.",
)
@click.option(
    "--merge-style",
    type=click.Choice(MERGE_STYLES),
    help="Conflict markers of --merge (implies it): diff3 (with the base after |||||||, the default) "
    "or merge (ours and theirs only).",
)
@backend_option
@vendor_option
@click.pass_context
def push(
    ctx: click.Context,
    patch: str | None,
    all_: bool,
    merge: bool,
    merge_style: str | None,
    backend: str | None,
    vendor: str | None,
) -> None:
    """Apply the next patch (or up to PATCH, or all) of the current layer.

    With --merge a patch that does not apply is merged 3-way (quilt push --merge,
    git am -3): a clean merge is applied and the patch refreshed; a conflict leaves
    markers in the checkout (diff3 style, or merge style with --merge=merge; FILE.rej
    files when the patch's blobs are unknown) and exits 1: edit the files, then run
    'fspatch refresh'.
    """
    from fspatch.commands import push as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(
        ws,
        pick_backend(ws, backend),
        patch=patch,
        all_=all_,
        vendor=vendor,
        merge=merge or merge_style is not None,
        style=merge_style or "diff3",
    )
    for name in r.pushed:
        say(ctx, f"Applying {name}")
        for f in r.repaired:
            if f.patch != name:
                continue
            if f.how == "merged":
                say(ctx, f"  merged {f.path} (3-way, clean)")
            elif f.how == "conflict":
                say(ctx, f"  conflict in {f.path}: markers in {r.checkout}/{f.path}")
            else:
                for n in f.rejected:
                    say(ctx, f"  rejected hunk {n} of {f.path}: see {r.checkout}/{f.path}.rej")
        for path in r.refreshed:
            if path.endswith("/" + name):
                say(ctx, f"Refreshed {path}")
    if r.stopped:
        say(ctx, f"Now at {r.top}, with conflicts: edit the files, then run 'fspatch refresh'")
        ctx.exit(1)
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
@backend_option
@format_option
@click.pass_context
def status(ctx: click.Context, backend_name: str | None, backend: str | None, fmt: str) -> None:
    """Show each backend's pin and applied layers, and where the checkout disagrees with the lock and the series."""
    from fspatch.commands import status as cmd

    r = cmd.run(opts(ctx).workspace(), one_backend(backend_name, backend))
    if fmt == "json":
        click.echo(to_json(r))
        return
    on = color_on(ctx)
    for b in r.backends:
        click.echo(paint(f"{b.backend}: {b.ref} ({b.upstream[:12]}) in {b.path}", "bold", on), color=on)
        changed = {(c.layer, c.patch): c.change for c in b.series_changes if c.change != "unapplied"}
        for layer in b.layers:
            top = f", top {layer.top}" if layer.top else ""
            nxt = f", next {layer.next[0]}" if layer.next else ""
            if any(lay == layer.layer for lay, _ in changed):
                click.echo(f"  {layer.layer}: {layer.applied} applied, the series lists {layer.total}{top}")
            else:
                click.echo(f"  {layer.layer}: {layer.applied}/{layer.total} applied{top}{nxt}")
        for note in b.notes:
            run = f": {note.run}" if note.run else ""
            style = "yellow" if note.kind in ("pending", "paused", "stale", "series-changed") else ""
            line = f"  {note.message}{run}"
            click.echo(paint(line, style, on) if style else line, color=on)
            if note.kind == "pending":
                for pp in b.pending:
                    click.echo(f"    pending  {pp.layer}/{pp.patch}  ({pp.reason})")
        if b.dirty:
            if not any(n.kind == "dirty" for n in b.notes):
                click.echo(f"  {len(b.dirty)} changed file{'s' if len(b.dirty) != 1 else ''} in the checkout:")
            for p in b.dirty[:20]:
                click.echo(f"    {paint(p, 'red', on)}", color=on)
            if len(b.dirty) > 20:
                click.echo(f"    ... and {len(b.dirty) - 20} more")
        elif b.checkout:
            click.echo(f"  {paint('checkout clean', 'green', on)}", color=on)


@command("series")
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@backend_option
@vendor_option
@format_option
@click.pass_context
def series_cmd(ctx: click.Context, backend_name: str | None, backend: str | None, vendor: str | None, fmt: str) -> None:
    """List a layer's patches: '+' applied, '>' top, '-' unapplied."""
    from fspatch.commands import series as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, one_backend(backend_name, backend)), vendor=vendor)
    if fmt == "json":
        click.echo(to_json(r))
        return
    on = color_on(ctx)
    lines = []
    for p in r.patches:
        mark = ">" if p.top else "+" if p.applied else "-"
        style = "bold-green" if p.top else "green" if p.applied else "dim"
        subject = paint(f"  # {p.subject}", "dim", on) if p.subject and opts(ctx).verbose else ""
        lines.append(paint(f"{mark} {p.name}", style, on) + subject)
    emit(("\n".join(lines) + "\n").encode() if lines else b"", paging=paging_on(ctx))
