"""FlagScale's ``tools/patch/{unpatch,patch,merge}.py`` command lines, parsed as FlagScale parses them.

click has no option taking a variable number of values (``--backend Megatron-LM vllm``), so
these verbs hand their arguments to an ``argparse`` parser built with FlagScale's own
definitions (FlagScale ``da4935ec6``: ``nargs="+"``, defaults, choices, ``--no-*`` flags), and
argparse's errors become one ``error:`` line with exit 2.  The meaning of every flag is in
:mod:`fspatch.commands.legacy` and ``docs/flagscale-compat.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from fspatch.cli.base import command, group
from fspatch.cli.options import opts
from fspatch.cli.render import clean, say


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise click.UsageError(message)


def _tasks(p: argparse.ArgumentParser, *, required: bool = False, choices: bool = True) -> None:
    p.add_argument(
        "--task",
        nargs="+",
        default=None,
        required=required,
        choices=["train", "inference", "post_train"] if choices else None,
        help="Task(s); a vendor layer must declare one (the first declared is used).",
    )


def _common(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument(
        "--backend",
        nargs="+",
        default=["Megatron-LM"],
        help=f"Backend(s) to {verb} (FlagScale spellings: megatron, Megatron-LM, vllm …).",
    )


def unpatch_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fspatch unpatch", add_help=False)
    _common(p, "unpatch")
    p.add_argument("--device-type", help="Device type: the vendor whose vendor.yaml names it.")
    _tasks(p)
    p.add_argument("--commit", help="Workspace (FlagScale) commit whose layers to apply (= apply --at).")
    p.add_argument("--no-force", dest="force", action="store_false", help="Refuse when HEAD left the stack.")
    p.add_argument(
        "--no-init-submodule", dest="init_submodule", action="store_false", help="Never clone a missing checkout."
    )
    p.add_argument("--key-path", help="Directory with private_key.pem (encrypted patches, in memory only).")
    p.add_argument(
        "--no-fs-extension", dest="fs_extension", action="store_false", help="Check out the pristine pin."
    )
    p.add_argument("--backend-commit", nargs="+", default=[], help="Per backend: must be its pin ('-': the pin).")
    return p


def patch_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fspatch patch", add_help=False)
    _common(p, "patch")
    p.add_argument("--commit", help="FlagScale commit the vendor patch is based on (diff.yaml commit).")
    p.add_argument("--device-type", help="Device type: record into that vendor's layer (else the common layer).")
    _tasks(p, choices=False)
    p.add_argument("--key-path", help="Directory with public_key.pem: the export is encrypted to it.")
    p.add_argument(
        "--out",
        help="fspatch: where FlagScale's form goes (OUT/hardware/<Device_Type>/<Backend>/); default the workspace.",
    )
    return p


def merge_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fspatch merge", add_help=False)
    _common(p, "record")
    p.add_argument("--device-type", required=True, help="Device type, e.g. Cambricon_MLU.")
    _tasks(p, required=True)
    p.add_argument("--commit", required=True, help="FlagScale (workspace) commit to record.")
    return p


def _help(parser: Callable[[], argparse.ArgumentParser], summary: str) -> str:
    lines = [summary, "", "FlagScale's options (tools/patch, as FlagScale parses them):", "", "\b"]
    for a in parser()._actions:
        flags = ", ".join(a.option_strings)
        value = " VALUE..." if a.nargs == "+" else "" if a.nargs == 0 else " VALUE"
        lines.append(f"  {flags + value:<28} {a.help or ''}")
    return "\n".join(lines)


def _parse(parser: Callable[[], argparse.ArgumentParser], argv: tuple[str, ...]) -> argparse.Namespace:
    return parser().parse_args(list(argv))


def _render(ctx: click.Context, r: Any) -> None:
    for step in r.steps:
        say(ctx, clean(f"{step.mapped_to}: {step.detail}"))
    for note in r.notes:
        say(ctx, clean(f"note: {note}"))


_RAW = {"ignore_unknown_options": True}


@command(
    "unpatch",
    context_settings=_RAW,
    help=_help(unpatch_parser, "FlagScale-style: check out BACKEND… with their layers (= fspatch apply)."),
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def unpatch_cmd(ctx: click.Context, argv: tuple[str, ...]) -> None:
    from fspatch.commands import legacy as cmd

    a = _parse(unpatch_parser, argv)
    r = cmd.run_unpatch(
        opts(ctx).workspace(),
        a.backend,
        device_type=a.device_type,
        tasks=a.task or (),
        commit=a.commit,
        force=a.force,
        init_submodule=a.init_submodule,
        key_path=Path(a.key_path) if a.key_path else None,
        fs_extension=a.fs_extension,
        backend_commits=a.backend_commit,
    )
    _render(ctx, r)


@command(
    "patch",
    context_settings=_RAW,
    help=_help(
        patch_parser,
        "FlagScale-style: record the checkout's edits into the patches that own them (= fspatch absorb, "
        "then export for a vendor).",
    ),
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def patch_cmd(ctx: click.Context, argv: tuple[str, ...]) -> None:
    from fspatch.commands import legacy as cmd

    a = _parse(patch_parser, argv)
    r = cmd.run_patch(
        opts(ctx).workspace(),
        a.backend,
        device_type=a.device_type,
        tasks=a.task or (),
        commit=a.commit,
        key_path=Path(a.key_path) if a.key_path else None,
        out=Path(a.out) if a.out else None,
    )
    _render(ctx, r)


@command(
    "merge",
    context_settings=_RAW,
    help=_help(merge_parser, "FlagScale-style: add a commit to the FlagScale patch history (merge.py)."),
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def merge_cmd(ctx: click.Context, argv: tuple[str, ...]) -> None:
    from fspatch.commands import legacy as cmd

    a = _parse(merge_parser, argv)
    r = cmd.run_merge(opts(ctx).workspace(), a.backend, device_type=a.device_type, tasks=a.task, commit=a.commit)
    _render(ctx, r)


@group("compat")
def compat() -> None:
    """FlagScale compatibility: its tools/patch scripts backed by fspatch."""


@compat.command("install")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace scripts that are there with other content.")
@click.pass_context
def compat_install(ctx: click.Context, directory: Path, force: bool) -> None:
    """Write tools/patch/{patch,unpatch,merge}.py into the FlagScale checkout DIRECTORY."""
    from fspatch.commands import compat as cmd

    r = cmd.run_install(directory, force=force)
    for p in r.written:
        say(ctx, f"wrote {p}")
    for p in r.unchanged:
        say(ctx, f"{p} unchanged")
