"""status tells the truth in every state; bot mode is chosen explicitly (issue 13, items 2-3).

Real upstream histories (Python, CUDA, C++ files), real workspaces that are git repositories,
a bot run committed and cloned afresh, series edited by hand, a lock moved by a ``git pull``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fspatch.cli import main_group
from fspatch.core.workspace import Workspace
from scripts.example import git, make_series
from tests.rebase_helpers import lines, make_repo, make_ws, text

ATTN = [f"    x{i} = layer_{i}(x{i - 1})\n" for i in range(1, 21)]
OPS = ["__global__ void scale(float* x, float s) {\n"] + [f"  x[{i}] *= s;  // lane {i}\n" for i in range(16)] + ["}\n"]
NORM = [f"float norm_{i}(float v) {{ return v / {i + 1}.0f; }}\n" for i in range(12)]


def _attn(edits: dict[int, str]) -> bytes:
    body = list(ATTN)
    for i, line in edits.items():
        body[i] = line
    return text(["def forward(x0):\n", *body, "    return x20\n"])


def _ops(edits: dict[int, str]) -> bytes:
    body = list(OPS)
    for i, line in edits.items():
        body[i] = line
    return text(body)


FLASH = "    x10 = flash_layer_10(x9)\n"
SCALE = "    x11 = scaled_layer_11(x10) * 0.5\n"
PATCHES = [
    ("0001-attn-flash.patch", "Use flash attention in layer 10", "For speed.", {"model/attn.py": _attn({9: FLASH})}),
    (
        "0002-attn-scale.patch",
        "Scale layer 11",
        "Needs 0001.",
        {"model/attn.py": _attn({9: FLASH, 10: SCALE})},
    ),
    ("0003-ops-fp16.patch", "Scale in fp16", "CUDA.", {"csrc/ops.cu": _ops({14: "  x[13] *= __float2half(s);\n"})}),
]


def _upstream(tmp: Path) -> Path:
    """v1, then v1.5 (a clean step: a new C++ file), then v2 (rewrites layer 10: 0001 conflicts)."""
    up = tmp / "up"
    base = {"model/attn.py": _attn({}), "csrc/ops.cu": _ops({}), "csrc/norm.cpp": text(NORM)}
    make_repo(
        up,
        base,
        [
            ("Add fused norm helpers", {"csrc/fused.cpp": text(lines(8, "// fused"))}, "v1.5"),
            (
                "Rewrite layer 10 with rotary embeddings",
                {"model/attn.py": _attn({9: "    x10 = rotary_layer_10(x9)\n"}), "csrc/ops.cu": _ops({2: "  // v2\n"})},
                "v2",
            ),
        ],
    )
    return up


def _workspace(tmp: Path) -> Workspace:
    """A workspace on v1 with the three patches applied, committed as a git repository."""
    ws = make_ws(tmp, _upstream(tmp), "v1", PATCHES)
    (ws.root / ".gitignore").write_text("third_party/\n")
    git(ws.root, "init", "-q")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "workspace on v1")
    return ws


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main_group, ["-C", str(root), *args], env=env)


def _status_json(root: Path) -> dict[str, object]:
    res = _cli(root, "status", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["format"] == "fspatch/status" and data["version"] == 1
    backends = data["backends"]
    assert isinstance(backends, list) and len(backends) == 1
    out = backends[0]
    assert isinstance(out, dict)
    return out


def _kinds(b: dict[str, object]) -> list[str]:
    notes = b["notes"]
    assert isinstance(notes, list)
    return [str(n["kind"]) for n in notes]


def _commit(root: Path, ref: str) -> str:
    return git(root, "rev-parse", f"{ref}^{{commit}}").strip()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A bot's pull-upstream to v2 with conflicts, committed; and a fresh clone of that branch."""
    tmp = tmp_path_factory.mktemp("bot")
    ws = _workspace(tmp)
    res = _cli(ws.root, "pull-upstream", "minillm", "v2", "--no-stop")
    assert res.exit_code == 1, res.output
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "bot: bump minillm to v2")
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(clone)], check=True)
    return ws.root, clone


# --------------------------------------------------------------------------- after a bot run


def test_fresh_clone_of_a_bot_branch_names_each_pending_patch_and_what_to_run(bot: tuple[Path, Path]) -> None:
    """A clone of the bot's branch: the pending patches by layer/name, 'fspatch apply', no checkout yet."""
    _, clone = bot
    res = _cli(clone, "status")
    assert res.exit_code == 0, res.output
    v1, v2 = _commit(clone.parent / "up", "v1"), _commit(clone.parent / "up", "v2")
    assert f"2 patches pending from a bot replay v1 ({v1[:12]}) -> v2 ({v2[:12]})" in res.output
    assert "run 'fspatch apply minillm', resolve, then 'fspatch continue'" in res.output
    assert "    pending  common/0001-attn-flash.patch  (conflicts with upstream)\n" in res.output
    assert "    pending  common/0002-attn-scale.patch  (" in res.output
    assert "0003-ops-fp16.patch" not in res.output  # replayed clean by the bot: not pending
    assert "no checkout at third_party/minillm: run 'fspatch apply minillm' (it clones the checkout)" in res.output
    b = _status_json(clone)
    assert _kinds(b) == ["pending", "no-checkout"]
    assert [(p["layer"], p["patch"]) for p in b["pending"]] == [  # type: ignore[attr-defined]
        ("common", "0001-attn-flash.patch"),
        ("common", "0002-attn-scale.patch"),
    ]


def test_installed_fspatch_status_in_the_clone(bot: tuple[Path, Path]) -> None:
    """The same through the installed entry point, as a maintainer runs it."""
    _, clone = bot
    exe = Path(sys.executable).parent / "fspatch"
    out = subprocess.run([str(exe), "-C", str(clone), "status"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "pending  common/0001-attn-flash.patch" in out.stdout and "fspatch apply minillm" in out.stdout


def test_bot_workspace_status_says_the_stack_is_built_on_the_old_pin(bot: tuple[Path, Path]) -> None:
    """On the bot's own machine the checkout still holds the v1 stack: said, not '3/3 applied … clean'."""
    root, _ = bot
    res = _cli(root, "status")
    v1, v2 = _commit(root.parent / "up", "v1"), _commit(root.parent / "up", "v2")
    assert f"stack built on v1 ({v1[:12]}), lock pins v2 ({v2[:12]}): run 'fspatch apply minillm'" in res.output
    assert "pending  common/0001-attn-flash.patch" in res.output
    b = _status_json(root)
    assert b["built_on"] == v1 and b["built_on_ref"] == "v1" and b["upstream"] == v2
    assert _kinds(b) == ["stale", "pending"]


def test_status_during_the_resumed_replay_names_the_patch_and_says_files_are_unchanged(
    bot: tuple[Path, Path], tmp_path: Path
) -> None:
    """apply enters the first pending patch: status names it and the paused replay, not a stale pin."""
    _, clone0 = bot
    clone = tmp_path / "c"
    shutil.copytree(clone0, clone)
    assert _cli(clone, "apply", "minillm").exit_code == 1
    res = _cli(clone, "status")
    assert (
        "pull-upstream v1 -> v2 stopped at a conflict in common/0001-attn-flash.patch (1 file with conflict markers)"
        in res.output
    )
    assert "edit the files, then run 'fspatch continue'" in res.output
    assert "1 changed file in the checkout:\n    model/attn.py" in res.output
    assert "stack built on" not in res.output and "not refreshed" not in res.output
    assert _kinds(_status_json(clone)) == ["paused", "pending"]


# --------------------------------------------------------------------------- series edited by hand


def _new_patch(tmp: Path, name: str) -> bytes:
    """A patch made elsewhere (git diff on v1) that adds a CUDA header: what a person drops in by hand."""
    out = tmp / "made-elsewhere"
    make_series(tmp / "up", "v1", out, [(name, "Add the half helpers", "By hand.", {"csrc/half.cuh": b"#pragma once\n"})])
    return (out / name).read_bytes()


def _series(root: Path) -> Path:
    return root / "series" / "minillm" / "series"


def _edit_added(root: Path, tmp: Path) -> None:
    name = "0002a-half-helpers.patch"
    (root / "series/minillm" / name).write_bytes(_new_patch(tmp, name))
    _series(root).write_text("0001-attn-flash.patch\n0002a-half-helpers.patch\n0002-attn-scale.patch\n0003-ops-fp16.patch\n")


def _edit_removed(root: Path, tmp: Path) -> None:
    _series(root).write_text("0001-attn-flash.patch\n0002-attn-scale.patch\n")
    (root / "series/minillm/0003-ops-fp16.patch").unlink()


def _edit_reordered(root: Path, tmp: Path) -> None:
    _series(root).write_text("0003-ops-fp16.patch\n0001-attn-flash.patch\n0002-attn-scale.patch\n")


def _edit_edited(root: Path, tmp: Path) -> None:
    path = root / "series/minillm/0003-ops-fp16.patch"
    path.write_text(path.read_text().replace("__float2half(s)", "__float2half_rn(s)"))


@pytest.mark.parametrize(
    ("edit", "said", "layer_line"),
    [
        (_edit_added, "0002a-half-helpers.patch new", "common: 3 applied, the series lists 4"),
        (_edit_removed, "0003-ops-fp16.patch removed", "common: 3 applied, the series lists 2"),
        (
            _edit_reordered,
            "0003-ops-fp16.patch moved",
            "common: 3 applied, the series lists 3",
        ),
        (_edit_edited, "0003-ops-fp16.patch edited", "common: 3 applied, the series lists 3"),
    ],
    ids=["added", "removed", "reordered", "edited"],
)
def test_series_edited_by_hand_is_reported_until_applied(tmp_path: Path, edit: object, said: str, layer_line: str) -> None:
    """A series changed under the applied stack: named patch by patch, then 'fspatch apply' makes it true."""
    ws = _workspace(tmp_path)
    res = _cli(ws.root, "status")
    assert "common: 3/3 applied, top 0003-ops-fp16.patch\n  checkout clean\n" in res.output, res.output
    assert callable(edit)
    edit(ws.root, tmp_path)
    res = _cli(ws.root, "status")
    assert f"  series changed since applied: {said}: run 'fspatch apply minillm'\n" in res.output, res.output
    assert layer_line in res.output
    assert "checkout clean" in res.output  # the checkout itself was not touched
    assert _kinds(_status_json(ws.root)) == ["series-changed"]
    assert _cli(ws.root, "apply", "minillm").exit_code == 0
    b = _status_json(ws.root)
    assert b["notes"] == [] and b["series_changes"] == []


def test_a_patch_added_after_the_top_is_next_not_a_change(tmp_path: Path) -> None:
    """A patch appended after the top is the ordinary unapplied part of a layer (quilt's view): 'next'."""
    ws = _workspace(tmp_path)
    name = "0004-half-helpers.patch"
    (ws.root / "series/minillm" / name).write_bytes(_new_patch(tmp_path, name))
    with _series(ws.root).open("a") as f:
        f.write(name + "\n")
    res = _cli(ws.root, "status")
    assert "common: 3/4 applied, top 0003-ops-fp16.patch, next 0004-half-helpers.patch\n" in res.output
    assert "series changed" not in res.output
    assert [c["change"] for c in _status_json(ws.root)["series_changes"]] == ["unapplied"]  # type: ignore[attr-defined]


def test_a_description_edit_counts_as_edited(tmp_path: Path) -> None:
    """The commit message is part of what a patch builds: a description edited by hand is a change too."""
    ws = _workspace(tmp_path)
    path = ws.root / "series/minillm/0001-attn-flash.patch"
    path.write_text(path.read_text().replace("For speed.", "For speed on long sequences."))
    assert "series changed since applied: 0001-attn-flash.patch edited" in _cli(ws.root, "status").output


# --------------------------------------------------------------------------- lock, checkout, dirt


def test_lock_moved_by_a_git_pull_but_checkout_not_rebuilt(tmp_path: Path) -> None:
    """A colleague bumps to v1.5 and pushes; after 'git pull' the checkout is still the v1 stack."""
    ws = _workspace(tmp_path)
    other = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(other)], check=True)
    assert _cli(other, "sync").exit_code == 0
    assert _cli(other, "apply", "minillm").exit_code == 0
    assert _cli(other, "pull-upstream", "minillm", "v1.5", "--no-stop").exit_code == 0
    git(other, "add", "-A")
    git(other, "commit", "-qm", "bump to v1.5")
    git(ws.root, "pull", "-q", str(other), "HEAD")
    res = _cli(ws.root, "status")
    v1, v15 = _commit(tmp_path / "up", "v1"), _commit(tmp_path / "up", "v1.5")
    assert f"stack built on v1 ({v1[:12]}), lock pins v1.5 ({v15[:12]}): run 'fspatch apply minillm'" in res.output
    assert _kinds(_status_json(ws.root)) == ["stale"]
    assert _cli(ws.root, "apply", "minillm").exit_code == 0
    res = _cli(ws.root, "status")
    assert "stack built on" not in res.output and "checkout clean" in res.output
    assert _status_json(ws.root)["built_on"] == v15


def test_missing_checkout_points_to_sync(tmp_path: Path) -> None:
    """A fresh clone of an ordinary workspace has no checkout: 'fspatch sync' sets it up."""
    ws = _workspace(tmp_path)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(clone)], check=True)
    res = _cli(clone, "status")
    assert "no checkout at third_party/minillm: run 'fspatch sync' (clones it from upstream.lock)" in res.output
    assert _kinds(_status_json(clone)) == ["no-checkout"]


def test_dirty_checkout_and_moved_head_are_reported_with_what_to_run(tmp_path: Path) -> None:
    """Local edits: refresh them; HEAD moved off the stack: move it back or apply --force."""
    ws = _workspace(tmp_path)
    co = ws.root / "third_party/minillm"
    (co / "csrc/norm.cpp").write_text("float norm(float v) { return v; }\n")
    res = _cli(ws.root, "status")
    assert "1 changed file not refreshed: run 'fspatch refresh -b minillm' (or discard them)" in res.output
    assert "    csrc/norm.cpp" in res.output
    git(co, "checkout", "-q", "--", "csrc/norm.cpp")
    git(co, "checkout", "-q", "HEAD~1")
    res = _cli(ws.root, "status")
    assert "is not the stack top" in res.output and "'fspatch apply minillm --force'" in res.output
    assert _kinds(_status_json(ws.root)) == ["head-moved"]


def test_unreadable_series_and_pending_file_are_named_with_their_line(tmp_path: Path) -> None:
    """A series or pending file broken by hand: one line naming the file (and line), 'fspatch check'."""
    ws = _workspace(tmp_path)
    (ws.root / "series/minillm/pending.yaml").write_text("format: 1\n")
    _series(ws.root).write_text("0001-attn-flash.patch\n0001-attn-flash.patch\n")
    res = _cli(ws.root, "status")
    assert res.exit_code == 0 and "Traceback" not in res.output
    assert "series/minillm/pending.yaml: missing required key 'operation'" in res.output
    assert "series/minillm/series:2: patch '0001-attn-flash.patch' is listed twice" in res.output
    assert _kinds(_status_json(ws.root)) == ["pending-invalid", "series-invalid"]


def test_interactive_stop_status_says_the_workspace_files_are_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interactive stop writes no pending file: status says a commit now records nothing of it."""
    monkeypatch.delenv("CI", raising=False)
    ws = _workspace(tmp_path)
    assert _cli(ws.root, "pull-upstream", "minillm", "v2").exit_code == 1
    assert not (ws.root / "series/minillm/pending.yaml").exists()
    res = _cli(ws.root, "status")
    assert "pull-upstream v1 -> v2 stopped at a conflict in common/0001-attn-flash.patch" in res.output
    assert (
        "the workspace files are unchanged until it finishes (a commit now records none of it; to hand it to "
        "someone else: 'fspatch abort', then 'fspatch pull-upstream minillm v2 --no-stop' and commit)"
    ) in res.output
    assert git(ws.root, "status", "--porcelain").strip() == ""  # indeed: nothing to commit


# --------------------------------------------------------------------------- bot mode is explicit


def _env_without_ci(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(extra)
    return env


def test_piped_pull_upstream_without_ci_stops_like_a_terminal_run(tmp_path: Path) -> None:
    """Output piped, no CI: the run stops at the first conflict (no bot by itself), and says so."""
    ws = _workspace(tmp_path)
    exe = Path(sys.executable).parent / "fspatch"
    out = subprocess.run(
        [str(exe), "-C", str(ws.root), "pull-upstream", "minillm", "v2"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_env_without_ci(),
        check=False,
    )
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith(
        "pull-upstream: interactive mode (default; --no-stop or CI=1 for a bot): stops at the first conflict"
    )
    assert "stopped at series/minillm/0001-attn-flash.patch" in out.stdout
    assert not (ws.root / "series/minillm/pending.yaml").exists()
    assert Workspace.load(ws.root).backend("minillm").ref == "v1"  # the lock moves only when finished
    assert "stopped at a conflict" in _cli(ws.root, "status").output


@pytest.mark.parametrize("value", ["1", "true"])
def test_ci_set_runs_as_a_bot(tmp_path: Path, value: str) -> None:
    """CI set: a bot run, which completes, records the conflicts as pending and names its mode."""
    ws = _workspace(tmp_path)
    res = _cli(ws.root, "pull-upstream", "minillm", "v2", env={"CI": value})
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith(f"pull-upstream: bot mode (CI={value}): tries every patch; conflicts are recorded")
    assert (ws.root / "series/minillm/pending.yaml").is_file()
    assert Workspace.load(ws.root).backend("minillm").ref == "v2"


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_ci_empty_zero_or_false_is_not_a_bot(tmp_path: Path, value: str) -> None:
    ws = _workspace(tmp_path)
    res = _cli(ws.root, "pull-upstream", "minillm", "v2", env={"CI": value})
    assert res.exit_code == 1 and "interactive mode (default" in res.stderr
    assert not (ws.root / "series/minillm/pending.yaml").exists()


def test_explicit_flags_win_over_ci_and_quiet_hides_the_line(tmp_path: Path) -> None:
    """--stop under CI is interactive; --no-stop names itself; -q prints no mode line."""
    ws = _workspace(tmp_path)
    res = _cli(ws.root, "pull-upstream", "minillm", "v1.5", "--stop", env={"CI": "1"})
    assert res.exit_code == 0 and res.stderr.startswith("pull-upstream: interactive mode (--stop):"), res.output
    res = _cli(ws.root, "rebase-vendors", "minillm", "--no-stop")
    assert res.stderr.startswith("rebase-vendors: bot mode (--no-stop): tries every patch; conflicts are recorded as pending")
    res = _cli(ws.root, "-q", "rebase-vendors", "minillm", "--no-stop")
    assert "mode" not in res.stderr


# --------------------------------------------------------------------------- check fails while pending


def test_check_text_fails_on_each_pending_patch(bot: tuple[Path, Path]) -> None:
    _, clone = bot
    res = _cli(clone, "check", "--series")
    assert res.exit_code == 1, res.output
    for name in ("0001-attn-flash.patch", "0002-attn-scale.patch"):
        assert f"series/minillm/{name}:1: pending-patch: pending from a bot replay onto v2" in res.stdout


def test_check_json_fails_on_each_pending_patch(bot: tuple[Path, Path]) -> None:
    _, clone = bot
    res = _cli(clone, "check", "--series", "--format", "json")
    assert res.exit_code == 1
    findings = json.loads(res.stdout)["findings"]
    assert {f["rule"] for f in findings} == {"pending-patch"}  # exit 1 is the pending patches' doing
    found = [f for f in findings if f["rule"] == "pending-patch"]
    assert sorted(f["file"] for f in found) == [
        "series/minillm/0001-attn-flash.patch",
        "series/minillm/0002-attn-scale.patch",
    ]


def test_check_junit_fails_on_each_pending_patch(bot: tuple[Path, Path], tmp_path: Path) -> None:
    _, clone = bot
    out = tmp_path / "check.xml"
    assert _cli(clone, "check", "--series", "--junit", str(out)).exit_code == 1
    cases = ET.parse(out).getroot().iter("testcase")
    failed = [c.get("name", "") for c in cases if c.find("failure") is not None]
    assert sorted(n for n in failed if n.endswith(": pending-patch")) == [
        "series/minillm/0001-attn-flash.patch:1: pending-patch",
        "series/minillm/0002-attn-scale.patch:1: pending-patch",
    ]


def test_check_sarif_fails_on_each_pending_patch(bot: tuple[Path, Path], tmp_path: Path) -> None:
    _, clone = bot
    out = tmp_path / "check.sarif"
    assert _cli(clone, "check", "--series", "--sarif", str(out)).exit_code == 1
    run = json.loads(out.read_text())["runs"][0]
    rules = {r["id"]: r["shortDescription"]["text"] for r in run["tool"]["driver"]["rules"]}
    assert rules["pending-patch"] != "pending-patch"  # described, like every rule
    uris = sorted(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
        if r["ruleId"] == "pending-patch"
    )
    assert uris == ["series/minillm/0001-attn-flash.patch", "series/minillm/0002-attn-scale.patch"]


# --------------------------------------------------------------------------- no false alarms


def test_ordinary_verbs_leave_no_drift_to_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """apply, refresh, new, pop, push, goto and a stopped-then-skipped pull-upstream: status stays quiet."""
    from tests.wsutil import make_workspace

    monkeypatch.delenv("CI", raising=False)
    w = make_workspace(tmp_path)

    def quiet(step: str) -> None:
        b = _status_json(w.root)
        assert b["notes"] == [], (step, b["notes"])
        assert [c for c in b["series_changes"] if c["change"] != "unapplied"] == [], step  # type: ignore[attr-defined]

    assert w.cli("apply", "minillm").exit_code == 0
    quiet("apply")
    norm = next(w.checkout.rglob("norm.py"))
    norm.write_text(norm.read_text().replace("self.eps = eps\n", "self.eps = float(eps)\n"))
    assert w.cli("refresh").exit_code == 0
    quiet("refresh")
    assert w.cli("new", "0004-extra.patch").exit_code == 0
    (w.checkout / "EXTRA.md").write_text("extra\n")
    assert w.cli("refresh").exit_code == 0
    quiet("new + refresh")
    assert w.cli("pop").exit_code == 0
    quiet("pop")
    assert w.cli("push").exit_code == 0
    quiet("push")
    first = (w.series_dir / "series").read_text().split()[0]
    assert w.cli("goto", first).exit_code == 0
    quiet("goto")
    assert w.cli("apply", "minillm").exit_code == 0
    assert w.cli("pull-upstream", "minillm", "v1.1").exit_code == 1
    assert _kinds(_status_json(w.root)) == ["paused"]
    w.cli("skip")
    quiet("pull-upstream, skip")
