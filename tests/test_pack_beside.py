"""A bot replay with conflicts packs its new objects in a forked child beside finalize.

After the replay the objects it made (the rewritten patches' commits, trees, merged blobs)
are deflated into one pack; a bot run that leaves conflicts then writes only workspace files,
so ``GitRepo.pack_beside`` hands the pack to a child and the objects stay readable in memory
until it is reaped.  It must change nothing but time: the same report, workspace files and
repository objects as writing the pack in the process (``FSPATCH_PACK_BESIDE=0``), also when
the child is killed before it writes (the parent then writes them itself), and the small trees
a diff is run on are never written at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.git_adapter import GitRepo
from tests.rebase_helpers import lines, make_repo, make_ws, text

FSPATCH = Path(sys.executable).with_name("fspatch")
N = 30  # patches: enough new objects (blob, trees, commit each) for a pack


def _files() -> dict[str, bytes]:
    out = {}
    for k in range(N):
        ext = ("py", "cc", "cu")[k % 3]
        out[f"src/m{k:02d}/part{k:02d}.{ext}"] = text(lines(40, f"f{k}"))
    return out


def _workspace(tmp: Path) -> Path:
    """Upstream v1 -> v2 changes line 5 of the first file and adds a file; a patch per file on v1."""
    base = _files()
    first = next(iter(base))
    body = lines(40, "f0")
    make_repo(tmp / "up", base, [
        ("Rework f0 line 5 (#12)", {first: text(body[:4] + ["upstream 5\n"] + body[5:])}, None),
        ("Add docs", {"docs/new.md": b"new\n"}, "v2"),
    ])
    patches = []
    for k, path in enumerate(base):
        ls = lines(40, f"f{k}")
        patches.append((f"{k + 1:04d}-part{k:02d}.patch", f"Change part {k}", "d",
                        {path: text(ls[:4] + [f"ours {k}\n"] + ls[5:])}))
    return make_ws(tmp, tmp / "up", "v1", patches).root


def _objects(repo_dir: Path) -> list[str]:
    out = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"],
                         cwd=repo_dir, capture_output=True, check=True, text=True).stdout
    return sorted(out.splitlines())


def _loose(repo_dir: Path) -> int:
    out = subprocess.run(["git", "count-objects"], cwd=repo_dir, capture_output=True, check=True, text=True).stdout
    return int(out.split()[0])


def _state(root: Path) -> tuple[dict[str, bytes], list[str], int]:
    backend = root / "third_party" / "minillm"
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and "third_party" not in p.relative_to(root).parts}
    return files, _objects(backend), _loose(backend)


def _bot_run(root: Path, **env: str) -> dict[str, object]:
    e = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", **env)
    p = subprocess.run([str(FSPATCH), "-C", str(root), "pull-upstream", "minillm", "v2", "--no-stop",
                        "--format", "json"], capture_output=True, env=e, check=False)
    assert p.returncode == 1, p.stderr.decode()
    report: dict[str, object] = json.loads(p.stdout)["report"]
    return report


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the pack is written by a forked child")
def test_packed_beside_inline_or_after_a_killed_child_the_result_is_the_same(tmp_path: Path) -> None:
    """The installed fspatch three ways on copies of one workspace: same report, files and objects."""
    root = _workspace(tmp_path)
    before = _objects(root / "third_party" / "minillm")
    runs = {}
    for how, env in (("beside", {}), ("inline", {"FSPATCH_PACK_BESIDE": "0"}),
                     ("killed", {"FSPATCH_CRASH_AT": "pack-beside"})):
        copy = tmp_path / f"ws-{how}"
        shutil.copytree(root, copy, symlinks=True)
        runs[how] = (_bot_run(copy, **env), _state(copy))
    assert runs["beside"] == runs["inline"] == runs["killed"]
    report, (_files_, objects, loose) = runs["beside"]
    by = {p["patch"]: p["status"] for p in report["patches"]}  # type: ignore[attr-defined]
    assert by["0001-part00.patch"] == "conflict"
    assert sum(s == "clean" for s in by.values()) == N - 1
    new = set(objects) - set(before)
    assert sum(o.endswith(" commit") for o in new) == N - 1  # the rewritten patches' commits are kept
    assert loose == _loose(root / "third_party" / "minillm")  # all of them in the one pack


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the pack is written by a forked child")
def test_the_pack_is_started_beside_and_its_child_reaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: pack_beside forks once, after the replay, and no child is left when the verb ends."""
    root = _workspace(tmp_path)
    started: list[bool] = []
    real = GitRepo.pack_beside

    def spy(self: GitRepo) -> bool:
        got = real(self)
        started.append(got)
        return got

    monkeypatch.setattr(GitRepo, "pack_beside", spy)
    monkeypatch.delenv("FSPATCH_PACK_BESIDE", raising=False)
    monkeypatch.setenv("FSPATCH_READ_AHEAD", "0")  # only the pack's child
    result = CliRunner().invoke(main_group, ["-C", str(root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert result.exit_code == 1, result.output
    assert started == [True]
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # reaped: no child of this process is left


def test_a_clean_replay_writes_its_pack_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No conflict: the checkout needs the objects on disk first, so nothing is forked for them."""
    root = _workspace(tmp_path)
    # Drop the conflicting patch: the rest replays cleanly and is checked out.
    series = root / "series" / "minillm" / "series"
    series.write_text("".join(x + "\n" for x in series.read_text().splitlines() if "0001-" not in x))
    (root / "series" / "minillm" / "0001-part00.patch").unlink()
    assert CliRunner().invoke(main_group, ["-C", str(root), "apply", "minillm", "--force"]).exit_code == 0
    calls: list[bool] = []
    real = GitRepo.pack_beside

    def counted(self: GitRepo) -> bool:
        calls.append(True)
        return real(self)

    monkeypatch.setattr(GitRepo, "pack_beside", counted)
    result = CliRunner().invoke(main_group, ["-C", str(root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert result.exit_code == 0, result.output
    assert calls == []
