"""``--format markdown``: a replay's report as a pull-request body (issue 13, item 6).

On a generated upstream history with a merge, the bump of a 12-patch series (Python, C++,
CUDA) conflicts in one patch; the Markdown names the counts, the conflict's layer, patch file,
file, region (line ranges and the patch's ``@@`` header), the culprit commit with the merge
that brought it and its MR reference, and what to run.  The same history gives the same bytes;
``--report x.md`` writes the same document; untrusted text cannot break the table.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.core.replay_report import Culprit, FileConflict, PatchOutcome, Region, ReplayReport, ReplayStatus
from fspatch.core.report_markdown import render_replay_markdown
from scripts.example import git
from tests.botutil import CONFLICT_FILE, CONFLICT_PATCH, CULPRIT_SUBJECT, MERGE_SUBJECT, bot_workspace


def _bump(tmp: Path, *extra: str) -> tuple[int, str, Path, Path]:
    ws, up = bot_workspace(tmp)
    res = CliRunner().invoke(main_group, ["-C", str(ws.root), "-q", "pull-upstream", "minillm", "v2", *extra])
    return res.exit_code, res.stdout, ws.root, up


def test_the_body_names_counts_conflict_region_culprit_and_what_to_run(tmp_path: Path) -> None:
    code, md, root, up = _bump(tmp_path, "--no-stop", "--format", "markdown")
    assert code == 1, md
    culprit = git(up, "rev-parse", "tune").strip()
    merge = git(up, "rev-parse", "v2^{commit}").strip()
    assert culprit != merge
    old = git(up, "rev-parse", "v1^{commit}").strip()
    assert md.startswith("## fspatch pull-upstream: minillm v1 → v2\n")
    assert f"`v1` (`{old[:12]}`) → `v2` (`{merge[:12]}`)" in md
    assert "**12 patches: 11 clean, 0 upstreamed, 1 conflict**" in md
    for row in ("| clean | 11 |", "| conflicts | 1 |", "| already upstream | 0 |", "| blocked by an earlier patch | 0 |",
                "| resolved automatically | 0 |"):
        assert row + "\n" in md, row
    hunk = next(
        line for line in (root / "series/minillm" / CONFLICT_PATCH).read_text().split("\n") if line.startswith("@@")
    )
    rows = [line for line in md.split("\n") if line.startswith("| common |")]
    assert rows == [
        f"| common | `series/minillm/{CONFLICT_PATCH}` | `{CONFLICT_FILE}` | content: new upstream lines 10, patch lines 10 "
        f"| `{hunk}` | `{culprit[:12]}` {CULPRIT_SUBJECT} (merged in `{merge[:12]}` {MERGE_SUBJECT}; ADLR/minillm!42) |"
    ]
    steps = md[md.index("### What to run") :]
    assert "fspatch apply minillm" in steps and "fspatch continue" in steps
    assert "fspatch skip" in steps and "fspatch abort" in steps
    assert f"- conflict: common: `{CONFLICT_PATCH}`" in md and "- clean: common: `0012-m09.patch`" in md


def test_same_history_same_bytes_and_the_report_file_agrees(tmp_path: Path) -> None:
    """Two bumps of identical histories in different places print identical Markdown; --report x.md too."""
    _c1, first, _r1, _u1 = _bump(tmp_path / "a", "--no-stop", "--format", "markdown")
    report = tmp_path / "body.md"
    _c2, second, _r2, _u2 = _bump(tmp_path / "b", "--no-stop", "--format", "markdown", "--report", str(report))
    assert first == second and report.read_text() == second
    js = tmp_path / "r.json"
    _c3, _out, _r3, _u3 = _bump(tmp_path / "c", "--no-stop", "--format", "markdown", "--report", str(js))
    data = json.loads(js.read_text())  # the file's kind follows its name: .json is JSON whatever --format says
    assert data["format"] == "fspatch/pull-upstream" and data["counts"]["conflict"] == 1


def test_an_interactive_stop_says_where_it_stopped(tmp_path: Path) -> None:
    code, md, root, _up = _bump(tmp_path, "--stop", "--format", "markdown")
    assert code == 1
    assert f"The replay stopped at `series/minillm/{CONFLICT_PATCH}`; in the checkout `third_party/minillm`:" in md
    assert "fspatch apply" not in md and "fspatch continue" in md
    assert "<<<<<<<" in (root / "third_party/minillm" / CONFLICT_FILE).read_text()


def test_check_markdown_lists_the_pending_patch(tmp_path: Path) -> None:
    _code, _md, root, _up = _bump(tmp_path, "--no-stop")
    res = CliRunner().invoke(main_group, ["-C", str(root), "check", "--format", "markdown"])
    assert res.exit_code == 1
    assert res.stdout.startswith("## fspatch check\n")
    assert "| `pending-patch` | 1 |" in res.stdout
    assert f"| `series/minillm/{CONFLICT_PATCH}:1` | `pending-patch` | error |" in res.stdout


def _report(patches: tuple[PatchOutcome, ...]) -> ReplayReport:
    counts = {s.value: sum(1 for p in patches if p.status == s) for s in ReplayStatus}
    counts["blocked"] = sum(1 for p in patches if p.blocked_by)
    return ReplayReport("pull-upstream", "vllm", "v0.6", "a" * 40, "v0.7", "b" * 40, True, None, patches, counts, "…")


def test_blocked_upstreamed_and_hostile_text(tmp_path: Path) -> None:
    """Cascades and already-upstream patches get their own sections; a subject with | and ` keeps one row."""
    hostile = Culprit("c" * 40, "Fix `a|b` [x](y) <b>\x1b[31m", "d" * 40, "Merge !7", "group/vllm!7")
    patches = (
        PatchOutcome(
            "vendor/acme",
            "0001-a.patch",
            ReplayStatus.CONFLICT,
            (FileConflict("vllm/a|b.py", "content", (Region((3, 2), (4, 2), (3, 3), "@@ -1,6 +1,7 @@ def f():"),), (hostile,)),),
        ),
        PatchOutcome("vendor/acme", "0002-b.patch", ReplayStatus.CONFLICT, (FileConflict("vllm/a|b.py", "content"),),
                     blocked_by="0001-a.patch"),
        PatchOutcome("common", "0003-c.patch", ReplayStatus.UPSTREAMED, upstream_commit="e" * 40, upstream_how="patch-id"),
        PatchOutcome("common", "0004-d.patch", ReplayStatus.DROPPED, upstream_how="reverse-applies"),
    )
    md = render_replay_markdown(_report(patches))
    row = next(line for line in md.split("\n") if line.startswith("| vendor/acme |"))
    assert row.count(" | ") == 5 and "\x1b" not in md  # six cells, the | inside escaped
    assert "`vendors/acme/vllm/0001-a.patch`" in row and "lines 4–5" in row and "patch lines 3–5" in row
    assert r"Fix \`a\|b\` \[x\](y) \<b\>?\[31m" in row
    assert "### Blocked by an earlier patch\n\n- vendor/acme: `0002-b.patch` — conflicts only because `0001-a.patch` did" in md
    assert f"- common: `0003-c.patch` in `{'e' * 12}` (patch-id); kept as an empty patch" in md
    assert "- common: `0004-d.patch` (reverse-applies); dropped" in md
    assert "| already upstream | 2 |" in md and "| blocked by an earlier patch | 1 |" in md and "| conflicts | 1 |" in md
    assert "- blocked: vendor/acme: `0002-b.patch`" in md


def test_rebase_vendors_markdown_names_the_vendor_patch(tmp_path: Path) -> None:
    """rebase-vendors' body: a vendor patch conflicting with an edited common patch, at its vendors/ path."""
    from tests.rebase_helpers import lines, make_repo, make_ws
    from tests.rebase_helpers import text as as_bytes

    up = tmp_path / "up"
    base = lines(20, "__device__ int k")
    make_repo(up, {"csrc/kernel.cu": as_bytes(base)}, [])
    common = as_bytes(base[:9] + ["__device__ int k 10 = 1;\n"] + base[10:])
    vendor = as_bytes(base[:9] + ["__device__ int k 10 = 2;  // acme\n"] + base[10:])
    ws = make_ws(tmp_path, up, "v1", [("0001-c.patch", "Common", "d", {"csrc/kernel.cu": common})],
                 vendors={"acme": [("0001-v.patch", "Acme kernel", "d", {"csrc/kernel.cu": vendor})]})
    assert CliRunner().invoke(main_group, ["-C", str(ws.root), "apply", "minillm", "--vendor", "acme"]).exit_code == 0
    patch = ws.root / "series/minillm/0001-c.patch"
    patch.write_text(patch.read_text().replace("+__device__ int k 10 = 1;", "+__device__ int k 10 = 3;"))
    res = CliRunner().invoke(
        main_group, ["-C", str(ws.root), "-q", "rebase-vendors", "minillm", "--no-stop", "--format", "markdown"]
    )
    assert res.exit_code == 1, res.output
    md = res.stdout
    assert md.startswith("## fspatch rebase-vendors: minillm vendor layers onto the common layer\n")
    rows = [line for line in md.split("\n") if line.startswith("| vendor/acme |")]
    assert len(rows) == 1 and "`vendors/acme/minillm/0001-v.patch` | `csrc/kernel.cu`" in rows[0], md
    assert "@@ -7,7 +7,7 @@" in rows[0] and "| conflicts | 1 |" in md and "fspatch apply minillm" in md
