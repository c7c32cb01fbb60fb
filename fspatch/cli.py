"""The command line: click wiring, rendering, exit codes.  The only module that prints.

Each verb parses its options, calls ``fspatch.commands.<verb>.run`` and renders
the result dataclass as text or JSON.  Errors derived from ``FspatchError``
become one ``error: …`` line and their class's exit code; anything else is a
bug: one ``internal error`` line and exit 3 (``FSPATCH_DEBUG=1`` shows the
traceback).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fspatch import __version__
from fspatch.errors import EXIT_INTERNAL, FspatchError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclasses.dataclass
class Options:
    directory: Path | None
    quiet: bool
    verbose: bool

    def workspace(self) -> Any:
        from fspatch.core.workspace import Workspace, find_root

        return Workspace.load(find_root(Path.cwd(), self.directory))


def _opts(ctx: click.Context) -> Options:
    opts = ctx.find_object(Options)
    assert opts is not None, "main_group sets ctx.obj"
    return opts


def _json(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, bytes):
            return o.decode("utf-8", "surrogateescape")
        if isinstance(o, Path):
            return str(o)
        raise TypeError(type(o).__name__)

    is_instance = dataclasses.is_dataclass(value) and not isinstance(value, type)
    data = dataclasses.asdict(value) if is_instance else value
    return json.dumps(data, indent=2, sort_keys=True, default=default)


def _say(ctx: click.Context, text: str) -> None:
    if not _opts(ctx).quiet:
        click.echo(text)


def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format.",
    )(f)


def backend_option(f: F) -> F:
    return click.option(
        "-b",
        "--backend",
        "backend",
        metavar="BACKEND",
        help="Backend to work on (default: the only one, the one you stand in, or the one applied).",
    )(f)


def vendor_option(f: F) -> F:
    return click.option("--vendor", metavar="VENDOR", help="Work on this vendor's layer instead of the top layer.")(f)


class FspatchGroup(click.Group):
    """Lists commands in the order they were added; turns errors into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FspatchError as exc:
            if os.environ.get("FSPATCH_DEBUG"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.exceptions.UsageError as exc:
            # One line, like every other error (git style): the usage text is one --help away.
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            ctx.exit(0)
        except Exception as exc:  # a bug: one line, exit 3
            if os.environ.get("FSPATCH_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc} (set FSPATCH_DEBUG=1 for a traceback)", err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=FspatchGroup, context_settings=CONTEXT)
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if fspatch was started in DIR (the workspace root).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only print errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print more detail.")
@click.version_option(__version__, "--version", prog_name="fspatch")
@click.pass_context
def main_group(ctx: click.Context, directory: Path | None, quiet: bool, verbose: bool) -> None:
    """Layered patch queues for upstream backends.

    A workspace pins each backend's upstream in upstream.lock and keeps a common
    patch series per backend (series/BACKEND/) and vendor layers on top of it
    (vendors/VENDOR/BACKEND/).  Stacks are built in memory and checked out once.
    """
    ctx.obj = Options(directory, quiet, verbose)


# -- workspace set-up --------------------------------------------------------
@main_group.command(context_settings=CONTEXT)
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, directory: Path | None) -> None:
    """Create an fspatch workspace (upstream.lock, series/, vendors/, schemas/)."""
    from fspatch.commands import init as cmd

    root = directory or _opts(ctx).directory or Path.cwd()
    root.mkdir(parents=True, exist_ok=True)
    r = cmd.run(root.resolve())
    _say(ctx, f"Initialized fspatch workspace in {r.root}")
    for p in r.created:
        _say(ctx, f"  created {p}")


@main_group.group(context_settings=CONTEXT, cls=FspatchGroup)
def backend() -> None:
    """Manage the upstream backends pinned in upstream.lock."""


@backend.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--url", required=True, help="Git URL, local path or file:// URL of the upstream.")
@click.option("--ref", required=True, help="Tag, branch or commit to pin.")
@click.option("--path", "path", help="Checkout path in the workspace (default third_party/NAME).")
@click.pass_context
def backend_add(ctx: click.Context, name: str, url: str, ref: str, path: str | None) -> None:
    """Clone (or reuse) a backend checkout and pin REF's commit in upstream.lock."""
    from fspatch.commands import backend as cmd

    r = cmd.run_add(_opts(ctx).workspace(), name, url=url, ref=ref, path=path)
    verb = "cloned into" if r.cloned else "reusing"
    _say(ctx, f"{r.backend}: {verb} {r.path}, pinned {r.ref} at {r.commit}")


@backend.command("list", context_settings=CONTEXT)
@format_option
@click.pass_context
def backend_list(ctx: click.Context, fmt: str) -> None:
    """List the pinned backends."""
    ws = _opts(ctx).workspace()
    items = [dataclasses.asdict(b) for _, b in sorted(ws.backends().items())]
    if fmt == "json":
        click.echo(_json(items))
        return
    for b in items:
        click.echo(f"{b['name']:<12} {b['ref']:<16} {b['commit'][:12]}  {b['path']}  {b['url']}")


# -- building stacks ---------------------------------------------------------
@main_group.command(context_settings=CONTEXT)
@click.argument("backend_name", metavar="BACKEND")
@vendor_option
@click.option(
    "--task", type=click.Choice(["train", "inference", "post_train"]), help="Task the vendor layer must declare."
)
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
        _opts(ctx).workspace(), backend_name, vendor=vendor, task=task, upto=upto, force=force, to=to, at=at, key=key
    )
    for name in r.unauthenticated:
        click.echo(f"warning: {name}: unauthenticated encryption (AES-256-CBC, no MAC); checked strictly", err=True)
    for layer in r.layers:
        top = f", top {layer.top}" if layer.top else ""
        _say(ctx, f"{r.backend}: {layer.layer}: applied {layer.applied}/{layer.total} patches{top}")
    if r.to is not None:
        _say(ctx, f"{r.backend}: wrote {r.touched} files to {r.to}")
        return
    _say(ctx, f"{r.backend}: checked out {r.head[:12]} ({r.touched} files written)")


@main_group.command(context_settings=CONTEXT)
@click.argument("patch", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Push every unapplied patch.")
@backend_option
@vendor_option
@click.pass_context
def push(ctx: click.Context, patch: str | None, all_: bool, backend: str | None, vendor: str | None) -> None:
    """Apply the next patch (or up to PATCH, or all) of the current layer."""
    from fspatch.commands import push as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), patch=patch, all_=all_, vendor=vendor)
    for name in r.pushed:
        _say(ctx, f"Applying {name}")
    _say(ctx, f"Now at {r.top}")


@main_group.command(context_settings=CONTEXT)
@click.argument("patch", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Pop every applied patch of the layer.")
@backend_option
@vendor_option
@click.pass_context
def pop(ctx: click.Context, patch: str | None, all_: bool, backend: str | None, vendor: str | None) -> None:
    """Unapply the top patch (or down to PATCH, or all) of the current layer."""
    from fspatch.commands import pop as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), patch=patch, all_=all_, vendor=vendor)
    for name in reversed(r.popped):
        _say(ctx, f"Removing {name}")
    _say(ctx, f"Now at {r.top}" if r.top else "No patches applied")


@main_group.command(context_settings=CONTEXT)
@click.argument("patch")
@backend_option
@vendor_option
@click.pass_context
def goto(ctx: click.Context, patch: str, backend: str | None, vendor: str | None) -> None:
    """Push or pop until PATCH is the top of its layer."""
    from fspatch.commands import goto as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), patch, vendor=vendor)
    for name in reversed(r.popped):
        _say(ctx, f"Removing {name}")
    for name in r.pushed:
        _say(ctx, f"Applying {name}")
    _say(ctx, f"Now at {r.top}")


# -- editing patches -----------------------------------------------------------
@main_group.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("-m", "--message", help="Subject of the new patch.")
@backend_option
@vendor_option
@click.pass_context
def new(ctx: click.Context, name: str, message: str | None, backend: str | None, vendor: str | None) -> None:
    """Create an empty patch NAME above the current top; edit files, then refresh."""
    from fspatch.commands import new as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), name, message=message, vendor=vendor)
    _say(ctx, f"Patch {r.path} is now on top")


@main_group.command(context_settings=CONTEXT)
@click.argument("patch", required=False)
@click.option("--mark", "mark_", is_flag=True, help="First wrap unmarked changes in FLAGSCALE MODIFICATION markers.")
@backend_option
@vendor_option
@click.pass_context
def refresh(ctx: click.Context, patch: str | None, mark_: bool, backend: str | None, vendor: str | None) -> None:
    """Record the checkout's edits (staged, unstaged, untracked) into the top patch or PATCH."""
    from fspatch.commands import refresh as cmd

    ws = _opts(ctx).workspace()
    if mark_:
        from fspatch.commands import mark as mark_cmd

        m = mark_cmd.run(ws, _backend(ws, backend), patch=patch, vendor=vendor)
        for path in m.wrapped:
            _say(ctx, f"marked {path}")
        _say(ctx, f"Refreshed {m.patch}" if m.file_changed else f"{m.patch} unchanged")
        return
    r = cmd.run(ws, _backend(ws, backend), patch=patch, vendor=vendor)
    if r.file_changed:
        _say(ctx, f"Refreshed {r.path} ({len(r.files)} file{'s' if len(r.files) != 1 else ''})")
    else:
        _say(ctx, f"{r.path} unchanged")


@main_group.command(context_settings=CONTEXT)
@click.argument("patch")
@click.option("--keep", "keep_file", is_flag=True, help="Keep the patch file; only drop it from the series.")
@backend_option
@vendor_option
@click.pass_context
def delete(ctx: click.Context, patch: str, keep_file: bool, backend: str | None, vendor: str | None) -> None:
    """Remove PATCH from its series (popping it first if it is the top)."""
    from fspatch.commands import delete as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), patch, vendor=vendor, keep_file=keep_file)
    if r.popped:
        _say(ctx, f"Removing {r.patch}")
    _say(ctx, f"Deleted {r.patch}" + ("" if r.file_removed else " from the series (file kept)"))


@main_group.command(context_settings=CONTEXT)
@click.argument("old")
@click.argument("new_name", metavar="NEW")
@backend_option
@vendor_option
@click.pass_context
def rename(ctx: click.Context, old: str, new_name: str, backend: str | None, vendor: str | None) -> None:
    """Rename patch OLD to NEW (file and series entry)."""
    from fspatch.commands import rename as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), old, new_name, vendor=vendor)
    _say(ctx, f"Renamed {r.old} to {r.new}")


# -- looking -------------------------------------------------------------------
@main_group.command(context_settings=CONTEXT)
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@format_option
@click.pass_context
def status(ctx: click.Context, backend_name: str | None, fmt: str) -> None:
    """Show each backend's pin, applied layers and local edits."""
    from fspatch.commands import status as cmd

    r = cmd.run(_opts(ctx).workspace(), backend_name)
    if fmt == "json":
        click.echo(_json(r))
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


@main_group.command("series", context_settings=CONTEXT)
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@vendor_option
@format_option
@click.pass_context
def series_cmd(ctx: click.Context, backend_name: str | None, vendor: str | None, fmt: str) -> None:
    """List a layer's patches: '+' applied, '>' top, '-' unapplied."""
    from fspatch.commands import series as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend_name), vendor=vendor)
    if fmt == "json":
        click.echo(_json(r))
        return
    for p in r.patches:
        mark = ">" if p.top else "+" if p.applied else "-"
        click.echo(f"{mark} {p.name}" + (f"  # {p.subject}" if p.subject and _opts(ctx).verbose else ""))


@main_group.command(context_settings=CONTEXT)
@click.argument("patch", required=False)
@backend_option
@vendor_option
@click.pass_context
def diff(ctx: click.Context, patch: str | None, backend: str | None, vendor: str | None) -> None:
    """Show PATCH's diff; without PATCH, the top patch with the unrefreshed edits."""
    from fspatch.commands import diff as cmd

    ws = _opts(ctx).workspace()
    r = cmd.run(ws, _backend(ws, backend), patch=patch, vendor=vendor)
    sys.stdout.flush()
    sys.stdout.buffer.write(r.text)
    sys.stdout.buffer.flush()


@main_group.command(context_settings=CONTEXT)
@click.argument("backend_name", metavar="[BACKEND]", required=False)
@click.pass_context
def recover(ctx: click.Context, backend_name: str | None) -> None:
    """Undo a command that was killed half-way: put back every byte from its journal."""
    from fspatch.commands import recover as cmd

    r = cmd.require_any(cmd.run(_opts(ctx).workspace(), backend_name))
    for item in r.recovered:
        _say(ctx, f"{item.where}: undid the interrupted '{item.operation}' ({len(item.restored)} paths restored)")


def _backend(ws: Any, name: str | None) -> str:
    from fspatch.core.session import pick_backend

    return pick_backend(ws, name)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    main_group.main(args=argv, prog_name="fspatch")


# Verbs of later layers register themselves on ``main_group`` (same rules as this module).
from fspatch import (  # noqa: E402,F401
    cli_check,
    cli_rebase,
    cli_review,  # noqa: E402,F401
    cli_vendor,
)
