"""FlagScale's own entry points, ``unpatch`` and ``patch``, mapped onto fspatch's verbs (DESIGN §5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from fspatch.cli.base import command
from fspatch.cli.options import TASK_CHOICE, opts
from fspatch.cli.render import say

F = TypeVar("F", bound=Callable[..., Any])


def _legacy_options(f: F) -> F:
    f = click.option(
        "--commit", metavar="SHA", help="Workspace commit (unpatch: layers as of it; patch: must be HEAD)."
    )(f)
    f = click.option("--task", type=TASK_CHOICE, help="Task the vendor layer must declare.")(f)
    f = click.option("--device-type", "device_type", help="Device type naming the vendor (vendor.yaml device_type).")(f)
    f = click.option("-b", "--backend", "backend_name", required=True, help="Backend, e.g. vllm or Megatron-LM.")(f)
    return f


@command("unpatch")
@_legacy_options
@click.pass_context
def unpatch_cmd(
    ctx: click.Context, backend_name: str, device_type: str | None, task: str | None, commit: str | None
) -> None:
    """FlagScale-style: check out BACKEND with its patches (= fspatch apply)."""
    from fspatch.commands import legacy as cmd

    r = cmd.run_unpatch(opts(ctx).workspace(), backend_name, device_type=device_type, task=task, commit=commit)
    say(ctx, f"{r.mapped_to}: {r.detail}")


@command("patch")
@_legacy_options
@click.pass_context
def patch_cmd(
    ctx: click.Context, backend_name: str, device_type: str | None, task: str | None, commit: str | None
) -> None:
    """FlagScale-style: record the checkout's edits (= fspatch refresh, then export for a vendor)."""
    from fspatch.commands import legacy as cmd

    r = cmd.run_patch(opts(ctx).workspace(), backend_name, device_type=device_type, task=task, commit=commit)
    say(ctx, f"{r.mapped_to}: {r.detail}")
