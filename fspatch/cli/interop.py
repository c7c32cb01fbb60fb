"""``import flagscale|quilt|mbox|commits``: patches kept in other layouts become layer patches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fspatch.cli.base import group
from fspatch.cli.options import format_option, opts
from fspatch.cli.render import say, to_json
from fspatch.errors import EXIT_FINDINGS

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
@click.option(
    "--skip-encrypted",
    is_flag=True,
    help="Without --key, skip encrypted vendor directories instead of carrying them opaque.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="All or nothing: any vendor directory that cannot be imported is the error, nothing is written.",
)
@format_option
@click.pass_context
def import_flagscale(
    ctx: click.Context, path: Path, key: Path | None, force: bool, skip_encrypted: bool, strict: bool, fmt: str
) -> None:
    """Import a FlagScale repository: common patches, vendor layers (every layout), history.

    Every vendor directory is reported as imported, opaque (encrypted, no --key), skipped or
    failed, with the reason; a file not imported for another reason is listed under it (with -v,
    every file; --format json always lists every file).  Each vendor layer is split from the
    common layer of its own time on its own upstream commit (diff.yaml's backends_commit and
    commit), then brought to the pin; conflicting patches are left pending (exit 1): finish them
    with 'fspatch apply' and continue/skip/abort (--strict: refused).
    """
    from fspatch.commands import import_flagscale as cmd

    r = cmd.run(opts(ctx).workspace(), path, key=key, force=force, skip_encrypted=skip_encrypted, strict=strict)
    if fmt == "json":
        click.echo(to_json(r))
        if r.pending:
            ctx.exit(EXIT_FINDINGS)
        return
    for c in r.common:
        say(ctx, f"common/{c.backend}: {c.patches} patches")
    for v in r.vendors:
        enc = ", encrypted" if v.encrypted else ""
        say(
            ctx,
            f"{v.vendor}/{v.backend}: {v.patches} patches{enc}; removed {v.hunks_removed} of "
            f"{v.hunks_total} hunks ({v.lines_removed} lines) identical to the common layer"
            + ("; made against upstream: the common layer's changes in it subtracted" if v.embedded_common else ""),
        )
        if v.forward is not None:
            for line in forward_lines(v.forward):
                say(ctx, f"  {line}")
    for d in r.dirs:
        head = f"{d.source} [{d.layout}]: {d.status}, {len(d.imported)} of {d.files_found} files"
        say(ctx, head + (f": {d.reason}" if d.reason else ""))
        for w in d.warnings:
            say(ctx, f"  warning: {w}")
        verbose = opts(ctx).verbose
        for s in d.listed:
            if verbose or s.reason != d.reason:  # -v: every file, even those sharing the directory's reason
                say(ctx, f"  not imported: {s.path}: {s.reason}")
    for s in r.skipped:
        say(ctx, f"not imported: {s.path}: {s.reason}")
    for w in r.warnings:
        say(ctx, f"warning: {w}")
    if r.history:
        say(ctx, "history: vendors/patch_history.yaml (FlagScale's), vendors/history.import.yaml")
    for p in r.pending:
        say(ctx, f"pending: {p}; run 'fspatch apply' to resolve, then 'fspatch continue'")
    if r.pending:
        ctx.exit(EXIT_FINDINGS)


def forward_lines(f: Any) -> list[str]:
    """``found at <FlagScale base> (upstream <commit>), brought to <pin>: N clean, M conflicts`` and its details."""
    at = f.found_at[:9] if f.found_at else "an unknown FlagScale commit"
    up = f.upstream[:12] + ("" if f.upstream == f.backends_commit else f", backends_commit {f.backends_commit[:12]}")
    lines = [f"found at {at} (upstream {up}), brought to {f.brought_to[:12]}: {f.clean} clean, {f.conflicts} conflicts"]
    for c in f.regions:
        culprit = f", culprit {c.culprit}" if c.culprit else ""
        lines.append(f"  conflict: {c.patch}: {c.file} {c.region}{culprit}")
    lines.extend(f"  note: {n}" for n in f.notes)
    return lines


def _layer_options(f: F) -> F:
    f = click.option(
        "--no-check",
        "no_check",
        is_flag=True,
        help="Store the patches even if they do not apply on the layer's top (fix them with push/refresh).",
    )(f)
    f = click.option(
        "--append",
        is_flag=True,
        help="Put the patches at the end of the layer (default: after its top applied patch, as quilt import).",
    )(f)
    f = click.option("--vendor", metavar="VENDOR", help="Import into this vendor's layer (default: common).")(f)
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
    if r.at_end:
        where = "at the end of the layer"
    elif r.after is None:
        where = "at the start of the layer (none of it applied)"
    else:
        where = f"after {r.after}, the top applied patch"
    say(ctx, f"{r.layer}/{r.backend}: {len(r.patches)} patch{many} imported {where}, {checked}")


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
    append: bool,
    keep_names: bool,
    fmt: str,
) -> None:
    """Import a quilt series (PATH, PATH/patches or PATH/debian/patches) into a layer, headers kept.

    As quilt import, the patches go after the layer's top applied patch, unapplied
    (--append: at the end of the series); the last line says where.
    """
    from fspatch.commands import import_quilt as cmd

    r = cmd.run(
        opts(ctx).workspace(),
        path,
        backend=backend_name,
        vendor=vendor,
        keep_names=keep_names,
        check=not no_check,
        append=append,
    )
    _say_import(ctx, r, fmt)


@import_group.command("mbox")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_layer_options
@format_option
@click.pass_context
def import_mbox(
    ctx: click.Context,
    files: tuple[Path, ...],
    backend_name: str | None,
    vendor: str | None,
    no_check: bool,
    append: bool,
    fmt: str,
) -> None:
    """Import the patches of mailboxes or git format-patch files into a layer, in order,
    after its top applied patch (--append: at the end)."""
    from fspatch.commands import import_mbox as cmd

    r = cmd.run(opts(ctx).workspace(), files, backend=backend_name, vendor=vendor, check=not no_check, append=append)
    _say_import(ctx, r, fmt)


@import_group.command("commits")
@click.argument("spec", metavar="A..B")
@_layer_options
@format_option
@click.pass_context
def import_commits(
    ctx: click.Context, spec: str, backend_name: str | None, vendor: str | None, no_check: bool, append: bool, fmt: str
) -> None:
    """Import the first-parent commits A..B of the backend's checkout into a layer, oldest first,
    after its top applied patch (--append: at the end)."""
    from fspatch.commands import import_commits as cmd

    r = cmd.run(opts(ctx).workspace(), spec, backend=backend_name, vendor=vendor, check=not no_check, append=append)
    _say_import(ctx, r, fmt)
