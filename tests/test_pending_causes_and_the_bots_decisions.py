"""Issue 13 gaps: each pending patch's cause, patch-id without a culprit, the bot's decisions kept on resume.

One upstream history with merges (v1 -> v2): a GitLab-style merged branch reworks ``net.py``
line 5; another merged branch takes FlagScale's new CUDA kernel (``csrc/fused.cu``, the very
patch) and tunes it in a second commit; main takes a C fix (``misc.c``) reworded around it.
The common layer: 0001 conflicts with the rework; 0002 edits lines 0001 added (blocked by
it); 0003 adds the kernel (add/add: no culprit at all, yet upstream by patch-id); 0004 is the
C fix (the bot's ``carried`` rule finds it upstream).  A bot run, committed, cloned afresh:

- ``pending.yaml`` records each pending patch's cause; ``status``, ``check`` (text, Markdown)
  say "conflicts with upstream" / "blocked by 0001-one.patch";
- 0003 is ``upstreamed`` by patch-id naming the branch commit that added the kernel;
- resuming (installed ``fspatch``: status -> apply -> edit -> continue) keeps the bot's
  decision for 0004 (its file is as the bot saw it on every side) and says so, instead of
  stopping for a review of it (0003 is decided again -- its add/add merge is keyed on whole
  trees -- and found upstream by patch-id again); when the person's resolution touches 0004's file, 0004 is
  decided again (and stops for review, as an interactive run does).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from fspatch.cli import main_group
from scripts.example import BASE_DATE, git, write_tree
from tests.rebase_helpers import lines, make_repo, make_ws, text

EXE = Path(sys.executable).parent / "fspatch"

C_BASE = """#include <stdlib.h>
#include <string.h>

char *
xstrdup(const char *str)
{
\tsize_t len;
\tchar *cp;

\tlen = strlen(str) + 1;
\tcp = xmalloc(len);
\treturn memcpy(cp, str, len);
}
"""
C_PATCH = C_BASE.replace(
    "\tlen = strlen(str) + 1;\n",
    "\tif ((len = strlen(str)) >= SIZE_MAX)\n\t\tfatal_f(\"string too long\");\n\tlen++;\n",
)
C_UPSTREAM = C_BASE.replace("\tsize_t len;\n\tchar *cp;\n", "\tsize_t len;\n\tchar *copy;\n").replace(
    "\tlen = strlen(str) + 1;\n\tcp = xmalloc(len);\n\treturn memcpy(cp, str, len);\n",
    "\tif ((len = strlen(str))  >=  SIZE_MAX)\n\t\tfatal_f(\"string too long\");\n\tlen++;\n"
    "\tcopy = xmalloc(len);\n\treturn memcpy(copy, str, len);\n",
)
FUSED = "".join(
    ["#include <cuda_fp16.h>\n", "__global__ void fused_bias_gelu(half* x, const half* b, int n) {\n"]
    + [f"  // step {k}\n" for k in range(6)]
    + ["  int i = blockIdx.x * blockDim.x + threadIdx.x;\n", "  if (i < n) x[i] = __hadd(x[i], b[i]);\n", "}\n"]
)
FUSED_TUNED = FUSED.replace("  // step 5\n", "  // step 5: vectorised loads (half2)\n")
BODY = lines(40)
BLOCK = [f"added {k}\n" for k in range(8)]
ONE = BODY[:4] + ["ours 5\n"] + BODY[5:30] + BLOCK + BODY[30:]
TWO = BODY[:4] + ["ours 5\n"] + BODY[5:30] + BLOCK[:4] + ["changed added 4\n"] + BLOCK[5:] + BODY[30:]
PATCHES = [
    ("0001-one.patch", "Rework net line 5 our way", "d", {"net.py": text(ONE)}),
    ("0002-two.patch", "Tune what 0001 added", "d", {"net.py": text(TWO)}),
    ("0003-fused.patch", "Add the fused bias-gelu kernel", "d", {"csrc/fused.cu": FUSED.encode()}),
    ("0004-xstrdup.patch", "xstrdup: check the length", "CVE backport.", {"misc.c": C_PATCH.encode()}),
]


def _commit(repo: Path, files: dict[str, bytes], message: str, n: int) -> None:
    write_tree(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=BASE_DATE + 600 + 60 * n)


def _merge(repo: Path, branch: str, message: str, n: int) -> None:
    git(repo, "merge", "-q", "--no-ff", branch, "-m", message, date=BASE_DATE + 600 + 60 * n)


def _upstream(tmp: Path) -> Path:
    up = tmp / "up"
    make_repo(up, {"net.py": text(BODY), "misc.c": C_BASE.encode(), "README": b"upstream\n"}, [])
    main = git(up, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(up, "checkout", "-q", "-b", "shifang/rework")
    _commit(up, {"net.py": text(BODY[:4] + ["upstream 5\n"] + BODY[5:])}, "ADLR/megatron-lm!3156 - Rework line 5", 1)
    git(up, "checkout", "-q", main)
    git(up, "checkout", "-q", "-b", "amy/kernels")
    _commit(up, {"csrc/fused.cu": FUSED.encode()}, "Take FlagScale's fused bias-gelu kernel (!88)", 2)
    _commit(up, {"csrc/fused.cu": FUSED_TUNED.encode()}, "Vectorise the fused kernel", 3)
    git(up, "checkout", "-q", main)
    _commit(up, {"misc.c": C_UPSTREAM.encode()}, "xstrdup: refuse huge strings; rename locals", 4)
    _merge(up, "shifang/rework", "Merge branch 'shifang/rework' into 'main'\n\nSee merge request ADLR/megatron-lm!3156", 5)
    _merge(up, "amy/kernels", "Merge branch 'amy/kernels' into 'main'\n\nSee merge request ADLR/megatron-lm!88", 6)
    git(up, "tag", "v2")
    git(up, "checkout", "-q", "v1")
    return up


def _cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main_group, ["-C", str(root), *args])


def _fspatch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "-C", str(root), *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:  # type: ignore[type-arg]
    """The bot's run (its JSON report), committed; the workspace repository and its upstream."""
    tmp = tmp_path_factory.mktemp("bot")
    up = _upstream(tmp)
    ws = make_ws(tmp, up, "v1", PATCHES)
    (ws.root / ".gitignore").write_text("third_party/\n")
    git(ws.root, "init", "-q")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "workspace on v1")
    report = tmp / "bot.json"
    res = _cli(ws.root, "pull-upstream", "minillm", "v2", "--no-stop", "--report", str(report))
    assert res.exit_code == 1, res.output
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "bot: bump minillm to v2")
    return ws.root, up, json.loads(report.read_text())


def _clone(bot: tuple[Path, Path, dict], dest: Path) -> Path:  # type: ignore[type-arg]
    subprocess.run(["git", "clone", "-q", str(bot[0]), str(dest)], check=True)
    return dest


def test_the_bot_run_finds_the_culpritless_kernel_upstream_by_patch_id(bot: tuple[Path, Path, dict]) -> None:  # type: ignore[type-arg]
    """0003 conflicts add/add with no culprit; the range's patch-ids name the branch commit that added it."""
    _, up, data = bot
    by = {p["patch"]: p for p in data["patches"]}
    assert [by[n]["status"] for n in sorted(by)] == ["conflict", "conflict", "upstreamed", "upstreamed"]
    assert by["0001-one.patch"]["blocked_by"] == ""
    assert by["0001-one.patch"]["conflicts"][0]["culprits"][0]["ref"] == "ADLR/megatron-lm!3156"
    assert by["0002-two.patch"]["blocked_by"] == "0001-one.patch"
    kernel = by["0003-fused.patch"]
    assert kernel["upstream_how"] == "patch-id"
    assert kernel["upstream_commit"] == git(up, "rev-parse", "amy/kernels~1").strip()
    assert by["0004-xstrdup.patch"]["upstream_how"] == "carried"


def test_git_itself_conflicts_on_the_kernel_with_no_upstream_line_to_blame(tmp_path: Path) -> None:
    """What makes the case: git's cherry-pick of the kernel patch onto v2 conflicts (add/add)."""
    up = _upstream(tmp_path)
    git(up, "checkout", "-q", "v1")
    write_tree(up, {"csrc/fused.cu": FUSED.encode()})
    git(up, "add", "-A")
    git(up, "commit", "-qm", "our kernel")
    ours = git(up, "rev-parse", "HEAD").strip()
    git(up, "checkout", "-q", "v2")
    got = subprocess.run(["git", "-C", str(up), "cherry-pick", ours], capture_output=True, text=True, check=False)
    assert got.returncode != 0 and "csrc/fused.cu" in got.stdout + got.stderr
    subprocess.run(["git", "-C", str(up), "cherry-pick", "--abort"], check=True)


def test_pending_yaml_records_each_cause_and_status_check_markdown_say_it(
    bot: tuple[Path, Path, dict], tmp_path: Path  # type: ignore[type-arg]
) -> None:
    clone = _clone(bot, tmp_path / "clone")
    doc = yaml.safe_load((clone / "series/minillm/pending.yaml").read_text())
    (layer,) = doc["layers"]
    entries = {e["name"]: e for e in layer["series"]}
    assert entries["0001-one.patch"]["cause"] == "conflict" and "blocked_by" not in entries["0001-one.patch"]
    assert entries["0002-two.patch"]["cause"] == "blocked"
    assert entries["0002-two.patch"]["blocked_by"] == "0001-one.patch"
    assert "cause" not in entries["0003-fused.patch"] and len(entries["0003-fused.patch"]["sides"]) == 64
    assert "sides" in entries["0004-xstrdup.patch"]
    st = _fspatch(clone, "status")
    assert st.returncode == 0, st.stderr
    assert "    pending  common/0001-one.patch  (conflicts with upstream)\n" in st.stdout
    assert "    pending  common/0002-two.patch  (blocked by 0001-one.patch)\n" in st.stdout
    js = json.loads(_cli(clone, "status", "--format", "json").stdout)
    assert [(p["patch"], p["cause"], p["blocked_by"]) for p in js["backends"][0]["pending"]] == [
        ("0001-one.patch", "conflict", ""),
        ("0002-two.patch", "blocked", "0001-one.patch"),
    ]
    chk = _cli(clone, "check")
    assert chk.exit_code == 1
    assert "series/minillm/0001-one.patch:1: pending-patch: pending from a bot replay onto v2 (conflicts with upstream)" \
        in chk.stdout
    assert "0002-two.patch:1: pending-patch: pending from a bot replay onto v2 (blocked by 0001-one.patch)" in chk.stdout
    md = _cli(clone, "check", "--format", "markdown")
    assert md.exit_code == 1
    assert "pending from a bot replay onto v2 (blocked by 0001-one.patch)" in md.stdout


def test_status_reads_the_cause_from_the_outcomes_in_an_older_pending_file(
    bot: tuple[Path, Path, dict], tmp_path: Path  # type: ignore[type-arg]
) -> None:
    """A pending file written before causes were recorded: the bot's outcomes still say which is blocked."""
    clone = _clone(bot, tmp_path / "clone")
    path = clone / "series/minillm/pending.yaml"
    doc = yaml.safe_load(path.read_text())
    for e in doc["layers"][0]["series"]:
        e.pop("cause", None)
        e.pop("blocked_by", None)
        e.pop("sides", None)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    st = _cli(clone, "status")
    assert "    pending  common/0002-two.patch  (blocked by 0001-one.patch)\n" in st.output


def _resolve_net(clone: Path) -> None:
    net = clone / "third_party/minillm/net.py"
    assert b"<<<<<<< " in net.read_bytes()
    net.write_bytes(text(ONE[:4] + ["upstream 5 + ours\n"] + ONE[5:]))


def test_resume_keeps_the_bots_decisions_and_says_so(bot: tuple[Path, Path, dict], tmp_path: Path) -> None:  # type: ignore[type-arg]
    """status -> apply -> edit -> continue (installed fspatch): 0004 keeps the bot's decision, no review stop."""
    root, up, _ = bot
    clone = _clone(bot, tmp_path / "clone")
    bot_files = {n: (clone / "series/minillm" / n).read_bytes() for n in ("0003-fused.patch", "0004-xstrdup.patch")}
    got = _fspatch(clone, "apply", "minillm")
    assert got.returncode == 1, got.stdout + got.stderr
    assert "0001-one.patch" in got.stdout
    _resolve_net(clone)
    done = _fspatch(clone, "continue")
    assert done.returncode == 0, done.stdout + done.stderr
    kept = "the bot's decision, kept: the patch's files are as the bot saw them on every side"
    kernel = git(up, "rev-parse", "amy/kernels~1").strip()
    # 0003's add/add needs the whole-tree merge, keyed on the whole trees: decided again, by patch-id again.
    assert f"upstreamed common: 0003-fused.patch (already upstream in {kernel[:12]}: patch-id)\n  upstreamed" in done.stdout
    assert f"upstreamed common: 0004-xstrdup.patch (already upstream: carried)\n      {kept}" in done.stdout
    assert "stopped at" not in done.stdout
    assert not (clone / "series/minillm/pending.yaml").exists()
    for n, data in bot_files.items():
        assert (clone / "series/minillm" / n).read_bytes() == data  # nothing the bot did is redone
    assert (clone / "third_party/minillm/misc.c").read_text() == C_UPSTREAM
    assert (clone / "third_party/minillm/csrc/fused.cu").read_text() == FUSED_TUNED
    chk = _cli(clone, "check")
    assert "pending-patch" not in chk.stdout and "4 patches built" in chk.stdout  # (marker findings: not ours)
    st = _fspatch(clone, "status")
    assert "pending" not in st.stdout and "checkout clean" in st.stdout


def test_resume_decides_again_when_the_resolution_touches_the_patchs_file(
    bot: tuple[Path, Path, dict], tmp_path: Path  # type: ignore[type-arg]
) -> None:
    """The resolution of 0001 also edits misc.c: 0004's sides changed, so it is decided again (a review stop)."""
    clone = _clone(bot, tmp_path / "clone")
    assert _cli(clone, "apply", "minillm").exit_code == 1
    _resolve_net(clone)
    misc = clone / "third_party/minillm/misc.c"
    misc.write_text("/* vendored */\n" + misc.read_text())
    res = _cli(clone, "continue")
    assert res.exit_code == 1, res.output
    assert "stopped at series/minillm/0004-xstrdup.patch: resolved automatically" in res.output
    assert "0003-fused.patch (already upstream" in res.output  # its file is untouched: kept
    res = _cli(clone, "continue")
    assert res.exit_code == 0, res.output
    assert not (clone / "series/minillm/pending.yaml").exists()
