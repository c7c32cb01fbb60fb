"""The terminal: when to colour, how to colour, and when to page.  CLI-only (nothing below prints).

Colour follows git and https://no-color.org: ``--color=always`` colours (also into a pipe),
``--color=never`` never does, ``--color=auto`` (the default) colours only when the stream is a
terminal, ``TERM`` is not ``dumb`` and ``NO_COLOR`` is unset or empty.  An explicit
``--color=always`` beats ``NO_COLOR`` (a flag is the more specific wish).

Long output of ``diff``, ``series`` and ``review`` goes through a pager when stdout is a
terminal and the text has more lines than the terminal has rows: ``FSPATCH_PAGER``, else
``PAGER``, else ``less -FRX`` (an empty value or ``cat`` turns paging off; so does
``--no-pager``).  As git does, ``LESS=FRX`` is set for the pager when ``LESS`` is unset, so a
bare ``PAGER=less`` keeps colour and quits on a short screen.  A pager that is not installed
is skipped, never an error.

Progress of a long replay (:class:`ProgressLine`) is one line on a terminal, redrawn in place
(``\r`` and erase-line) and erased before anything else is printed, so a report never starts
on the progress line; off a terminal (CI logs, pipes) it is plain lines, never a carriage
return (docs/ci.md).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from typing import IO

COLOR_CHOICES = ("auto", "always", "never")
DEFAULT_PAGER = "less -FRX"

RESET = "\x1b[m"
STYLES = {
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "cyan": "\x1b[36m",
    "bold-red": "\x1b[1;31m",
    "bold-green": "\x1b[1;32m",
    "bold-yellow": "\x1b[1;33m",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def color_wanted(choice: str | None, stream: IO[str] | IO[bytes] | None, env: Mapping[str, str] | None = None) -> bool:
    """Whether to colour output written to ``stream`` for ``--color=choice`` (None: auto)."""
    env = os.environ if env is None else env
    choice = choice or env.get("FSPATCH_COLOR") or "auto"
    if choice == "never":
        return False
    if choice == "always":
        return True
    if env.get("NO_COLOR", ""):
        return False
    if env.get("TERM") == "dumb":
        return False
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def paint(text: str, style: str, on: bool) -> str:
    """``text`` in ``style`` (a key of STYLES) when colour is on; unchanged otherwise."""
    if not on or not text:
        return text
    return f"{STYLES[style]}{text}{RESET}"


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


_DIFF_STYLES: tuple[tuple[bytes, str], ...] = (
    (b"diff --git ", "bold"),
    (b"index ", "bold"),
    (b"--- ", "bold"),
    (b"+++ ", "bold"),
    (b"new file mode", "bold"),
    (b"deleted file mode", "bold"),
    (b"old mode", "bold"),
    (b"new mode", "bold"),
    (b"similarity index", "bold"),
    (b"rename from", "bold"),
    (b"rename to", "bold"),
    (b"copy from", "bold"),
    (b"copy to", "bold"),
    (b"GIT binary patch", "bold"),
    (b"@@", "cyan"),
    (b"+", "green"),
    (b"-", "red"),
)


def color_diff(data: bytes, on: bool) -> bytes:
    """A unified diff coloured as git colours it (headers bold, ``@@`` cyan, ``+`` green, ``-`` red)."""
    if not on:
        return data
    out: list[bytes] = []
    in_header = True
    for line in data.split(b"\n"):
        if line.startswith(b"diff --git "):
            in_header = True
        elif line.startswith(b"@@"):
            in_header = False
        style = None
        for prefix, name in _DIFF_STYLES:
            if line.startswith(prefix):
                if prefix in (b"+", b"-") and in_header:
                    continue
                if prefix in (b"--- ", b"+++ ") and not in_header:
                    continue
                style = name
                break
        if style is None or not line:
            out.append(line)
        else:
            out.append(STYLES[style].encode() + line + RESET.encode())
    return b"\n".join(out)


def pager_command(env: Mapping[str, str] | None = None) -> str | None:
    """The pager to run, or None when paging is turned off (empty value or ``cat``)."""
    env = os.environ if env is None else env
    cmd = env.get("FSPATCH_PAGER")
    if cmd is None:
        cmd = env.get("PAGER")
    if cmd is None:
        cmd = DEFAULT_PAGER
    cmd = cmd.strip()
    if not cmd or cmd == "cat":
        return None
    try:
        program = shlex.split(cmd)[0]
    except (ValueError, IndexError):
        return None
    if "/" not in program and shutil.which(program) is None:
        return None
    if "/" in program and not os.access(program, os.X_OK):
        return None
    return cmd


def should_page(text_lines: int, stream: IO[str] | IO[bytes] | None, enabled: bool) -> bool:
    """Page only long output written to a terminal, and only when paging is not turned off."""
    if not enabled:
        return False
    try:
        if stream is None or not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    rows = shutil.get_terminal_size((80, 24)).lines
    return text_lines >= rows


def page(data: bytes, cmd: str) -> None:
    """Feed ``data`` to the pager ``cmd`` (a shell command, as git runs PAGER) and wait for it."""
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    sys.stdout.flush()
    import subprocess  # here: only paging needs it (~2 ms of every start-up otherwise)

    proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:  # the reader quit early (q in less): not an error
        pass
    while True:
        try:
            proc.wait()
            break
        except KeyboardInterrupt:  # Ctrl-C belongs to the pager while it runs
            continue


def emit(data: bytes, *, paging: bool) -> None:
    """Write long output: through the pager when it should be paged, else straight to stdout."""
    cmd = pager_command() if paging else None
    if cmd is not None and should_page(data.count(b"\n"), sys.stdout, True):
        page(data, cmd)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


CLEAR_LINE = "\r\x1b[K"
PLAIN_MIN_TOTAL = 10  # off a terminal, replays shorter than this print no progress lines
_BAR = 20


class ProgressLine:
    """The replay progress callback ``(done, total, name)``: a bar on a terminal, plain lines elsewhere.

    On a terminal the line is ``replaying 5/20 [#####...............] 0006-x.patch``, cut to the
    terminal's width (a wrapped line could not be erased), and :meth:`clear` erases it; it is
    also erased when the replay reports its end (``done == total``).  Off a terminal one line is
    printed each tenth of the way (``replaying 6/60``), and nothing for fewer than
    ``PLAIN_MIN_TOTAL`` patches.
    """

    def __init__(self, stream: IO[str], *, tty: bool | None = None, width: int | None = None) -> None:
        self.stream = stream
        if tty is None:
            try:
                tty = stream.isatty()
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
        self.width = width
        self.shown = False  # a bar is on the screen (terminal only)
        self._step = -1

    def __call__(self, done: int, total: int, name: str) -> None:
        if total <= 0:
            return
        if self.tty:
            if done >= total:
                self.clear()
                return
            filled = done * _BAR // total
            line = f"replaying {done}/{total} [{'#' * filled}{'.' * (_BAR - filled)}] {name}"
            width = self.width or shutil.get_terminal_size((80, 24)).columns
            self._write(CLEAR_LINE + line[: max(width - 1, 1)])
            self.shown = True
            return
        if total < PLAIN_MIN_TOTAL:
            return
        step = done * 10 // total
        if step != self._step:
            self._step = step
            self._write(f"replaying {done}/{total}\n")

    def clear(self) -> None:
        """Erase the bar (nothing to do off a terminal, or when none is shown)."""
        if self.shown:
            self.shown = False
            self._write(CLEAR_LINE)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is never worth an error
            pass


__all__ = [
    "CLEAR_LINE",
    "ProgressLine",
    "COLOR_CHOICES",
    "DEFAULT_PAGER",
    "color_diff",
    "color_wanted",
    "emit",
    "page",
    "pager_command",
    "paint",
    "should_page",
    "strip_ansi",
]
