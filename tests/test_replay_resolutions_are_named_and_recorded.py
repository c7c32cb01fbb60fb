"""The resolution ladder inside pull-upstream: every automatic resolution named, kept, recorded (issue 17).

Real upstream histories (git repos built by tests/rebase_helpers.py), real patch files, the
real replay.  Pinned here: a structured resolution in bot mode (report, summary, patch
trailer), ``--resolve none``, the interactive stop that shows a resolution before it is kept,
``continue`` recording the person's resolution, and that recorded resolution replayed by a
later bot run in another workspace sharing the store, by a second vendor layer, and on a
second backend version -- while a stale one is not used.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from fspatch.commands import pull_upstream, resolve
from fspatch.commands import resolutions as resolutions_cmd
from fspatch.core.workspace import Workspace
from tests.rebase_helpers import make_repo, make_ws

MODEL = b"""import math
import os
import sys


class Model:
    def __init__(self, cfg):
        self.cfg = cfg

    def forward(self, x):
        return x
"""
ATTN = b"""def attention(q, k, v):
    scores = q @ k.T
    return softmax(scores) @ v


def unrelated():
    return 0
"""
MODEL_V2 = MODEL.replace(b"import os\n", b"import os\nimport random\n")
ATTN_V2 = ATTN.replace(b"    scores = q @ k.T\n", b"    scores = q @ k.T / math.sqrt(q.shape[-1])\n")
ATTN_V3 = ATTN_V2.replace(b"    return 0\n", b"    return 1\n")  # same conflict region as v2
ATTN_V4 = ATTN.replace(b"    scores = q @ k.T\n", b"    scores = (q @ k.T) * scale\n")  # another one

P_IMPORT = (
    "0001-import-re.patch",
    "Import re for the router",
    "",
    {"pkg/model.py": MODEL.replace(b"import os\n", b"import os\nimport re  # --- FLAGSCALE MODIFICATION ---\n")},
)
GEMS = (
    b"    # --- FLAGSCALE MODIFICATION BEG ---\n"
    b"    scores = flag_gems.matmul(q, k.T)\n"
    b"    # --- FLAGSCALE MODIFICATION END ---\n"
)
P_GEMS = (
    "0002-gems-matmul.patch",
    "Use flag_gems matmul",
    "",
    {"pkg/attn.py": ATTN.replace(b"    scores = q @ k.T\n", GEMS)},
)
PERSON = ATTN_V2.replace(
    b"    scores = q @ k.T / math.sqrt(q.shape[-1])\n",
    b"    # --- FLAGSCALE MODIFICATION BEG ---\n"
    b"    scores = flag_gems.matmul(q, k.T) / math.sqrt(q.shape[-1])\n"
    b"    # --- FLAGSCALE MODIFICATION END ---\n",
)
ATTN_PATH = "third_party/minillm/pkg/attn.py"


def upstream(tmp: Path) -> Path:
    up = tmp / "upstream"
    make_repo(
        up,
        {"pkg/model.py": MODEL, "pkg/attn.py": ATTN},
        [
            ("Scale attention scores; import random", {"pkg/model.py": MODEL_V2, "pkg/attn.py": ATTN_V2}, "v2"),
            ("unrelated() returns 1", {"pkg/attn.py": ATTN_V3}, "v3"),
            ("Scale scores by a factor", {"pkg/attn.py": ATTN_V4}, "v4"),
        ],
    )
    return up


def fresh(tmp: Path, up: Path, patches: Sequence[tuple[str, str, str, Mapping[str, bytes | None]]], **kw: object) -> Workspace:
    tmp.mkdir(parents=True, exist_ok=True)
    return make_ws(tmp, up, "v1", patches, **kw)  # type: ignore[arg-type]


def store(ws: Workspace) -> Path:
    return ws.root / "series" / "minillm" / "resolutions"


def resolve_by_hand(ws: Workspace) -> None:
    """What a person does at the stop: the scaled flag_gems matmul, markers kept."""
    (ws.root / ATTN_PATH).write_bytes(PERSON)


def test_bot_run_resolves_structured_and_says_so(tmp_path: Path) -> None:
    """--no-stop: the import region is merged by the structured rule, named in report, summary and trailer."""
    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_IMPORT])
    r = pull_upstream.run(ws, "minillm", "v2", stop=False)
    o = r.report.patches[0]
    assert str(o.status) == "resolved" and o.resolved_by == "structured"
    assert [(a.rule, a.path, a.line) for a in o.resolutions] == [("structured", "pkg/model.py", 3)]
    assert "<<<<<<<" in o.resolutions[0].before and "import re" in o.resolutions[0].after
    assert r.report.summary == "1 patch: 0 clean, 0 upstreamed, 1 resolved (1 structured), 0 conflicts"
    assert r.report.counts["resolved structured"] == 1
    patch = (ws.root / "series/minillm/0001-import-re.patch").read_text()
    assert "Fspatch-Resolved: structured pkg/model.py:3" in patch
    body = (ws.root / "third_party/minillm/pkg/model.py").read_bytes()
    assert body.startswith(b"import math\nimport os\nimport random\nimport re  # --- FLAGSCALE MODIFICATION ---\n")


def test_resolve_none_leaves_the_conflict(tmp_path: Path) -> None:
    """--resolve none: the same region stays a conflict, exactly as git leaves it."""
    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_IMPORT])
    r = pull_upstream.run(ws, "minillm", "v2", stop=False, resolve="none")
    assert str(r.report.patches[0].status) == "conflict" and not r.report.patches[0].resolutions


def test_interactive_stop_shows_the_resolution_before_keeping_it(tmp_path: Path) -> None:
    """Interactive: the replay stops with the resolved file checked out; continue keeps it, records nothing."""
    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_IMPORT])
    r = pull_upstream.run(ws, "minillm", "v2", stop=True)
    assert r.stopped and str(r.report.patches[-1].status) == "resolved"
    shown = (ws.root / "third_party/minillm/pkg/model.py").read_bytes()
    assert b"<<<<<<<" not in shown and b"import re" in shown
    done = resolve.run_continue(ws)
    assert not done.stopped and done.report.patches[0].resolved_by == "structured"
    assert "Fspatch-Resolved: structured" in (ws.root / "series/minillm/0001-import-re.patch").read_text()
    assert not store(ws).exists() or not list(store(ws).glob("*.yaml"))


def test_continue_records_and_a_later_bot_run_elsewhere_replays_it(tmp_path: Path) -> None:
    """A person's resolution is recorded at continue; a bot run in another workspace sharing the store reuses it."""
    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_GEMS])
    r = pull_upstream.run(ws, "minillm", "v2", stop=True)
    assert r.stopped and str(r.report.patches[-1].status) == "conflict"
    resolve_by_hand(ws)
    resolve.run_continue(ws)
    recorded = list(store(ws).glob("*.yaml"))
    assert len(recorded) == 1
    listed = resolutions_cmd.run_list(ws)
    assert [i.path for i in listed.resolutions] == ["pkg/attn.py"]
    assert listed.resolutions[0].author == "Test Author <author@example.org>"
    person_patch = (ws.root / "series/minillm/0002-gems-matmul.patch").read_text()

    bot = fresh(tmp_path / "b", up, [P_GEMS])
    shutil.copytree(store(ws), store(bot))
    r2 = pull_upstream.run(bot, "minillm", "v2", stop=False)
    o = r2.report.patches[0]
    assert str(o.status) == "resolved" and o.resolved_by == "recorded"
    assert (
        o.resolutions[0].detail.startswith("resolved as recorded on ") and "by Test Author" in o.resolutions[0].detail
    )
    assert (bot.root / ATTN_PATH).read_bytes() == PERSON
    assert r2.report.summary.endswith("1 resolved (1 recorded), 0 conflicts")
    bot_patch = (bot.root / "series/minillm/0002-gems-matmul.patch").read_text()
    assert "Fspatch-Resolved: recorded pkg/attn.py:2" in bot_patch
    assert bot_patch.split("\ndiff --git", 1)[1] == person_patch.split("\ndiff --git", 1)[1]  # the same change


def test_recorded_resolution_serves_a_second_backend_version(tmp_path: Path) -> None:
    """Recorded on v1 -> v2; a workspace bumping v1 -> v3 (same region) gets it; v1 -> v4 (changed) does not."""
    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_GEMS])
    pull_upstream.run(ws, "minillm", "v2", stop=True)
    resolve_by_hand(ws)
    resolve.run_continue(ws)

    v3 = fresh(tmp_path / "b", up, [P_GEMS])
    shutil.copytree(store(ws), store(v3))
    o = pull_upstream.run(v3, "minillm", "v3", stop=False).report.patches[0]
    assert o.resolved_by == "recorded"
    assert (v3.root / ATTN_PATH).read_bytes() == PERSON.replace(b"    return 0\n", b"    return 1\n")

    stale = fresh(tmp_path / "c", up, [P_GEMS])
    shutil.copytree(store(ws), store(stale))
    o4 = pull_upstream.run(stale, "minillm", "v4", stop=False).report.patches[0]
    assert str(o4.status) == "conflict" and not o4.resolutions
    assert any("similar:" in n for n in o4.notes), o4.notes  # offered, never applied


def test_recorded_resolution_serves_another_vendor_layer(tmp_path: Path) -> None:
    """Two vendor layers carry the same change: resolving the first one resolves the second as recorded."""
    up = upstream(tmp_path)
    vendor_patch = ("0001-gems-matmul.patch", "Use flag_gems matmul", "", P_GEMS[3])
    ws = fresh(tmp_path / "a", up, [], vendors={"mlu": [vendor_patch], "npu": [vendor_patch]})
    r = pull_upstream.run(ws, "minillm", "v2", stop=True)
    assert r.stopped and r.report.patches[-1].layer == "vendor/mlu"
    resolve_by_hand(ws)
    r2 = resolve.run_continue(ws)
    assert r2.stopped, "the second layer's recorded resolution is shown before it is kept"
    last = r2.report.patches[-1]
    assert last.layer == "vendor/npu" and last.resolved_by == "recorded"
    r3 = resolve.run_continue(ws)
    assert not r3.stopped
    by_layer = {o.layer: o.resolved_by for o in r3.report.patches}
    assert by_layer == {"vendor/mlu": "by hand", "vendor/npu": "recorded"}


def test_forget_drops_a_recorded_resolution(tmp_path: Path) -> None:
    """resolutions forget ID deletes the file; the next replay leaves the conflict."""
    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_GEMS])
    pull_upstream.run(ws, "minillm", "v2", stop=True)
    resolve_by_hand(ws)
    resolve.run_continue(ws)
    rec = resolutions_cmd.run_list(ws).resolutions[0]
    shown = resolutions_cmd.run_show(ws, rec.id[:8])
    assert "flag_gems.matmul(q, k.T) / math.sqrt" in shown.text
    resolutions_cmd.run_forget(ws, rec.id)
    assert resolutions_cmd.run_list(ws).resolutions == ()


def test_cli_resolve_flag_report_and_resolutions_verbs(tmp_path: Path) -> None:
    """The CLI wiring: --resolve, the resolution named in the text report, resolutions list/show/forget."""
    from click.testing import CliRunner

    from fspatch.cli import main_group

    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_IMPORT])
    runner = CliRunner()
    bad = runner.invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--resolve", "guess"])
    assert bad.exit_code == 2
    res = runner.invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert res.exit_code == 0, res.output
    assert "resolved (structured) pkg/model.py:3: kept both" in res.output
    assert "1 resolved (1 structured)" in res.output
    listed = runner.invoke(main_group, ["-C", str(ws.root), "resolutions", "list"])
    assert listed.exit_code == 0 and "0 recorded resolutions in series/minillm/resolutions" in listed.output
    missing = runner.invoke(main_group, ["-C", str(ws.root), "resolutions", "show", "abcdef"])
    assert missing.exit_code == 2 and "no recorded resolution 'abcdef'" in missing.output


def test_diff_names_the_resolved_regions(tmp_path: Path) -> None:
    """fspatch diff of a ladder-resolved patch names its resolutions (stderr), the diff stays a patch."""
    from click.testing import CliRunner

    from fspatch.cli import main_group
    from fspatch.commands import diff as diff_cmd

    up = upstream(tmp_path)
    ws = fresh(tmp_path / "a", up, [P_IMPORT])
    pull_upstream.run(ws, "minillm", "v2", stop=False)
    r = diff_cmd.run(Workspace.load(ws.root), "minillm", patch="0001")
    assert r.resolved == ("structured pkg/model.py:3",)
    assert r.text.startswith(b"diff --git a/pkg/model.py b/pkg/model.py")
    res = CliRunner().invoke(main_group, ["-C", str(ws.root), "diff", "0001"])
    assert res.exit_code == 0 and "resolved by fspatch at the last replay: structured pkg/model.py:3" in res.output
