"""Property tests (issue 8): the parser and the engine only ever raise fspatch's own errors, and
apply-then-refresh is the identity.

Why hypothesis here: hand-written cases cover the inputs we thought of; these generate trees, edits
and byte mutations we did not, in a real git repository, and compare fspatch with git itself.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fspatch.cli import main_group
from fspatch.core.patch import parse_patch
from fspatch.core.stack import apply_files
from fspatch.errors import FspatchError
from fspatch.git_adapter import GitRepo
from scripts.example import common_patches, git, make_series, make_upstream
from tests.wsutil import write_patches

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------- the parser and the engine


@pytest.fixture(scope="module")
def real_patches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitRepo, str, list[bytes]]]:
    """The example's upstream repo, its v1.0 tree, and its real patches plus a binary one."""
    base = tmp_path_factory.mktemp("props")
    up = base / "upstream"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        mp.setenv("HOME", str(base))
        make_upstream(up)
        out = base / "series"
        make_series(up, "v1.0", out, common_patches())

        def add_binary(root: Path) -> None:
            (root / "assets" / "logo.bin").write_bytes(bytes(range(256)) * 3)

        write_patches(up, "v1.0", base / "bin", [("0001-bin.patch", "Binary", add_binary)])
    patches = [p.read_bytes() for p in sorted(out.glob("*.patch"))] + [(base / "bin" / "0001-bin.patch").read_bytes()]
    repo = GitRepo.open(up)
    commit = repo.resolve("v1.0")
    assert commit is not None
    yield repo, repo.tree_of(commit), patches


def _parse_and_apply(repo: GitRepo, tree: str, data: bytes) -> None:
    """Parse, then apply to the upstream tree in memory: anything may fail, but only as an FspatchError."""
    try:
        patch = parse_patch(data, "fuzz.patch")
        apply_files(repo, tree, patch.files)
    except FspatchError:
        pass


@FAST
@given(st.binary(max_size=2000))
def test_parser_raises_only_fspatch_errors_on_arbitrary_bytes(data: bytes) -> None:
    """parse_patch on any bytes returns a Patch or raises an FspatchError subclass, nothing else."""
    with contextlib.suppress(FspatchError):
        parse_patch(data, "fuzz.patch")


_OPS = st.lists(
    st.tuples(st.sampled_from("dxirtbsc"), st.integers(0, 1 << 16), st.binary(max_size=12)), min_size=1, max_size=5
)


@FAST
@given(st.integers(0, 3), _OPS)
def test_mutated_real_patches_only_raise_fspatch_errors_when_parsed_and_applied(
    real_patches: tuple[GitRepo, str, list[bytes]], which: int, edits: list[tuple[str, int, bytes]]
) -> None:
    """Lines/bytes of real patches deleted, duplicated, inserted, replaced, truncated, CRLF'd or
    number-bumped: parsing and applying them raises only fspatch's own errors."""
    repo, tree, patches = real_patches
    data = patches[which % len(patches)]
    for op, at, payload in edits:
        lines = data.split(b"\n")
        k = at % max(len(lines), 1)
        if op == "d":
            del lines[k]
        elif op == "x":
            lines.insert(k, lines[k])
        elif op == "i":
            lines.insert(k, payload)
        elif op == "r":
            lines[k] = payload
        elif op == "c":
            lines[k] = lines[k] + b"\r"
        elif op == "s" and lines[k].startswith(b"@@"):
            lines[k] = lines[k].replace(b",", b",1", 1)
        data = b"\n".join(lines)
        if op == "t":
            data = data[: at % (len(data) + 1)]
        elif op == "b":
            pos = at % (len(data) + 1)
            data = data[:pos] + payload + data[pos + len(payload) :]
    _parse_and_apply(repo, tree, data)


# --------------------------------------------------------------------------- apply then refresh

_NAMES = ["a.txt", "b.py", "src/c.c", "src/deep/d.h", "e.md"]
_LINE = st.sampled_from([b"alpha", b"beta", b"gamma", b"", b"    indent", b"tab\there", b"crlf\r", b"x = 1", b"}"])
_CONTENT = st.tuples(st.lists(_LINE, max_size=12), st.booleans()).map(
    lambda t: b"\n".join(t[0]) + (b"\n" if t[1] and t[0] else b"")
)
_LINE_EDIT = st.tuples(st.sampled_from(["ins", "del", "rep"]), st.integers(0, 99), _LINE)
_EDIT = st.one_of(
    st.tuples(st.just("modify"), st.integers(0, 99), st.lists(_LINE_EDIT, min_size=1, max_size=4)),
    st.tuples(st.just("add"), st.sampled_from(["new.txt", "src/new.c", "n/e/w.py", "b.py.orig"]), _CONTENT),
    st.tuples(st.just("delete"), st.integers(0, 99), st.just(b"")),
    st.tuples(st.just("chmod"), st.integers(0, 99), st.just(b"")),
)  # fmt: skip
_TREE = st.dictionaries(st.sampled_from(_NAMES), _CONTENT, min_size=1, max_size=5)
_STEPS = st.lists(st.lists(_EDIT, min_size=1, max_size=4), min_size=1, max_size=3)


def _files(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file under root except .git: bytes and the executable bit."""
    out = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            p = Path(folder, name)
            out[p.relative_to(root).as_posix()] = (p.read_bytes(), bool(p.stat().st_mode & stat.S_IXUSR))
    return out


def _edit(root: Path, edits: list[tuple[str, object, object]]) -> None:
    """Apply generated edits to a directory tree (the scratch clone, or the checkout)."""
    for kind, where, what in edits:
        existing = sorted(_files(root))
        if kind == "add":
            assert isinstance(where, str) and isinstance(what, bytes)
            target = root / where
            if target.exists() or any(e.startswith(where + "/") for e in existing):
                continue
            if any(where.startswith(e + "/") for e in existing):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(what)
            continue
        if not existing:
            continue
        assert isinstance(where, int)
        path = root / existing[where % len(existing)]
        if kind == "delete":
            path.unlink()
        elif kind == "chmod":
            path.chmod(path.stat().st_mode ^ 0o111)
        else:
            assert isinstance(what, list)
            lines = path.read_bytes().split(b"\n")
            for op, at, line in what:
                k = at % (len(lines) + 1)
                if op == "ins":
                    lines.insert(k, line)
                elif op == "del" and lines:
                    del lines[k % len(lines)]
                elif lines:
                    lines[k % len(lines)] = line
            path.write_bytes(b"\n".join(lines))


def _cli(root: Path, *args: str) -> str:
    r = CliRunner().invoke(main_group, ["-C", str(root), *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


Edits = list[tuple[str, object, object]]


def _workspace(tmp: Path, tree: dict[str, bytes], steps: list[Edits]) -> tuple[Path, list[str], list[str]]:
    """An upstream with ``tree``, a workspace 'mini' with one git-made patch per step, applied."""
    up = tmp / "up"
    up.mkdir()
    for name, data in tree.items():
        (up / name).parent.mkdir(parents=True, exist_ok=True)
        (up / name).write_bytes(data)
    git(up, "init", "-q")
    git(up, "add", "-A")
    git(up, "commit", "-q", "-m", "base", date=1_700_000_000)
    git(up, "tag", "v1")
    ws = tmp / "ws"
    _cli(tmp, "init", str(ws))
    _cli(ws, "backend", "add", "mini", "--url", str(up), "--ref", "v1")
    names = [f"{n + 1:04d}-step.patch" for n in range(len(steps))]
    plan = [
        (name, f"Step {n}", lambda root, e=edits: _edit(root, e))
        for n, (name, edits) in enumerate(zip(names, steps, strict=True))
    ]
    trees = write_patches(up, "v1", ws / "series" / "mini", plan)
    _cli(ws, "apply", "mini")
    return ws, names, trees


def _state(ws: Path) -> tuple[dict[str, bytes], str]:
    layer = ws / "series" / "mini"
    files = {p.name: p.read_bytes() for p in sorted(layer.iterdir()) if p.is_file()}
    checkout = ws / "third_party" / "mini"
    refs = git(checkout, "for-each-ref", "--format=%(refname) %(objectname)") + git(checkout, "rev-parse", "HEAD")
    return files, refs


@SLOW
@given(_TREE, _STEPS)
def test_apply_reproduces_git_and_refresh_without_edits_is_the_identity(
    tree: dict[str, bytes], steps: list[list[tuple[str, object, object]]]
) -> None:
    """Random git-made patches apply to git's exact tree; refreshing each with no edits changes no byte and no ref."""
    with tempfile.TemporaryDirectory() as tmp:
        ws, names, trees = _workspace(Path(tmp), tree, steps)
        checkout = ws / "third_party" / "mini"
        assert git(checkout, "rev-parse", "HEAD^{tree}").strip() == trees[-1]
        before = _state(ws)
        for name in reversed(names):
            _cli(ws, "refresh", name)
            assert _state(ws) == before, f"refresh {name} without edits changed something"


@SLOW
@given(_TREE, _STEPS, st.lists(_EDIT, min_size=1, max_size=4))
def test_refreshed_checkout_edit_reapplies_to_the_same_tree(
    tree: dict[str, bytes], steps: list[list[tuple[str, object, object]]], more: list[tuple[str, object, object]]
) -> None:
    """A random checkout edit, refreshed into the top patch, re-applies from the patch files to the same files."""
    with tempfile.TemporaryDirectory() as tmp:
        ws, _names, _trees = _workspace(Path(tmp), tree, steps)
        checkout = ws / "third_party" / "mini"
        _edit(checkout, more)
        _cli(ws, "refresh")
        edited = _files(checkout)
        out = Path(tmp) / "out"
        _cli(ws, "apply", "mini", "--to", str(out))
        assert _files(out) == edited
        # and the stack itself, rebuilt from the files, lands on the same tree as the checkout
        _cli(ws, "pop", "-a")
        _cli(ws, "push", "-a")
        assert _files(checkout) == edited
