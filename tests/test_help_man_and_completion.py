"""`fspatch help VERB`, man pages generated from the commands, and completion of names (issue 16, item 8).

Man pages come from the click commands themselves (``scripts/make_man.py``, ``make man``), so a
page exists for every verb and says what ``--help`` says.  Shell completion (click's
``shell_complete``) offers patch names of the current layer, backend names from the lock, and
vendor and layer names, in the workspace the command line points at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from tests.wsutil import WS, make_workspace

REPO = Path(__file__).resolve().parents[1]
FSPATCH = str(Path(sys.executable).with_name("fspatch"))


def _verbs(cmd: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _verbs(sub, (*path, name))
    return out


def test_help_verb_is_verb_help() -> None:
    """`fspatch help push` prints what `fspatch push --help` prints; sub-verbs and bare `help` too."""
    runner = CliRunner()
    for path in (("push",), ("backend", "add"), ("import", "quilt")):
        a = runner.invoke(main_group, ["help", *path])
        b = runner.invoke(main_group, [*path, "--help"])
        assert a.exit_code == 0 and a.output == b.output, path
    top = runner.invoke(main_group, ["help"])
    assert top.exit_code == 0 and top.output == runner.invoke(main_group, ["--help"]).output
    r = runner.invoke(main_group, ["help", "nosuch"])
    assert r.exit_code == 2 and r.output.strip() == "error: no verb 'nosuch' (see 'fspatch --help')"


def test_man_pages_for_every_verb(tmp_path: Path) -> None:
    """make_man.py writes fspatch.1 and fspatch-VERB.1 for every command, each with the usual sections."""
    out = tmp_path / "man"
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_man.py"), str(out), "--date", "2026-01-01"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    expected = {"-".join(("fspatch", *p)) + ".1" for p in _verbs(main_group)}
    assert {p.name for p in out.iterdir()} == expected
    push = (out / "fspatch-push.1").read_text()
    for section in (".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS", ".SH EXAMPLES", ".SH EXIT STATUS"):
        assert section in push, section
    assert '.TH "FSPATCH-PUSH" "1" "2026-01-01"' in push
    assert "\\-\\-merge" in push  # the options come from the command itself
    again = tmp_path / "again"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_man.py"), str(again), "--date", "2026-01-01"], check=True
    )
    assert all((again / p.name).read_bytes() == p.read_bytes() for p in out.iterdir())  # stable output
    if shutil.which("groff"):
        for page in sorted(out.iterdir()):
            g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
            assert g.returncode == 0 and g.stderr == "", (page.name, g.stderr)


def test_make_man_target_exists() -> None:
    """The Makefile has a man target that runs the generator."""
    text = (REPO / "Makefile").read_text()
    assert "\nman:" in text and "scripts/make_man.py" in text


def _complete(w: WS, words: str, cwd: Path | None = None) -> list[str]:
    """What bash completion offers for the last word of ``words`` (click's bash_complete protocol)."""
    env = dict(
        os.environ, _FSPATCH_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=str(len(words.split(" ")) - 1)
    )
    r = subprocess.run([FSPATCH], cwd=cwd or w.root, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [line.split(",", 1)[1] for line in r.stdout.splitlines() if "," in line]


@pytest.fixture
def w(tmp_path: Path) -> WS:
    w = make_workspace(tmp_path)
    assert w.cli("vendor", "add", "acme", "--device-type", "Acme_NPU").exit_code == 0
    assert w.cli("vendor", "layer", "acme", "minillm", "--task", "inference").exit_code == 0
    assert w.cli("apply", "minillm").exit_code == 0
    return w


def test_completion_of_patch_names(w: WS) -> None:
    """push/pop/goto/diff complete the current layer's patches; a typed prefix narrows them."""
    assert _complete(w, "fspatch push ") == [
        "0001-enable-flag-gems.patch",
        "0002-rmsnorm-block-size.patch",
        "0003-device-selection.patch",
    ]
    assert _complete(w, "fspatch goto 0002") == ["0002-rmsnorm-block-size.patch"]
    assert "common/0003-device-selection.patch" in _complete(w, "fspatch diff common/")
    # -C points the completion at another workspace
    assert _complete(w, f"fspatch -C {w.root} pop 000", cwd=w.root.parent) == _complete(w, "fspatch pop 000")


def test_completion_of_backend_and_vendor_names(w: WS) -> None:
    """-b completes backends from upstream.lock; --vendor the vendors; --layer common and the vendors."""
    assert _complete(w, "fspatch series -b ") == ["minillm"]
    assert _complete(w, "fspatch apply ") == ["minillm"]
    assert _complete(w, "fspatch apply --vendor ") == ["acme"]
    assert _complete(w, "fspatch series --layer ") == ["common", "acme"]


def test_completion_outside_a_workspace_offers_nothing(tmp_path: Path) -> None:
    """No workspace, no names, and no error text in the shell."""
    env = dict(os.environ, _FSPATCH_COMPLETE="bash_complete", COMP_WORDS="fspatch push ", COMP_CWORD="2")
    r = subprocess.run([FSPATCH], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr == ""
