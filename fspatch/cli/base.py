"""The click classes every fspatch command is built from: context settings once, errors mapped once.

``FspatchGroup`` turns an ``FspatchError`` into one ``error: …`` line and its class's exit code,
an ``OSError`` (disk full, read-only, name too long: the environment) into one line naming the
path and exit 2, anything unexpected into one ``internal error`` line and exit 3 (``FSPATCH_DEBUG=1`` re-raises
with the traceback).  ``command`` and ``group`` build commands with the shared context settings
(``-h`` as well as ``--help``, 100 columns), so no module repeats them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from fspatch.errors import EXIT_INTERNAL, EXIT_USAGE, FspatchError, describe_os_error

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class FspatchCommand(click.Command):
    """A click command with fspatch's context settings unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["context_settings"] = {**CONTEXT, **(kwargs.get("context_settings") or {})}
        super().__init__(*args, **kwargs)


class FspatchGroup(click.Group):
    """Lists commands in the order they were added; turns errors into one line and an exit code."""

    command_class = FspatchCommand
    group_class = type  # subgroups are FspatchGroups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["context_settings"] = {**CONTEXT, **(kwargs.get("context_settings") or {})}
        super().__init__(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FspatchError as exc:
            if os.environ.get("FSPATCH_DEBUG"):
                raise
            _error(ctx, str(exc))
            ctx.exit(exc.exit_code)
        except click.exceptions.UsageError as exc:
            # One line, like every other error (git style): the usage text is one --help away.
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            _error(ctx, f"{exc.format_message()}{hint}")
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            _clear_progress(ctx)
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            ctx.exit(0)
        except OSError as exc:  # the environment (disk full, read-only, name too long): one line, exit 2
            if os.environ.get("FSPATCH_DEBUG"):
                raise
            _error(ctx, describe_os_error(exc))
            ctx.exit(EXIT_USAGE)
        except Exception as exc:  # a bug: one line, exit 3
            if os.environ.get("FSPATCH_DEBUG"):
                raise
            _clear_progress(ctx)
            click.echo(f"internal error: {type(exc).__name__}: {exc} (set FSPATCH_DEBUG=1 for a traceback)", err=True)
            ctx.exit(EXIT_INTERNAL)


def _clear_progress(ctx: click.Context) -> None:
    """A progress bar still on the terminal is erased, so the error line starts a line of its own."""
    from fspatch.cli.render import clear_progress

    clear_progress(ctx)


def _error(ctx: click.Context, message: str) -> None:
    """One ``error: …`` line on stderr, the label red on a terminal (``--color``, ``NO_COLOR``)."""
    import sys

    _clear_progress(ctx)
    from fspatch.cli.globals import color_on
    from fspatch.cli.term import paint

    on = color_on(ctx, sys.stderr)
    click.echo(f"{paint('error:', 'red', on)} {message}", err=True, color=on)


def command(name: str | None = None, **attrs: Any) -> Callable[[Callable[..., Any]], FspatchCommand]:
    """``@click.command`` building an ``FspatchCommand``; register it on a group explicitly."""
    return click.command(name, cls=FspatchCommand, **attrs)


def group(name: str | None = None, **attrs: Any) -> Callable[[Callable[..., Any]], FspatchGroup]:
    """``@click.group`` building an ``FspatchGroup`` (its subcommands get the same settings)."""
    return click.group(name, cls=FspatchGroup, **attrs)
