"""The ``carried`` rule: upstream's side is kept only where it provably has the patch's change (issue 17).

Each case runs libgit2's real 3-way file merge (what pull-upstream runs) on real-shaped C,
Python and CUDA files -- a patch that backports a fix, and an upstream release that took the
same fix reworded around it -- then the ladder on the region git left.  One case per
language that applies, one for every refusal condition, and the replay itself: a patch whose
every region upstream carries is reported ``already upstream`` (and dropped with
``--drop-upstreamed``), through the real command and the CLI.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.commands import pull_upstream
from fspatch.core.ladder import SAFE, FileResolution, Ladder
from fspatch.git_adapter import GitRepo
from tests.rebase_helpers import make_repo, make_ws

LABELS = ("upstream 9.2", "upstream 10.0", "patch CVE-2025-61985.patch")


def resolve(tmp_path: Path, path: str, base: str, ours: str, theirs: str) -> FileResolution:
    repo = GitRepo.init(tmp_path / "scratch")
    got = repo.merge_texts(path, base.encode(), ours.encode(), theirs.encode(), LABELS)
    assert got is not None
    clean, text = got
    assert not clean, "the case must be a conflict for git"
    fr = Ladder(SAFE).resolve_file(path, base.encode(), ours.encode(), theirs.encode(), text, LABELS)
    assert fr is not None
    return fr


def refused(fr: FileResolution, why: str) -> None:
    assert not fr.resolved and fr.regions[0].rule is None
    assert "carried: " + why in fr.regions[0].reason, fr.regions[0].reason


C_BASE = """#include <stdlib.h>
#include <string.h>

char *
xstrdup(const char *str)
{
	size_t len;
	char *cp;

	len = strlen(str) + 1;
	cp = xmalloc(len);
	return memcpy(cp, str, len);
}
"""
# The patch (a CVE backport): check the length before it can wrap.
C_PATCH = C_BASE.replace(
    "\tlen = strlen(str) + 1;\n",
    "\tif ((len = strlen(str)) >= SIZE_MAX)\n\t\tfatal_f(\"string too long\");\n\tlen++;\n",
)
# Upstream took the same fix, and renamed the locals around it in the same release.
C_UPSTREAM = (
    C_BASE.replace("\tsize_t len;\n\tchar *cp;\n", "\tsize_t len;\n\tchar *copy;\n")
    .replace(
        "\tlen = strlen(str) + 1;\n\tcp = xmalloc(len);\n\treturn memcpy(cp, str, len);\n",
        "\tif ((len = strlen(str))  >=  SIZE_MAX)\n\t\tfatal_f(\"string too long\");\n\tlen++;\n"
        "\tcopy = xmalloc(len);\n\treturn memcpy(copy, str, len);\n",
    )
)


def test_c_backport_upstream_took_reworded_is_upstreams_side(tmp_path: Path) -> None:
    """Every line the patch adds is in upstream's side (spacing aside), the one it removes is gone."""
    fr = resolve(tmp_path, "misc.c", C_BASE, C_UPSTREAM, C_PATCH)
    assert fr.resolved and fr.rules == ("carried",)
    assert fr.text == C_UPSTREAM.encode()
    assert "upstream already carries the patch's change here (3 line(s) it adds, 1 it removes)" in fr.regions[0].reason


def test_c_upstream_took_another_fix_is_refused(tmp_path: Path) -> None:
    """Upstream fixed the same line its own way (returns NULL): a patch line is missing, so refuse."""
    other = C_UPSTREAM.replace('\t\tfatal_f("string too long");\n', "\t\treturn NULL;\n")
    refused(resolve(tmp_path, "misc.c", C_BASE, other, C_PATCH), "upstream's side lacks a line the patch adds")


def test_c_upstream_still_has_a_removed_line_is_refused(tmp_path: Path) -> None:
    """The patch removes a line upstream still has in the region: upstream does not have the change."""
    kept = C_UPSTREAM.replace("\tlen++;\n", "\tlen++;\n\tlen = strlen(str) + 1;\n")
    refused(resolve(tmp_path, "misc.c", C_BASE, kept, C_PATCH), "upstream's side still has a line the patch removes")


def test_c_pure_deletion_is_refused(tmp_path: Path) -> None:
    """A patch that only deletes lines proves nothing about upstream's rewrite of them."""
    theirs = C_BASE.replace("\tlen = strlen(str) + 1;\n", "")
    ours = C_BASE.replace("\tlen = strlen(str) + 1;\n", "\tlen = strnlen(str, MAX) + 1;\n")
    refused(resolve(tmp_path, "misc.c", C_BASE, ours, theirs), "the patch adds no line with a word in it")


def test_c_braces_only_are_refused(tmp_path: Path) -> None:
    """Lines without a letter or digit (a brace) are no evidence: an added brace alone is refused."""
    base = "int f(int x)\n{\n\treturn x;\n}\n"
    theirs = "int f(int x)\n{\n\t{\n\treturn x;\n}\n"
    ours = "int f(int x)\n{\n\t{\n\treturn x + 1;\n}\n"
    refused(resolve(tmp_path, "f.c", base, ours, theirs), "the patch adds no line with a word in it")


PY_BASE = """def save_checkpoint(iteration, model, optimizer):
    state = model.state_dict()
    torch.save(state, path_for(iteration))
    return state
"""
PY_PATCH = PY_BASE.replace(
    "    torch.save(state, path_for(iteration))\n",
    "    ensure_directory_exists(path_for(iteration))\n    torch.save(state, path_for(iteration))\n",
)
PY_UPSTREAM = PY_BASE.replace(
    "    state = model.state_dict()\n    torch.save(state, path_for(iteration))\n",
    "    state = model.state_dict()\n    with timers('save'):\n"
    "        ensure_directory_exists(path_for(iteration))\n        torch.save(state, path_for(iteration))\n",
)


def test_python_upstream_took_the_line_inside_a_new_block(tmp_path: Path) -> None:
    """The patch's added call is in upstream's side, re-indented under a new ``with``: upstream's side."""
    fr = resolve(tmp_path, "megatron/training/checkpointing.py", PY_BASE, PY_UPSTREAM, PY_PATCH)
    assert fr.resolved and fr.rules == ("carried",)
    assert fr.text == PY_UPSTREAM.encode()


def test_python_a_second_copy_is_refused(tmp_path: Path) -> None:
    """Counts matter: the patch adds a second ``torch.save``; upstream's side has only one."""
    theirs = PY_BASE.replace(
        "    torch.save(state, path_for(iteration))\n",
        "    torch.save(state, path_for(iteration))\n    torch.save(state, path_for(iteration))\n",
    )
    ours = PY_BASE.replace(
        "    torch.save(state, path_for(iteration))\n",
        "    with timers('save'):\n        torch.save(state, path_for(iteration))\n",
    )
    refused(resolve(tmp_path, "ckpt.py", PY_BASE, ours, theirs), "upstream's side lacks a line the patch adds")


CU_BASE = """__global__ void scale_kernel(float *out, const float *in, float s, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = in[i] * s;
}
"""
CU_PATCH = CU_BASE.replace("    out[i] = in[i] * s;\n", "    if (i >= n) return;\n    out[i] = in[i] * s;\n")
CU_UPSTREAM = CU_BASE.replace(
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n    out[i] = in[i] * s;\n",
    "    const int i = blockIdx.x * blockDim.x + threadIdx.x;\n    if (i >= n) return;\n    out[i] = __fmul_rn(in[i], s);\n",
)


def test_cuda_bounds_check_upstream_took(tmp_path: Path) -> None:
    """The patch's bounds check is in upstream's rewritten kernel: upstream's side."""
    fr = resolve(tmp_path, "csrc/scale.cu", CU_BASE, CU_UPSTREAM, CU_PATCH)
    assert fr.resolved and fr.rules == ("carried",)
    assert fr.text == CU_UPSTREAM.encode()


def test_cuda_rewrite_without_the_check_is_refused(tmp_path: Path) -> None:
    """Upstream rewrote the kernel but has no bounds check: the patch's line is missing, refuse."""
    ours = CU_UPSTREAM.replace("    if (i >= n) return;\n", "")
    refused(resolve(tmp_path, "csrc/scale.cu", CU_BASE, ours, CU_PATCH), "upstream's side lacks a line the patch adds")


# --------------------------------------------------------------------------- in the replay

P_CVE = ("0001-CVE-2025-61985.patch", "Check the length in xstrdup", "", {"misc.c": C_PATCH.encode()})


def _workspace(tmp_path: Path) -> object:
    up = tmp_path / "upstream"
    make_repo(up, {"misc.c": C_BASE.encode()}, [("xstrdup: check the length; rename cp", {"misc.c": C_UPSTREAM.encode()}, "v2")])
    return make_ws(tmp_path, up, "v1", [P_CVE])


def test_replay_reports_a_carried_patch_as_already_upstream(tmp_path: Path) -> None:
    """git conflicts, quilt's reverse-apply fails (upstream reworded), the rule proves it: ``upstreamed``."""
    ws = _workspace(tmp_path)
    r = pull_upstream.run(ws, "minillm", "v2", stop=False)  # type: ignore[arg-type]
    o = r.report.patches[0]
    assert str(o.status) == "upstreamed" and o.upstream_how == "carried"
    assert [(a.rule, a.path) for a in o.resolutions] == [("carried", "misc.c")]
    assert r.report.summary == "1 patch: 0 clean, 1 upstreamed, 0 conflicts"
    assert (ws.root / "third_party/minillm/misc.c").read_bytes() == C_UPSTREAM.encode()  # type: ignore[attr-defined]


def test_cli_drop_upstreamed_drops_a_carried_patch(tmp_path: Path) -> None:
    """``--drop-upstreamed`` drops it from the series; the text report says why."""
    from click.testing import CliRunner

    from fspatch.cli import main_group

    ws = _workspace(tmp_path)
    root = ws.root  # type: ignore[attr-defined]
    res = CliRunner().invoke(
        main_group, ["-C", str(root), "pull-upstream", "minillm", "v2", "--no-stop", "--drop-upstreamed"]
    )
    assert res.exit_code == 0, res.output
    assert "already upstream" in res.output and "carried" in res.output
    assert "0001-CVE-2025-61985.patch" not in (root / "series/minillm/series").read_text()
