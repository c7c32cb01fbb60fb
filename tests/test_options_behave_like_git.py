"""Options behave as a git user expects (issue 16, item 7).

Global options (``-C``, ``-q``, ``-v``, ``--color``, ``--no-pager``) work after the verb too;
BACKEND may be left out when the workspace has one; ``-b/--backend`` is the one spelling in
every verb that takes a backend (the positional BACKEND and ``--backend`` of the FlagScale
verbs stay as aliases); ``--help`` marks what is required and shows an example for every verb.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from fspatch.cli import main_group
from tests.wsutil import WS, make_workspace


def _ok(w: WS, *args: str) -> str:
    r = w.cli(*args)
    assert r.exit_code == 0, f"fspatch {' '.join(args)} -> {r.exit_code}\n{r.output}"
    return r.output


def _commands(cmd: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None
            if not sub.hidden:
                yield from _commands(sub, (*path, name))


def test_global_options_after_the_verb(tmp_path: Path) -> None:
    """`series -v`, `pop -q`, `status -C DIR` work as they do before the verb."""
    w = make_workspace(tmp_path)
    _ok(w, "apply", "minillm")
    assert _ok(w, "series", "-v") == _ok(w, "-v", "series")
    assert "# Select the device through FlagScale" in _ok(w, "series", "-v")
    assert _ok(w, "pop", "-q") == ""
    r = CliRunner().invoke(main_group, ["status", "-C", str(w.root)])
    assert r.exit_code == 0 and "minillm: v1.0" in r.output
    r = CliRunner().invoke(main_group, ["series", "--verbose", "-C", str(w.root), "--color", "never", "--no-pager"])
    assert r.exit_code == 0 and "# Enable FlagGems" in r.output


def test_a_verbs_own_value_is_not_taken_for_a_global_option(tmp_path: Path) -> None:
    """`new x -m -q`: '-q' is the message (the option's value), not the global --quiet."""
    w = make_workspace(tmp_path)
    _ok(w, "apply", "minillm")
    out = _ok(w, "new", "x", "-m", "-q")
    assert out.strip() == "Patch series/minillm/0004-x.patch is now on top"
    assert "Subject: -q\n" in (w.series_dir / "0004-x.patch").read_text()


def test_backend_is_optional_with_one_backend(tmp_path: Path) -> None:
    """apply, pull-upstream REF, status, series, check, export need no BACKEND in a one-backend workspace."""
    w = make_workspace(tmp_path)
    assert _ok(w, "apply").splitlines()[0] == "minillm: common: applied 3/3 patches, top 0003-device-selection.patch"
    r = w.cli("pull-upstream", "v1.1", "--no-stop")
    assert r.exit_code == 1 and "minillm: v1.0" in r.output  # 0002 conflicts on v1.1: a report, not a usage error


def test_one_backend_spelling_across_verbs(tmp_path: Path) -> None:
    """-b/--backend everywhere; the positional BACKEND and the legacy --backend keep working."""
    w = make_workspace(tmp_path)
    _ok(w, "apply")
    assert _ok(w, "apply", "-b", "minillm") == _ok(w, "apply", "minillm") == _ok(w, "apply")
    for verb in ("status", "series", "review"):
        assert _ok(w, verb, "-b", "minillm") == _ok(w, verb, "minillm"), verb
    assert _ok(w, "series", "--backend", "minillm") == _ok(w, "series")
    assert _ok(w, "check", "-b", "minillm", "--series") == _ok(w, "check", "minillm", "--series")
    assert _ok(w, "matrix", "-b", "minillm") == _ok(w, "matrix", "minillm")
    assert _ok(w, "blame", "-b", "minillm", "minillm/flagscale_device.py") == _ok(
        w, "blame", "minillm/flagscale_device.py"
    )
    r = w.cli("pull-upstream", "-b", "minillm", "v1.1", "--no-stop")
    assert r.exit_code == 1 and "minillm: v1.0" in r.output
    r = w.cli("status", "-b", "nosuch")
    assert r.exit_code == 2 and "unknown backend 'nosuch'" in r.output
    r = w.cli("status", "minillm", "-b", "minillm")
    assert r.exit_code == 0
    r = w.cli("status", "minillm", "-b", "other")
    assert r.exit_code == 2 and "twice" in r.output


def test_every_verb_that_works_on_a_backend_takes_dash_b() -> None:
    """The spelling is the same in every verb: each one with a backend parameter has -b/--backend."""
    missing = []
    for path, cmd in _commands(main_group):
        names = {p.name for p in cmd.params}
        opts = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
        takes_backend = any(n and "backend" in n for n in names)
        if takes_backend and not {"-b", "--backend"} <= opts:
            missing.append(" ".join(path))
    assert missing == []


def test_help_marks_required_options() -> None:
    """vendor layer's --task and backend add's --url/--ref say [required] in --help."""
    r = CliRunner().invoke(main_group, ["vendor", "layer", "--help"])
    task = next(line for line in r.output.splitlines() if "--task" in line)
    assert "[required]" in task or "required" in r.output.split("--task", 1)[1].split("--", 1)[0]
    r = CliRunner().invoke(main_group, ["backend", "add", "--help"])
    for opt in ("--url", "--ref"):
        block = r.output.split(opt, 1)[1].split("\n  -", 1)[0]
        assert "required" in block, opt


def test_every_verb_has_an_example_in_its_help() -> None:
    """Each verb's --help ends with Examples: and at least one 'fspatch …' line."""
    lacking = []
    for path, cmd in _commands(main_group):
        if not path or isinstance(cmd, click.Group):
            continue
        r = CliRunner().invoke(main_group, [*path, "--help"])
        assert r.exit_code == 0, path
        tail = r.output.split("Examples:", 1)
        if len(tail) != 2 or "fspatch " + path[0] not in tail[1]:
            lacking.append(" ".join(path))
    assert lacking == []


def test_vendor_add_updates_without_device_type(tmp_path: Path) -> None:
    """ "create (or update)": an update needs no --device-type and keeps it; a new vendor needs one."""
    w = make_workspace(tmp_path)
    assert _ok(w, "vendor", "add", "acme", "--device-type", "Acme_NPU").startswith("Created")
    assert (
        _ok(w, "vendor", "add", "acme", "--contact", "npu@acme.example").strip() == "Updated vendors/acme/vendor.yaml"
    )
    text = (w.root / "vendors" / "acme" / "vendor.yaml").read_text()
    assert "device_type: Acme_NPU" in text and "npu@acme.example" in text
    r = w.cli("vendor", "add", "other")
    assert r.exit_code == 2 and "--device-type" in r.output
