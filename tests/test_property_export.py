"""Property: export then apply gives the vendor tree, for random vendor edits (issue 8).

For random edits made on top of the common layer (insertions, deletions, replacements,
new and deleted files, in Python, C++ and CUDA files), refreshed into a vendor patch and
exported, `git apply` of the exported diff.patch on upstream+common yields exactly the
tree of the vendor stack.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fspatch.commands import apply as apply_cmd
from fspatch.commands import delete as delete_cmd
from fspatch.commands import export as export_cmd
from fspatch.commands import new as new_cmd
from fspatch.commands import refresh as refresh_cmd
from fspatch.commands import vendor as vendor_cmd
from fspatch.core.stack import load_state
from fspatch.git_adapter import GitRepo
from scripts.example import git
from tests.wsutil import WS, make_workspace

FILES = ["minillm/model_runner.py", "csrc/ops.cpp", "csrc/kernels/rmsnorm.cu", "README.md"]
line = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(lambda s: s + "\n")
edit = st.one_of(
    st.tuples(st.just("insert"), st.sampled_from(FILES), st.integers(0, 40), st.lists(line, min_size=1, max_size=4)),
    st.tuples(st.just("delete"), st.sampled_from(FILES), st.integers(0, 40), st.integers(1, 3)),
    st.tuples(st.just("replace"), st.sampled_from(FILES), st.integers(0, 40), st.lists(line, min_size=1, max_size=3)),
    st.tuples(st.just("add"), st.sampled_from(["minillm/npu.py", "csrc/npu.cu"]), st.just(0), st.lists(line, max_size=5)),
    st.tuples(st.just("remove"), st.sampled_from(["csrc/ops.h", "assets/logo.bin"]), st.just(0), st.just(0)),
)


def _apply_edit(co: Path, e: tuple) -> None:  # type: ignore[type-arg]
    kind, rel, at, arg = e
    path = co / rel
    if kind == "add":
        path.write_text("".join(arg))
        return
    if kind == "remove":
        path.unlink(missing_ok=True)
        return
    if not path.exists():
        return
    lines = path.read_text().split("\n")
    at = min(at, len(lines))
    if kind == "insert":
        lines[at:at] = [x.rstrip("\n") for x in arg]
    elif kind == "delete":
        del lines[at : at + arg]
    else:
        lines[at : at + len(arg)] = [x.rstrip("\n") for x in arg]
    path.write_text("\n".join(lines))


def _setup(tmp: Path) -> WS:
    w = make_workspace(tmp)
    vendor_cmd.run_add(w.ws(), "acme", device_type="Acme_NPU", contact="npu@acme.example")
    vendor_cmd.run_layer(w.ws(), "acme", "minillm", tasks=("inference",), models=())
    git(w.root, "init", "-q")
    (w.root / ".gitignore").write_text("third_party/\n")
    git(w.root, "add", "-A")
    git(w.root, "commit", "-q", "-m", "workspace", date=1_700_000_000)
    apply_cmd.run(w.ws(), "minillm", vendor="acme")
    return w


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(edit, min_size=1, max_size=5))
def test_export_then_apply_gives_the_vendor_tree(tmp_path_factory, edits) -> None:  # type: ignore[no-untyped-def]
    """git apply of the exported diff.patch on upstream+common == the vendor stack's tree."""
    w = _setup(tmp_path_factory.mktemp("prop"))
    new_cmd.run(w.ws(), "minillm", "npu", message="NPU changes", vendor="acme")
    for e in edits:
        _apply_edit(w.checkout, e)
    refresh_cmd.run(w.ws(), "minillm", vendor="acme")
    export_cmd.run(w.ws(), "minillm", vendor="acme")
    repo = GitRepo.open(w.checkout)
    state, _ = load_state(repo)
    assert state is not None
    common_top, vendor_top = state.layers[0].top, state.layers[-1].top
    diff = w.root / "vendors/acme/minillm/diff.patch"
    env = dict(os.environ, GIT_INDEX_FILE=str(w.root / "probe.index"))

    def run(*a: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", *a], cwd=w.checkout, env=env, check=True, capture_output=True)

    run("read-tree", common_top)
    if diff.read_bytes():
        run("apply", "--cached", "--binary", str(diff))
    got = run("write-tree").stdout.decode().strip()
    assert got == str(pygit2.Repository(str(w.checkout))[vendor_top].peel(pygit2.Commit).tree_id)
    delete_cmd.run(w.ws(), "minillm", "0001", vendor="acme")
