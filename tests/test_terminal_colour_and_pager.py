"""Colour and paging on a real terminal (issue 16, item 8), run through a pseudo-terminal.

The installed ``fspatch`` runs with its stdout on a pty, as a person's shell runs it: colour
appears there and nowhere else unless ``--color=always``; ``NO_COLOR`` and ``--color=never``
turn it off; long output goes through ``PAGER`` (default ``less -FRX``), short output and
pipes never do, ``--no-pager`` and ``PAGER=cat`` turn it off.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from fspatch.cli.term import color_wanted, pager_command
from tests.wsutil import WS, make_workspace

ESC = b"\x1b["
FSPATCH = str(Path(sys.executable).with_name("fspatch"))


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PAGER", "FSPATCH_PAGER", "LESS", "FSPATCH_COLOR")
    }
    env["TERM"] = "xterm"
    env.update(extra)
    return env


def run_tty(
    args: list[str], cwd: Path, env: dict[str, str], *, rows: int = 40, keys: bytes = b"", timeout: float = 20
) -> tuple[int, bytes]:
    """Run fspatch with stdin/stdout/stderr on a pty of ``rows`` rows; what the terminal showed, exit code.

    ``keys`` are typed once output appears (e.g. ``q`` to leave a pager).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 100, 0, 0))
    env = dict(env, LINES=str(rows), COLUMNS="100")
    proc = subprocess.Popen([FSPATCH, *args], cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if keys and not sent and out:
            time.sleep(0.3)
            os.write(master, keys)
            sent = True
        if proc.poll() is not None and not ready:
            break
    else:
        proc.kill()
        pytest.fail(f"fspatch {' '.join(args)} did not finish on the terminal: {out[-500:]!r}")
    code = proc.wait(timeout=5)
    os.close(master)
    return code, out


@pytest.fixture
def w(tmp_path: Path) -> WS:
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    return w


def test_colour_on_a_terminal_only(w: WS) -> None:
    """series is coloured on a pty; through a pipe it is plain; --color=always colours the pipe too."""
    code, shown = run_tty(["series"], w.root, _env())
    assert code == 0 and ESC in shown and b"0003-device-selection.patch" in shown
    piped = subprocess.run([FSPATCH, "series"], cwd=w.root, env=_env(), capture_output=True)
    assert piped.returncode == 0 and ESC not in piped.stdout
    forced = subprocess.run([FSPATCH, "--color=always", "series"], cwd=w.root, env=_env(), capture_output=True)
    assert ESC in forced.stdout
    after = subprocess.run([FSPATCH, "series", "--color", "always"], cwd=w.root, env=_env(), capture_output=True)
    assert after.stdout == forced.stdout


def test_no_color_and_color_never_turn_it_off(w: WS) -> None:
    """NO_COLOR=1 and --color=never give plain text on a terminal; --color=always beats NO_COLOR."""
    _, plain = run_tty(["series"], w.root, _env(NO_COLOR="1"))
    assert ESC not in plain and b"0003-device-selection.patch" in plain
    _, never = run_tty(["--color=never", "series"], w.root, _env())
    assert ESC not in never
    _, always = run_tty(["--color=always", "series"], w.root, _env(NO_COLOR="1"))
    assert ESC in always


def test_diff_and_errors_are_coloured(w: WS) -> None:
    """diff's added lines green, removed red; an error's 'error:' red — on a terminal."""
    _, shown = run_tty(["diff", "0002"], w.root, _env(PAGER="cat"))
    assert b"\x1b[32m+" in shown and b"\x1b[31m-" in shown
    code, err = run_tty(["push", "nosuch"], w.root, _env())
    assert code == 2 and b"\x1b[31merror:" in err.replace(b"\x1b[1;31m", b"\x1b[31m")


def _pager_script(tmp: Path) -> tuple[str, Path]:
    out = tmp / "paged.out"
    script = tmp / "pager.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'wb').write(sys.stdin.buffer.read())\n")
    return f"{sys.executable} {script}", out


def test_long_output_goes_through_the_pager(w: WS, tmp_path: Path) -> None:
    """diff longer than the terminal is piped to PAGER (coloured, since the terminal is the reader)."""
    pager, out = _pager_script(tmp_path)
    code, shown = run_tty(["diff", "0003"], w.root, _env(PAGER=pager), rows=8)
    assert code == 0
    paged = out.read_bytes()
    assert b"minillm/flagscale_device.py" in paged and ESC in paged
    assert b"flagscale_device.py" not in shown  # the pager got it, not the terminal
    code, _ = run_tty(["series"], w.root, _env(PAGER=pager), rows=2)
    assert code == 0 and b"0003-device-selection.patch" in out.read_bytes()


def test_short_output_pipes_and_no_pager_skip_the_pager(w: WS, tmp_path: Path) -> None:
    """Output that fits the screen, a pipe, --no-pager and PAGER=cat never start the pager."""
    pager, out = _pager_script(tmp_path)
    _, shown = run_tty(["series"], w.root, _env(PAGER=pager), rows=40)
    assert not out.exists() and b"0003-device-selection.patch" in shown
    subprocess.run([FSPATCH, "diff", "0003"], cwd=w.root, env=_env(PAGER=pager), capture_output=True, check=True)
    assert not out.exists()
    _, shown = run_tty(["--no-pager", "diff", "0003"], w.root, _env(PAGER=pager), rows=8)
    assert not out.exists() and b"flagscale_device.py" in shown
    _, shown = run_tty(["diff", "0003", "--no-pager"], w.root, _env(PAGER=pager), rows=8)
    assert not out.exists() and b"flagscale_device.py" in shown
    _, shown = run_tty(["diff", "0003"], w.root, _env(PAGER="cat"), rows=8)
    assert b"flagscale_device.py" in shown


@pytest.mark.skipif(shutil.which("less") is None, reason="less is not installed")
def test_the_default_pager_is_less_FRX(w: WS) -> None:
    """With no PAGER, long output opens less -FRX (colour kept: no literal ESC shown as text); q leaves it."""
    assert pager_command({}) == "less -FRX"
    code, shown = run_tty(["diff", "0003"], w.root, _env(), rows=6, keys=b"q")
    assert code == 0
    assert b"diff --git" in shown and b"ESC[" not in shown


def test_the_colour_rule() -> None:
    """auto: a terminal, TERM not dumb, NO_COLOR unset or empty; always/never as said."""

    class Tty:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    assert color_wanted(None, Tty(), {"TERM": "xterm"})  # type: ignore[arg-type]
    assert not color_wanted(None, Pipe(), {"TERM": "xterm"})  # type: ignore[arg-type]
    assert not color_wanted("auto", Tty(), {"TERM": "xterm", "NO_COLOR": "1"})  # type: ignore[arg-type]
    assert color_wanted("auto", Tty(), {"TERM": "xterm", "NO_COLOR": ""})  # type: ignore[arg-type]
    assert not color_wanted("auto", Tty(), {"TERM": "dumb"})  # type: ignore[arg-type]
    assert color_wanted("always", Pipe(), {"NO_COLOR": "1"})  # type: ignore[arg-type]
    assert not color_wanted("never", Tty(), {})  # type: ignore[arg-type]
    assert pager_command({"PAGER": ""}) is None and pager_command({"PAGER": "cat"}) is None
    assert pager_command({"PAGER": "no-such-pager-here"}) is None
    assert pager_command({"PAGER": "more", "FSPATCH_PAGER": "cat"}) is None
