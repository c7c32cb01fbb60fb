"""Options shared by several verbs, and the global ``-C/-q/-v`` state every verb reads.

Resolving what the user named (the workspace, the backend) is argument parsing, so it lives
here; what a verb then does lives in its ``fspatch.commands`` module.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from fspatch.core.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])

TASK_CHOICE = click.Choice(["train", "inference", "post_train"])

# Verbs that never change the workspace or a checkout; every other verb holds the workspace's
# lock while it runs (core/lock.py; tests/test_every_changing_verb_is_locked.py enumerates them).
READ_ONLY_VERBS = frozenset(
    {
        "applied", "backend list", "blame", "check", "diff", "files", "help", "matrix", "next", "patches",
        "previous", "resolutions list", "resolutions show", "review", "series", "status", "top", "unapplied",
        "vendor list",
    }
)

# Verbs that work on no workspace: ``compat install`` writes FlagScale's tools/patch shims into
# the FlagScale checkout it is given (a folder of someone else's tool), so it takes no lock.
NO_WORKSPACE_VERBS = frozenset({"compat install"})

# Verbs that finish or undo a journal themselves; every other changing verb is refused while one waits.
JOURNAL_VERBS = frozenset({"recover", "abort", "continue", "skip"})


def verb_of(ctx: click.Context) -> str:
    """The verb a context runs, as typed: ``push``, ``backend add``."""
    names: list[str] = []
    while ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(names)


@dataclasses.dataclass
class Options:
    """The root group's options, kept on ``ctx.obj``."""

    directory: Path | None
    quiet: bool
    verbose: bool

    def workspace(self) -> Workspace:
        """The workspace, locked for the rest of the verb unless the verb only reads."""
        from fspatch.core.workspace import Workspace, find_root

        root = find_root(Path.cwd(), self.directory)
        ctx = click.get_current_context(silent=True)
        verb = verb_of(ctx) if ctx is not None else ""
        changing = ctx is not None and verb not in READ_ONLY_VERBS  # check --sync locks in cli/check.py
        if ctx is not None and changing:
            lock_workspace(ctx, root)
        ws = Workspace.load(root)
        if ctx is not None and changing and verb not in JOURNAL_VERBS:
            from fspatch.commands.recover import refuse_pending

            refuse_pending(ws)  # a journal of any verb, anywhere in this workspace
        return ws


def lock_workspace(ctx: click.Context, root: Path) -> None:
    """Hold the workspace's lock until this verb's context closes (however the verb ends)."""
    from fspatch.core.lock import workspace_locked

    ctx.with_resource(workspace_locked(root, verb_of(ctx)))


def opts(ctx: click.Context) -> Options:
    found = ctx.find_object(Options)
    assert found is not None, "main_group sets ctx.obj"
    return found


def pick_backend(ws: Workspace, name: str | None) -> str:
    """The backend named, or the one the workspace makes obvious (DESIGN notes: current backend)."""
    from fspatch.core.session import pick_backend as pick

    return pick(ws, name)


def split_args(ws: Workspace, args: tuple[str, ...], wanted: int, option: str | None = None) -> tuple[str, list[str]]:
    """``[BACKEND] REST...``: the backend is optional when the workspace makes it obvious (or -b names it)."""
    if len(args) == wanted + 1:
        return pick_backend(ws, one_backend(args[0], option)), list(args[1:])
    if len(args) == wanted:
        return pick_backend(ws, option), list(args)
    raise click.UsageError(f"expected {'[BACKEND] FILE' if wanted else '[BACKEND]'}")


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
    """``--layer LAYER``: ``common`` or a vendor; ``--vendor`` is the same option's older spelling."""
    return click.option(
        "--layer",
        "--vendor",
        "vendor",
        metavar="LAYER",
        help="Work on this layer: common or a vendor's (default: the layer PATCH is in, else the top applied one).",
    )(f)


def backends_option(f: F) -> F:
    """``-b/--backend`` for verbs that take several backends (repeatable), beside ``[BACKEND]...``."""
    return click.option(
        "-b",
        "--backend",
        "backend_opts",
        metavar="BACKEND",
        multiple=True,
        help="Backend to work on (repeatable; default: every backend).",
    )(f)


def one_backend(positional: str | None, option: str | None) -> str | None:
    """BACKEND given as an argument (the older spelling) or as -b/--backend (the one spelling), not both."""
    if positional is not None and option is not None and positional != option:
        raise click.UsageError(f"backend given twice: '{positional}' and -b '{option}'")
    return option if option is not None else positional


def stop_option(f: F) -> F:
    return click.option(
        "--stop/--no-stop",
        "stop",
        default=None,
        help="Stop at the first conflict (the default, piped or not) or, as a bot, try every patch and "
        "report once (--no-stop; also when the environment variable CI is set).",
    )(f)


def resolve_option(f: F) -> F:
    return click.option(
        "--resolve",
        "resolve",
        type=click.Choice(["none", "recorded", "safe"]),
        default="safe",
        show_default=True,
        help="Conflicts git leaves: none (leave all), recorded (replay recorded resolutions), "
        "safe (recorded, then upstream's side where it already has the change, structured merge "
        "and marker-guided relocation; docs/resolution.md).",
    )(f)


def report_options(f: F) -> F:
    """``--format text|json|markdown`` and ``--report FILE`` (its kind from ``.json``/``.md``, else --format)."""
    f = click.option(
        "--report",
        "report_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the report to FILE: JSON for a .json name, Markdown for .md, else as --format.",
    )(f)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "markdown"]),
        default="text",
        show_default=True,
        help="Output format (markdown: a summary for a pull-request body, docs/ci.md).",
    )(f)


def ci_set() -> bool:
    """``CI`` set to anything but empty, ``0`` or ``false``: the convention of GitHub, GitLab and most CI."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def interactive(stop: bool | None) -> tuple[bool, str]:
    """Interactive unless asked for a bot (``--no-stop``, or ``CI`` set), and why.

    Never decided by whether output is a terminal: a piped run must do what the same run on a
    terminal does (issue 13); a bot says so explicitly.
    """
    if stop is not None:
        return stop, "--stop" if stop else "--no-stop"
    if ci_set():
        return False, f"CI={os.environ['CI']}"
    return True, "default; --no-stop or CI=1 for a bot"


def replay_mode(ctx: click.Context, verb: str, stop: bool | None) -> bool:
    """The replay mode of ``verb`` (True: interactive), announced in one line on stderr (not with -q)."""
    stops, why = interactive(stop)
    if not opts(ctx).quiet:
        if stops:
            what = "interactive mode ({}): stops at the first conflict for 'fspatch continue', 'skip' or 'abort'"
        else:
            what = "bot mode ({}): tries every patch; conflicts are recorded as pending (series/<backend>/pending.yaml)"
        click.echo(f"{verb}: {what.format(why)}", err=True)
    return stops

