"""Queue verbs: ``header``, ``fold``, ``float``, ``sink``, ``squash``, ``files``, ``patches``, ``top``,
``next``, ``previous``, ``applied``, ``unapplied`` (quilt's and StGit's names for them)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fspatch.cli.base import command
from fspatch.cli.options import backend_option, opts, pick_backend, vendor_option
from fspatch.cli.render import say
from fspatch.errors import UsageError


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _position(which: str, summary: str) -> click.Command:
    @command(which, help=summary)
    @backend_option
    @vendor_option
    @click.pass_context
    def verb(ctx: click.Context, backend: str | None, vendor: str | None) -> None:
        from fspatch.commands import queue as cmd

        ws = opts(ctx).workspace()
        r = cmd.run_position(ws, pick_backend(ws, backend), which, layer=vendor)
        click.echo(r.names[0])

    return verb


def _listing(which: str, summary: str) -> click.Command:
    @command(which, help=summary)
    @backend_option
    @vendor_option
    @click.pass_context
    def verb(ctx: click.Context, backend: str | None, vendor: str | None) -> None:
        from fspatch.commands import queue as cmd

        ws = opts(ctx).workspace()
        r = cmd.run_list(ws, pick_backend(ws, backend), which, layer=vendor)
        for name in r.names:
            click.echo(name)

    return verb


top = _position("top", "Print the top applied patch of the layer.")
next_ = _position("next", "Print the next patch that push would apply.")
previous = _position("previous", "Print the applied patch below the top one.")
applied = _listing("applied", "List the applied patches of the layer, bottom first.")
unapplied = _listing("unapplied", "List the patches of the layer that are not applied, in series order.")


@command("files")
@click.argument("patch", required=False)
@backend_option
@vendor_option
@click.pass_context
def files(ctx: click.Context, patch: str | None, backend: str | None, vendor: str | None) -> None:
    """List the files PATCH changes (default: the top patch)."""
    from fspatch.commands import queue as cmd

    ws = opts(ctx).workspace()
    r = cmd.run_files(ws, pick_backend(ws, backend), patch, layer=vendor)
    for path in r.files:
        click.echo(path)


@command("patches")
@click.argument("file", metavar="FILE")
@backend_option
@vendor_option
@click.pass_context
def patches(ctx: click.Context, file: str, backend: str | None, vendor: str | None) -> None:
    """List the patches that change FILE, as LAYER/NAME, in stack order.

    FILE is a path in the backend's tree (minillm/layers/norm.py) or one through
    its checkout (third_party/minillm/minillm/layers/norm.py).
    """
    from fspatch.commands import queue as cmd

    ws = opts(ctx).workspace()
    r = cmd.run_patches(ws, pick_backend(ws, backend), file, layer=vendor, cwd=Path.cwd())
    for name in r.patches:
        click.echo(name)


@command("header")
@click.argument("patch", required=False)
@click.option("-m", "--message", help="New description: subject line, blank line, body (the author stays).")
@click.option("-e", "--edit", "edit", is_flag=True, help="Edit the header in $VISUAL or $EDITOR.")
@backend_option
@vendor_option
@click.pass_context
def header(
    ctx: click.Context, patch: str | None, message: str | None, edit: bool, backend: str | None, vendor: str | None
) -> None:
    """Show PATCH's header (From, Subject, description, trailers), or set it with -m or -e.

    Default PATCH: the top patch.  Setting it rewrites the patch file and, for an
    applied patch, the commit messages of the stack; no file of the checkout changes.
    """
    from fspatch.commands import header as cmd

    ws = opts(ctx).workspace()
    name = pick_backend(ws, backend)
    if message is not None and edit:
        raise UsageError("give -m or -e, not both")
    if message is None and not edit:
        click.echo(cmd.run_show(ws, name, patch, layer=vendor).text, nl=False)
        return
    text = None
    if edit:
        shown = cmd.run_show(ws, name, patch, layer=vendor)
        try:
            text = click.edit(shown.text, require_save=False, extension=".txt")
        except click.ClickException as exc:
            raise UsageError(f"the editor failed ({exc.format_message()}); the header is unchanged") from None
        if text is None:
            raise UsageError("the editor failed or the file was not saved; the header is unchanged")
    r = cmd.run_set(ws, name, patch, message=message, text=text, layer=vendor)
    say(ctx, f"Updated the header of {r.path}" if r.changed else f"{r.path} unchanged")


@command("fold")
@click.argument(
    "file", metavar="[FILE]", required=False, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "-p", "strip", type=click.IntRange(0, 20), default=1, show_default=True, help="Strip N leading path components."
)
@backend_option
@vendor_option
@click.pass_context
def fold(ctx: click.Context, file: Path | None, strip: int, backend: str | None, vendor: str | None) -> None:
    """Fold the diff in FILE (or stdin) into the top patch, in memory, and check it out."""
    from fspatch.commands import fold as cmd

    ws = opts(ctx).workspace()
    if file is None or str(file) == "-":
        data, source = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            data, source = file.read_bytes(), file.name
        except OSError as exc:
            raise UsageError(f"{file}: {exc.strerror}") from None
    r = cmd.run(ws, pick_backend(ws, backend), data, source, strip=strip, layer=vendor)
    say(ctx, f"Folded {r.source} into {r.path} ({_plural(len(r.files), 'file')})")


@command("float")
@click.argument("patch")
@backend_option
@vendor_option
@click.pass_context
def float_(ctx: click.Context, patch: str, backend: str | None, vendor: str | None) -> None:
    """Move PATCH to the top of the applied patches of its layer (pushing it if needed)."""
    from fspatch.commands import reorder as cmd

    ws = opts(ctx).workspace()
    r = cmd.run_float(ws, pick_backend(ws, backend), patch, layer=vendor)
    say(ctx, f"Moved {r.patch} to the top of {r.dir}")


@command("sink")
@click.argument("patch")
@click.option("--to", "to", metavar="TARGET", help="Put PATCH just below TARGET instead of at the bottom.")
@backend_option
@vendor_option
@click.pass_context
def sink(ctx: click.Context, patch: str, to: str | None, backend: str | None, vendor: str | None) -> None:
    """Move PATCH to the bottom of its layer (or just below TARGET)."""
    from fspatch.commands import reorder as cmd

    ws = opts(ctx).workspace()
    r = cmd.run_sink(ws, pick_backend(ws, backend), patch, to=to, layer=vendor)
    say(ctx, f"Moved {r.patch} below {r.below}" if r.below else f"Moved {r.patch} to the bottom of {r.dir}")


@command("squash")
@click.argument("first", metavar="PATCH")
@click.argument("second", metavar="OTHER")
@click.option("-m", "--message", help="Description of the combined patch (default: PATCH's).")
@backend_option
@vendor_option
@click.pass_context
def squash(
    ctx: click.Context, first: str, second: str, message: str | None, backend: str | None, vendor: str | None
) -> None:
    """Fold patch OTHER into PATCH: one patch with both changes, named and described as PATCH."""
    from fspatch.commands import squash as cmd

    ws = opts(ctx).workspace()
    r = cmd.run(ws, pick_backend(ws, backend), first, second, message=message, layer=vendor)
    say(ctx, f"Squashed {r.squashed} into {r.into}")


COMMANDS = (header, fold, float_, sink, squash, files, patches, top, next_, previous, applied, unapplied)
