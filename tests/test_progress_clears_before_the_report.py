"""Replay progress: a bar on a terminal, erased before the report; plain lines off a terminal (issue 13, item 5).

The installed ``fspatch`` runs on a real pseudo-terminal (stdout and stderr on the pty, as in a
person's shell): the bar appears while patches are replayed and is erased (``\\r\\x1b[K``)
before the report's first line, so the report starts a line of its own — before, it was glued
to ``replaying [2/3] …``.  Through pipes (CI logs) no carriage return is ever written, progress
is plain lines, and ``-q`` prints none.
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest

from fspatch.cli.term import CLEAR_LINE, ProgressLine
from tests.botutil import CONFLICT_PATCH, bot_workspace
from tests.test_terminal_colour_and_pager import FSPATCH, _env, run_tty


def screen(raw: bytes) -> list[str]:
    """The lines a terminal shows for ``raw``: ``\\r`` returns to column 0, ``ESC[K`` erases to the end."""
    rows: list[str] = []
    line: list[str] = []
    col = 0
    data = raw.decode("utf-8", "replace")
    i = 0
    while i < len(data):
        ch = data[i]
        if data.startswith("\x1b[K", i):
            del line[col:]
            i += 3
            continue
        if ch == "\x1b":  # another escape (colour): skip it
            end = i + 1
            while end < len(data) and not data[end].isalpha():
                end += 1
            i = end + 1
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            rows.append("".join(line))
            line, col = [], 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
        i += 1
    if line:
        rows.append("".join(line))
    return rows


def _env_no_ci() -> dict[str, str]:
    env = _env()
    for var in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"):
        env.pop(var, None)
    return env


@pytest.mark.parametrize("mode", ["--stop", "--no-stop"])
def test_the_bar_is_erased_before_the_report_on_a_terminal(tmp_path: Path, mode: str) -> None:
    """On a pty the bar is drawn, then erased: the report's first line starts at column 0, alone."""
    ws, _up = bot_workspace(tmp_path)
    code, raw = run_tty(["pull-upstream", "minillm", "v2", mode], ws.root, _env_no_ci())
    assert code == 1, raw
    assert b"replaying 0/12 [" in raw  # the bar was there
    first = raw.index(b"minillm: v1 (")
    before = raw[:first]
    assert before.endswith(CLEAR_LINE.encode()) or before.endswith(b"\n"), before[-200:]
    last_bar = [m.end() for m in re.finditer(rb"replaying \d+/12 \[", before)][-1]
    assert CLEAR_LINE.encode() in before[last_bar:]  # erased after it was last drawn
    shown = screen(raw)
    report = [row for row in shown if row.startswith("minillm: v1 (")]
    assert len(report) == 1 and report[0].endswith(")"), shown
    assert not any("replaying" in row for row in shown), shown  # nothing of the bar is left on the screen
    assert any(f"conflict   common: {CONFLICT_PATCH}" in row for row in shown), shown


def test_no_carriage_return_in_a_pipe(tmp_path: Path) -> None:
    """Through pipes progress is plain lines (``replaying N/12``), never ``\\r``; ``-q`` prints none."""
    ws, _up = bot_workspace(tmp_path)
    env = _env_no_ci()
    got = subprocess.run(
        [FSPATCH, "pull-upstream", "minillm", "v2", "--no-stop"], cwd=ws.root, env=env, capture_output=True, check=False
    )
    assert got.returncode == 1, got.stderr
    assert b"\r" not in got.stdout and b"\r" not in got.stderr and b"\x1b" not in got.stderr
    progress = [line for line in got.stderr.decode().split("\n") if line.startswith("replaying")]
    assert progress[-1] == "replaying 12/12" and len(progress) >= 5, got.stderr
    assert got.stdout.decode().startswith("minillm: v1 (")
    subprocess.run(["git", "checkout", "-q", "--", "."], cwd=ws.root, check=True)
    (ws.root / "series/minillm/pending.yaml").unlink()
    quiet = subprocess.run(
        [FSPATCH, "-q", "pull-upstream", "minillm", "v2", "--no-stop", "--format", "json"],
        cwd=ws.root,
        env=env,
        capture_output=True,
        check=False,
    )
    assert quiet.returncode == 1, quiet.stderr
    assert b"replaying" not in quiet.stderr and b"\r" not in quiet.stderr


def test_progress_line_rules() -> None:
    """The bar is cut to the width and erased at the end; plain lines each tenth, none for short replays."""
    out = io.StringIO()
    bar = ProgressLine(out, tty=True, width=30)
    bar(3, 12, "0004-a-very-long-patch-name-indeed.patch")
    drawn = out.getvalue()
    assert drawn.startswith(CLEAR_LINE) and len(drawn) - len(CLEAR_LINE) == 29 and "3/12" in drawn
    bar(12, 12, "")
    assert out.getvalue() == drawn + CLEAR_LINE and not bar.shown
    bar.clear()
    assert out.getvalue() == drawn + CLEAR_LINE  # erasing twice writes nothing
    plain = io.StringIO()
    lines = ProgressLine(plain, tty=False)
    for done in range(31):
        lines(done, 30, f"p{done}")
    assert "\r" not in plain.getvalue()
    assert plain.getvalue().split("\n")[:-1] == [f"replaying {n}/30" for n in (0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30)]
    short = io.StringIO()
    few = ProgressLine(short, tty=False)
    for done in range(4):
        few(done, 3, "p")
    assert short.getvalue() == ""
