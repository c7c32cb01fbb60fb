"""The command line: click wiring, rendering, exit codes.  The only package that prints.

One module per noun (``workspace``, ``stack``, ``patch``, ``check``, ``upstream``, ``journal``,
``review``, ``vendor``, ``interop``, ``legacy``), each defining plain click commands; this module
builds the root group and registers them explicitly, in the order ``fspatch --help`` lists them.
Nothing in the package imports this module, so there is no import circle.  Each verb parses its
options, calls ``fspatch.commands.<verb>.run…`` and renders the result dataclass as text or JSON;
``base.FspatchGroup`` maps errors to one ``error: …`` line and an exit code.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import click

from fspatch import __version__
from fspatch.cli import (
    absorb,
    check,
    interop,
    journal,
    legacy,
    patch,
    queue,
    resolutions,
    review,
    stack,
    sync,
    upstream,
    vendor,
    workspace,
)
from fspatch.cli.base import group
from fspatch.cli.complete import attach
from fspatch.cli.globals import help_cmd, install
from fspatch.cli.options import Options


@group()
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


# The order of `fspatch --help`: set-up, stacks, patches, looking, recovery, then later verbs.
for _cmd in (
    workspace.init,
    workspace.backend,
    sync.sync,
    stack.apply,
    stack.push,
    stack.pop,
    stack.goto,
    patch.new,
    patch.refresh,
    absorb.absorb,
    patch.delete,
    patch.rename,
    stack.status,
    stack.series_cmd,
    patch.diff,
    journal.recover,
    check.check,
    check.mark,
    check.matrix,
    patch.fmt,
    upstream.pull_upstream,
    upstream.rebase_vendors,
    journal.continue_,
    journal.skip,
    journal.abort,
    resolutions.resolutions,
    review.review,
    review.blame,
    vendor.vendor,
    vendor.export_cmd,
    interop.import_group,
    legacy.unpatch_cmd,
    legacy.patch_cmd,
    legacy.merge_cmd,
    legacy.compat,
    *queue.COMMANDS,
    help_cmd,
):
    main_group.add_command(_cmd)
del _cmd
install(main_group)  # global options after the verb too, --color/--no-pager, examples in every --help
attach(main_group)  # shell completion of patch, backend, vendor and layer names


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``fspatch = "fspatch.cli:main"``).

    Run as the program (no ``argv``), the process ends with ``os._exit`` once the verb is done
    and stdout/stderr are flushed.  Why: Python's own teardown frees every module and object
    (~25 ms CPU after a 70-patch pull-upstream, 5 % of the process) and does nothing fspatch
    needs: every file is written and closed by then, click has closed the verb's context
    (the workspace lock is released), and no atexit handler, thread or finaliser is relied on.
    A flush that fails (a closed pipe) takes Python's usual way out.  Called with ``argv``
    (tests, embedding) it raises ``SystemExit`` as click does.

    The program also collects cyclic garbage less often (a young collection every 100,000
    allocations, not 700): a verb's objects live until it ends, and the default passes found
    little while costing ~20 ms CPU of a Megatron-LM pull-upstream (docs/replay.md, perf13e;
    peak RSS unchanged within 1 MiB there and on the 80k-file pull).
    """
    if argv is not None:
        main_group.main(args=argv, prog_name="fspatch")
        return
    gc.set_threshold(100_000, 50, 50)  # see the docstring
    try:
        main_group.main(prog_name="fspatch")
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
        if not isinstance(code, int):
            raise
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            raise exc from None
        os._exit(code & 0xFF)


__all__ = ["main", "main_group"]
