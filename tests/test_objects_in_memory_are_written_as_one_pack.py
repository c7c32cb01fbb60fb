"""Objects a replay writes are kept in memory and written out as one pack git reads.

``GitRepo.objects_in_memory`` (the replay and every stack build run inside it) replaces
~1,700 loose object writes of a Megatron-LM replay by one pack.  What must hold: inside,
every object written reads back (full and abbreviated ids) and nothing loose is written;
a ref moved inside names objects already on disk; at the end the pack is valid for git
itself (``fsck --full --strict``, ``verify-pack``, ``cat-file``) and for a new handle; few
objects are written loose as before; objects that exist are not written again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fspatch import git_adapter
from fspatch.git_adapter import MODE_EXEC, MODE_FILE, Entry, GitRepo, Person
from tests.gitutil import git

WHEN = Person("T", "t@x", 1_700_000_000, 60)


def _repo(tmp_path: Path) -> tuple[Path, GitRepo]:
    path = tmp_path / "r"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("hello\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "first")
    return path, GitRepo.open(path)


def _loose(path: Path) -> set[str]:
    objects = path / ".git" / "objects"
    return {d.name + f.name for d in objects.iterdir() if len(d.name) == 2 for f in d.iterdir()}


def _packs(path: Path) -> list[Path]:
    return sorted((path / ".git" / "objects" / "pack").glob("*.pack"))


def _write_stack(repo: GitRepo, n: int, salt: str = "") -> tuple[str, dict[str, Entry]]:
    """n blobs (one large, one executable, one empty) in nested directories, a tree and a commit."""
    head = repo.head()
    assert head is not None
    files: dict[str, Entry] = {}
    for i in range(n):
        data = (f"{salt}line {i}\n" * (i + 1)).encode() if i else b""
        if i == 1:
            data = salt.encode() + bytes(range(256)) * 4096  # 1 MiB, binary: a size of several varint bytes
        files[f"d{i % 3}/sub{i % 5}/f{i}.txt"] = Entry(repo.write_blob(data), MODE_EXEC if i == 2 else MODE_FILE)
    tree = repo.update_tree(repo.tree_of(head), files)
    return repo.create_commit(tree, [head], f"stack {salt}\n", WHEN, WHEN), files


def test_a_replay_sized_write_is_one_pack_git_checks_clean(tmp_path: Path) -> None:
    path, repo = _repo(tmp_path)
    before = _loose(path)
    with repo.objects_in_memory():
        commit, files = _write_stack(repo, 80)
        assert _loose(path) == before and not _packs(path)  # nothing on disk yet
        assert repo.read_blob(files["d2/sub2/f2.txt"].id) == b"line 2\n" * 3
        assert repo.entry(repo.tree_of(commit), "d2/sub2/f2.txt") == files["d2/sub2/f2.txt"]
        assert repo.commit_by_prefix(commit[:10]) == commit
        assert repo.resolve(commit[:12]) == commit
    assert _loose(path) == before
    (pack,) = _packs(path)
    assert pack.with_suffix(".idx").is_file()
    git(path, "update-ref", "refs/heads/stack", commit)
    git(path, "fsck", "--full", "--strict", "--no-dangling")
    verify = git(path, "verify-pack", "-v", str(pack.with_suffix(".idx"))).decode()
    assert f"non delta: {80 + 1 + 3 + 15 + 1}" in verify  # blobs, root, d0-d2, 15 subN, the commit
    for p, e in files.items():
        assert git(path, "rev-parse", f"stack:{p}").decode().strip() == e.id
    assert git(path, "cat-file", "-s", files["d1/sub1/f1.txt"].id).strip() == b"1048576"
    # the same handle and a new one read it all from the pack
    for r in (repo, GitRepo.open(path)):
        assert r.read_blob(files["d1/sub1/f1.txt"].id) == bytes(range(256)) * 4096
        assert r.commit_info(commit).message == "stack \n"


def test_objects_that_exist_are_not_written_again(tmp_path: Path) -> None:
    path, repo = _repo(tmp_path)
    with repo.objects_in_memory():
        commit, _ = _write_stack(repo, 80)
    packs = _packs(path)
    with repo.objects_in_memory():
        again, _ = _write_stack(repo, 80)
    assert again == commit
    assert _packs(path) == packs


def test_a_few_objects_are_written_loose_as_before(tmp_path: Path) -> None:
    path, repo = _repo(tmp_path)
    before = _loose(path)
    with repo.objects_in_memory():
        commit, files = _write_stack(repo, 5)
        assert _loose(path) == before
    assert not _packs(path)
    assert {commit, *(e.id for e in files.values())} <= _loose(path)
    git(path, "update-ref", "refs/heads/stack", commit)
    git(path, "fsck", "--full", "--strict", "--no-dangling")


def test_a_ref_moved_inside_names_objects_already_on_disk(tmp_path: Path) -> None:
    path, repo = _repo(tmp_path)
    with repo.objects_in_memory():
        commit, files = _write_stack(repo, 80)
        repo.update_ref("refs/heads/stack", commit, None, "test")
        # another process (git itself) sees the ref and everything it names
        git(path, "fsck", "--full", "--strict", "--no-dangling")
        later = repo.write_blob(b"written after the ref\n")
        assert repo.read_blob(later) == b"written after the ref\n"
        assert repo.read_blob(files["d0/sub0/f0.txt"].id) == b""  # read back from the pack now
    assert git(path, "cat-file", "-p", later) == b"written after the ref\n"


def test_nested_scopes_write_once_at_the_outermost_end(tmp_path: Path) -> None:
    path, repo = _repo(tmp_path)
    with repo.objects_in_memory():
        with repo.objects_in_memory():
            commit, _ = _write_stack(repo, 80)
        assert not _packs(path)
        repo.write_blob(b"one more\n")
    assert len(_packs(path)) == 1
    git(path, "update-ref", "refs/heads/stack", commit)
    git(path, "fsck", "--full", "--strict", "--no-dangling")


def test_an_error_inside_still_writes_what_was_kept(tmp_path: Path) -> None:
    path, repo = _repo(tmp_path)
    kept = ""
    with pytest.raises(RuntimeError), repo.objects_in_memory():
        kept = repo.write_blob(b"kept\n")
        raise RuntimeError("boom")
    assert git(path, "cat-file", "-p", kept) == b"kept\n"


def test_a_pull_upstream_with_every_write_packed_is_git_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's v1.0 -> v1.1 (a stop, a resolution, continue) with every write packed: git checks it clean."""
    from fspatch.commands import apply as apply_cmd
    from fspatch.commands import pull_upstream, resolve
    from fspatch.core.workspace import Workspace
    from scripts.example import common_patches, make_upstream
    from tests.rebase_helpers import make_ws
    from tests.test_pull_upstream import _resolve_cu

    monkeypatch.setattr(git_adapter, "_PACK_AT_LEAST", 1)
    up = tmp_path / "upstream"
    make_upstream(up)
    ws = make_ws(tmp_path, up, "v1.0", common_patches())
    checkout = ws.root / "third_party/minillm"
    packs = set(_packs(checkout))
    r = pull_upstream.run(ws, "minillm", "v1.1")
    assert r.stopped
    git(checkout, "fsck", "--full", "--strict")
    _resolve_cu(ws)
    assert resolve.run_continue(ws).report.finished
    assert set(_packs(checkout)) > packs
    git(checkout, "fsck", "--full", "--strict")
    assert git(checkout, "status", "--porcelain") == b""
    head = GitRepo.open(checkout).head()
    assert apply_cmd.run(Workspace.load(ws.root), "minillm").head == head


def test_a_failed_write_out_is_one_line_and_gives_the_handle_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fspatch.errors import GitError

    path, repo = _repo(tmp_path)
    outside = repo._repo

    def full(objects_dir: Path, objects: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(git_adapter, "_write_pack", full)
    with pytest.raises(GitError, match="git could not write: No space left on device"), repo.objects_in_memory():
        _write_stack(repo, 80)
    assert repo._repo is outside and repo._memory is None
    assert repo.read_blob(repo.write_blob(b"after\n")) == b"after\n"  # loose, as without the scope
