"""``review`` longer than the terminal goes through the pager, as ``diff`` and ``series`` do (issue 16, item 8).

Run on a real pseudo-terminal with the installed ``fspatch``; through a pipe the same text is
printed whole and the pager never starts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.test_terminal_colour_and_pager import FSPATCH, _env, _pager_script, run_tty
from tests.wsutil import make_workspace


def test_long_review_goes_through_the_pager_and_a_pipe_gets_it_whole(tmp_path: Path) -> None:
    w = make_workspace(tmp_path / "ws")
    assert w.cli("apply").exit_code == 0
    pager, out = _pager_script(tmp_path)
    code, shown = run_tty(["review"], w.root, _env(PAGER=pager), rows=6)
    assert code == 0
    paged = out.read_bytes().decode()
    assert "0003-device-selection.patch" in paged and "markers" in paged
    assert b"0003-device-selection.patch" not in shown  # the pager got it, not the terminal
    out.unlink()
    piped = subprocess.run([FSPATCH, "review"], cwd=w.root, env=_env(PAGER=pager), capture_output=True, text=True)
    assert piped.returncode == 0 and not out.exists()
    assert piped.stdout.splitlines()[0] == paged.splitlines()[0]
    assert "0003-device-selection.patch" in piped.stdout
