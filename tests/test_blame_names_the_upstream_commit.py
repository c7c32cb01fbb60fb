"""blame credits each upstream line to the upstream commit that last changed it (issue 16, item 12).

The upstream here has a real history: a file created, edited, edited on a side branch merged with
``--no-ff``, renamed with an edit, then an unrelated commit at the pin.  ``git blame`` of the
pinned commit is the oracle for the upstream lines; the workspace's patch still owns its lines.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fspatch.git_adapter import GitRepo
from scripts.example import git, write_tree
from tests.wsutil import WS, make_workspace

V1 = b"""\
import torch


def attention(q, k, v):
    scores = q @ k.transpose(-2, -1)
    probs = scores.softmax(-1)
    return probs @ v


def mlp(x, w1, w2):
    return torch.relu(x @ w1) @ w2
"""


def _commit(up: Path, message: str, files: dict[str, bytes | None], date: int) -> str:
    write_tree(up, files)
    git(up, "add", "-A")
    git(up, "commit", "-q", "-m", message, date=date)
    return git(up, "rev-parse", "HEAD").strip()


def _upstream(tmp: Path) -> tuple[Path, dict[str, str]]:
    up = tmp / "upstream"
    up.mkdir()
    git(up, "init", "-q", "-b", "main")
    c: dict[str, str] = {}
    c["create"] = _commit(up, "Add attention and mlp", {"tiny/ops.py": V1, "README.md": b"# tiny\n"}, 1_700_000_000)
    v2 = V1.replace(b"    probs = scores.softmax(-1)\n", b"    probs = (scores / q.shape[-1] ** 0.5).softmax(-1)\n")
    c["scale"] = _commit(up, "Scale attention scores", {"tiny/ops.py": v2}, 1_700_000_100)
    git(up, "checkout", "-q", "-b", "gelu", c["scale"])
    v3 = v2.replace(b"torch.relu(x @ w1)", b"torch.nn.functional.gelu(x @ w1)")
    c["gelu"] = _commit(up, "Use GELU in the MLP", {"tiny/ops.py": v3}, 1_700_000_200)
    git(up, "checkout", "-q", "main")
    c["docs"] = _commit(up, "Document tiny", {"README.md": b"# tiny\n\nTiny ops.\n"}, 1_700_000_300)
    git(up, "merge", "-q", "--no-ff", "-m", "Merge branch 'gelu'", "gelu", date=1_700_000_400)
    c["merge"] = git(up, "rev-parse", "HEAD").strip()
    git(up, "mv", "tiny/ops.py", "tiny/layers.py")
    v4 = v3.replace(b"import torch\n", b"import torch  # noqa: F401\n")
    c["rename"] = _commit(up, "Move ops to layers", {"tiny/layers.py": v4}, 1_700_000_500)
    c["pin"] = _commit(up, "Unrelated change", {"README.md": b"# tiny\n\nTiny ops for tests.\n"}, 1_700_000_600)
    git(up, "tag", "v1.0")
    return up, c


def _git_blame(repo: Path, commit: str, path: str) -> list[str]:
    out = subprocess.run(
        ["git", "blame", "--porcelain", commit, "--", path], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    return [
        line.split(" ")[0]
        for line in out.split("\n")
        if line[:1] != "\t" and len(line.split(" ")[0]) == 40 and len(line.split(" ")) >= 3
    ]


def _workspace(tmp: Path) -> tuple[WS, dict[str, str]]:
    up, commits = _upstream(tmp)
    w = make_workspace(tmp, patches=False, upstream=up)
    assert w.cli("apply", "minillm").exit_code == 0
    r = w.cli("new", "mlu-attention", "-m", "Run attention on the MLU")
    assert r.exit_code == 0, r.output
    f = w.checkout / "tiny/layers.py"
    f.write_text(
        f.read_text().replace(
            "    return probs @ v\n",
            "    # --- FLAGSCALE MODIFICATION BEG ---\n    probs = probs.to('mlu')\n"
            "    # --- FLAGSCALE MODIFICATION END ---\n    return probs @ v\n",
        )
    )
    assert w.cli("refresh").exit_code == 0
    return w, commits


def test_adapter_blame_agrees_with_git_blame_through_merge_and_rename(tmp_path: Path) -> None:
    """GitRepo.blame gives git blame's commit for every line, across a --no-ff merge and a rename."""
    up, c = _upstream(tmp_path)
    got = GitRepo.open(up).blame(c["pin"], "tiny/layers.py")
    assert got == _git_blame(up, c["pin"], "tiny/layers.py")
    assert set(got) == {c["create"], c["scale"], c["gelu"], c["rename"]}  # the side-branch commit, not the merge
    assert got[0] == c["rename"] and got[5] == c["scale"] and got[10] == c["gelu"]


def test_cli_blame_names_the_upstream_commit_of_each_line(tmp_path: Path) -> None:
    """fspatch blame: upstream lines name the commit that last changed them; the patch keeps its lines."""
    w, c = _workspace(tmp_path)
    r = w.cli("blame", "tiny/layers.py")
    assert r.exit_code == 0, r.output
    owners = {line.split("  ", 2)[2].strip(): line.split("  ", 2)[1].strip() for line in r.output.splitlines()}
    assert owners["import torch  # noqa: F401"] == f"upstream {c['rename'][:12]}"
    assert owners["probs = (scores / q.shape[-1] ** 0.5).softmax(-1)"] == f"upstream {c['scale'][:12]}"
    assert owners["return torch.nn.functional.gelu(x @ w1) @ w2"] == f"upstream {c['gelu'][:12]}"
    assert owners["def attention(q, k, v):"] == f"upstream {c['create'][:12]}"
    assert owners["probs = probs.to('mlu')"] == "common/0001-mlu-attention.patch"
    assert f"upstream {c['pin'][:12]}" not in r.output  # the pin changed only the README


def test_blame_json_lists_each_upstream_commit_with_its_subject(tmp_path: Path) -> None:
    """JSON owners: one per upstream commit (with subject) in line order, then the patches; counts add up."""
    w, c = _workspace(tmp_path)
    r = w.cli("blame", "tiny/layers.py", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert (data["format"], data["version"]) == ("fspatch/blame", 1)
    ups = [(o["commit"], o["subject"]) for o in data["owners"] if o["kind"] == "upstream"]
    assert ups == [
        (c["rename"], "Move ops to layers"),
        (c["create"], "Add attention and mlp"),
        (c["scale"], "Scale attention scores"),
        (c["gelu"], "Use GELU in the MLP"),
    ]
    assert sum(data["counts"].values()) == len(data["lines"]) == 14
