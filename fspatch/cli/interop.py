"""``import flagscale|quilt|mbox|commits``: patches kept in other layouts become layer patches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fspatch.cli.base import group
from fspatch.cli.options import format_option, opts
from fspatch.cli.render import say, to_json

F = TypeVar("F", bound=Callable[..., Any])


@group("import")
def import_group() -> None:
    """Import patches kept in other layouts."""


@import_group.command("flagscale")
@click.argument("path", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--key",
    "key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="RSA private key (PEM) for *.patch.encrypted, decrypted in memory only.",
)
@click.option("--force", is_flag=True, help="Replace layers that already hold patches.")
@format_option
@click.pass_context
def import_flagscale(ctx: click.Context, path: Path, key: Path | None, force: bool, fmt: str) -> None:
    """Import a FlagScale-style repository: common patches, vendor layers, history."""
    from fspatch.commands import import_flagscale as cmd

    r = cmd.run(opts(ctx).workspace(), path, key=key, force=force)
    if fmt == "json":
        click.echo(to_json(r))
        return
    for c in r.common:
        say(ctx, f"common/{c.backend}: {c.patches} patches")
    for v in r.vendors:
        enc = ", encrypted" if v.encrypted else ""
        say(
            ctx,
            f"{v.vendor}/{v.backend}: {v.patches} patches{enc}; removed {v.hunks_removed} of "
            f"{v.hunks_total} hunks ({v.lines_removed} lines) identical to the common layer",
        )
    if r.history:
        say(ctx, "history: vendors/history.import.yaml")


def _layer_options(f: F) -> F:
    f = click.option(
        "--no-check",
        "no_check",
        is_flag=True,
        help="Store the patches even if they do not apply on the layer's top (fix them with push/refresh).",
    )(f)
    f = click.option("--vendor", metavar="VENDOR", help="Append to this vendor's layer (default: the common layer).")(f)
    f = click.option(
        "-b", "--backend", "backend_name", metavar="BACKEND", help="Backend whose layer gets the patches."
    )(f)
    return f


def _say_import(ctx: click.Context, r: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(to_json(r))
        return
    for p in r.patches:
        say(ctx, f"{r.layer_dir}/{p.name}  <- {p.source}")
    for s in r.skipped:
        say(ctx, f"skipped {s}")
    # quilt import does not push either; say so, so "imported" is not read as "applied".
    checked = "checked to apply there, not pushed" if r.checked else "not checked (no checkout, or --no-check)"
    many = "es" if len(r.patches) != 1 else ""
    say(ctx, f"{r.layer}/{r.backend}: {len(r.patches)} patch{many} imported at the end of the layer, {checked}")


@import_group.command("quilt")
@click.argument("path", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_layer_options
@click.option("--keep-names", is_flag=True, help="Keep the quilt file names verbatim (default: NNNN-<name>.patch).")
@format_option
@click.pass_context
def import_quilt(
    ctx: click.Context,
    path: Path,
    backend_name: str | None,
    vendor: str | None,
    no_check: bool,
    keep_names: bool,
    fmt: str,
) -> None:
    """Append a quilt series (PATH, PATH/patches or PATH/debian/patches) to a layer, headers kept."""
    from fspatch.commands import import_quilt as cmd

    r = cmd.run(
        opts(ctx).workspace(), path, backend=backend_name, vendor=vendor, keep_names=keep_names, check=not no_check
    )
    _say_import(ctx, r, fmt)


@import_group.command("mbox")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_layer_options
@format_option
@click.pass_context
def import_mbox(
    ctx: click.Context, files: tuple[Path, ...], backend_name: str | None, vendor: str | None, no_check: bool, fmt: str
) -> None:
    """Append the patches of mailboxes or git format-patch files to a layer, in order."""
    from fspatch.commands import import_mbox as cmd

    r = cmd.run(opts(ctx).workspace(), files, backend=backend_name, vendor=vendor, check=not no_check)
    _say_import(ctx, r, fmt)


@import_group.command("commits")
@click.argument("spec", metavar="A..B")
@_layer_options
@format_option
@click.pass_context
def import_commits(
    ctx: click.Context, spec: str, backend_name: str | None, vendor: str | None, no_check: bool, fmt: str
) -> None:
    """Append the first-parent commits A..B of the backend's checkout to a layer, oldest first."""
    from fspatch.commands import import_commits as cmd

    r = cmd.run(opts(ctx).workspace(), spec, backend=backend_name, vendor=vendor, check=not no_check)
    _say_import(ctx, r, fmt)
