"""Stacks: a layer's patches as commits in the backend repository, built in memory.

On-disk state, format version 1
-------------------------------
The state of a backend's stack lives in its own repository, never in ad-hoc
files of the workspace: ``refs/fspatch/state`` points to a *state commit*
whose tree holds one blob, ``state.json``::

    {"format": 1, "backend": "vllm", "upstream": "<40-hex>",
     "layers": [{"layer": "common", "base": "<40-hex>",
                 "applied": [{"name": "0001-x.patch", "commit": "<40-hex>"}, ...]},
                {"layer": "vendor/cambricon_mlu", "base": "<top of common>", "applied": [...]}]}

The state commit's only parent is the stack's top commit, so every patch commit
is reachable from a ref: ``git gc`` cannot lose it and a clone that fetches
``refs/fspatch/*`` gets it.  The ref's reflog keeps earlier states.

Stack commits are deterministic: author from the patch header, committer
``fspatch``, both dated at the upstream commit's time.  The same patch on the
same parent therefore always gives the same commit id, which is what makes a
no-edit refresh and a repeated ``apply`` true no-ops.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from fspatch.core.hunks import apply_binary, apply_hunks
from fspatch.core.patch import FileDiff, Patch
from fspatch.errors import ConflictError, GitError, HunkFailed, InputError, PathEscapeError
from fspatch.git_adapter import MODE_FILE, MODE_LINK, Entry, GitRepo, Person

STATE_REF = "refs/fspatch/state"
STATE_FORMAT = 1
COMMITTER = ("fspatch", "fspatch@localhost")
_AUTHOR = re.compile(r"^\s*(.*?)\s*<([^<>]*)>\s*$")


@dataclass(frozen=True)
class AppliedPatch:
    name: str
    commit: str


@dataclass(frozen=True)
class LayerState:
    layer: str  # "common" or "vendor/<name>"
    base: str
    applied: tuple[AppliedPatch, ...] = ()

    @property
    def top(self) -> str:
        return self.applied[-1].commit if self.applied else self.base

    def names(self) -> list[str]:
        return [p.name for p in self.applied]


@dataclass(frozen=True)
class StackState:
    backend: str
    upstream: str
    layers: tuple[LayerState, ...] = field(default_factory=tuple)

    @property
    def head(self) -> str:
        return self.layers[-1].top if self.layers else self.upstream

    def layer(self, label: str) -> LayerState | None:
        for layer in self.layers:
            if layer.layer == label:
                return layer
        return None

    def index_of(self, label: str) -> int:
        for i, layer in enumerate(self.layers):
            if layer.layer == label:
                return i
        return -1

    def with_layer(self, new: LayerState) -> StackState:
        """Replace (or append) a layer; layers above a replaced one are dropped."""
        i = self.index_of(new.layer)
        if i < 0:
            return replace(self, layers=self.layers + (new,))
        return replace(self, layers=self.layers[:i] + (new,))

    def to_json(self) -> bytes:
        data = {
            "format": STATE_FORMAT,
            "backend": self.backend,
            "upstream": self.upstream,
            "layers": [
                {
                    "layer": layer.layer,
                    "base": layer.base,
                    "applied": [{"name": p.name, "commit": p.commit} for p in layer.applied],
                }
                for layer in self.layers
            ],
        }
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> StackState:
        """Parse and validate ``state.json``; anything unexpected is a :class:`StateError`.

        Why validate: the state ref is found on disk (a clone, a CI cache, an attacker's
        workspace).  Its patch names become paths in the layer directory, so every field is
        checked for type and shape before one is used: names with ``..`` or control bytes,
        ids that are not hex, huge numbers and wrong types are all refused.
        """
        from fspatch.core.series import check_patch_name

        if len(raw) > 64 << 20:
            raise StateError("state.json is larger than any real stack")
        try:
            data = json.loads(raw, parse_int=_small_int)
        except (ValueError, RecursionError) as exc:
            raise StateError(f"state.json is not valid JSON ({str(exc)[:80]})") from None
        if not isinstance(data, dict):
            raise StateError("state.json is not a JSON object")
        if data.get("format") != STATE_FORMAT:
            raise StateError(f"unknown fspatch state format {str(data.get('format'))[:20]!r}; upgrade fspatch")
        backend, upstream, layers = data.get("backend"), data.get("upstream"), data.get("layers")
        if not isinstance(backend, str) or not _BACKEND.fullmatch(backend):
            raise StateError("state.json: 'backend' is not a backend name")
        _check_hex(upstream, "upstream")
        if not isinstance(layers, list):
            raise StateError("state.json: 'layers' is not a list")
        out: list[LayerState] = []
        for layer in layers:
            if not isinstance(layer, dict) or not isinstance(layer.get("applied"), list):
                raise StateError("state.json: a layer is not an object with an 'applied' list")
            label = layer.get("layer")
            if not isinstance(label, str) or not _LAYER.fullmatch(label):
                raise StateError(f"state.json: bad layer label {str(label)[:40]!r}")
            _check_hex(layer.get("base"), "base")
            applied: list[AppliedPatch] = []
            for p in layer["applied"]:
                if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                    raise StateError(f"state.json: an applied patch of {label} has no name")
                try:
                    check_patch_name(p["name"])
                except InputError as exc:
                    raise StateError(f"state.json: {exc.message}") from None
                _check_hex(p.get("commit"), "commit")
                applied.append(AppliedPatch(p["name"], p["commit"]))
            out.append(LayerState(label, layer["base"], tuple(applied)))
        return cls(backend=backend, upstream=str(upstream), layers=tuple(out))


class StateError(InputError):
    """``refs/fspatch/state`` is damaged; the message says how to start afresh."""


_BACKEND = re.compile(r"[a-z0-9_]+")
_LAYER = re.compile(r"common|vendor/[A-Za-z0-9][A-Za-z0-9_-]*")
_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _small_int(text: str) -> int:
    if len(text) > 18:
        raise ValueError("a number with more than 18 digits")
    return int(text)


def _check_hex(value: object, key: str) -> None:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise StateError(f"state.json: {key!r} is not a full commit id")


def load_state(repo: GitRepo) -> tuple[StackState | None, str | None]:
    """The stack state and the state ref's current value (for compare-and-swap).

    A damaged state (garbage, a missing object, malformed or mistyped ``state.json``, commits
    it names that are not there) is refused with one line that says how to start afresh.
    """
    ref = repo.read_ref(STATE_REF)
    if ref is None:
        return None, None
    way_out = (
        f"; delete it with 'git -C {repo.workdir} update-ref -d {STATE_REF}' and rebuild the stack "
        "with 'fspatch apply BACKEND --force'"
    )
    try:
        tree = repo.tree_of(ref)
        entry = repo.entry(tree, "state.json")
        if entry is None:
            raise StateError(f"{STATE_REF} holds no state.json")
        state = StackState.from_json(repo.read_blob(entry.id))
        for commit in [state.upstream, *(x for ls in state.layers for x in [ls.base, *(p.commit for p in ls.applied)])]:
            if not repo.has_commit(commit):
                raise StateError(f"state.json names commit {commit[:12]}, which is not in the repository")
    except StateError as exc:
        raise StateError(f"{STATE_REF} is damaged: {exc.message}{way_out}", path=str(repo.workdir)) from None
    except (GitError, KeyError, ValueError, TypeError) as exc:
        raise StateError(
            f"{STATE_REF} is damaged: {type(exc).__name__}: {str(exc)[:80]}{way_out}", path=str(repo.workdir)
        ) from None
    return state, ref


def save_state(repo: GitRepo, state: StackState | None, expected: str | None, reason: str) -> str | None:
    """Write the state commit and move the state ref (compare-and-swap)."""
    if state is None:
        repo.update_ref(STATE_REF, None, expected, reason)
        return None
    blob = repo.write_blob(state.to_json())
    tree = repo.update_tree(repo.empty_tree(), {"state.json": Entry(blob, MODE_FILE)})
    info = repo.commit_info(state.head)
    when = Person(COMMITTER[0], COMMITTER[1], info.committer_time, info.committer_offset)
    # The message is constant so that the same state is always the same commit (reason goes to the reflog).
    commit = repo.create_commit(tree, [state.head], "fspatch stack state\n", when, when)
    if commit != expected:
        repo.update_ref(STATE_REF, commit, expected, f"fspatch: {reason}")
    return commit


def split_author(author: str, fallback: tuple[str, str]) -> tuple[str, str]:
    m = _AUTHOR.match(author or "")
    if not m:
        return fallback
    return (m.group(1) or fallback[0], m.group(2) or fallback[1])


@dataclass(frozen=True)
class PatchSource:
    """A parsed patch file and where it came from (for error messages)."""

    name: str
    display: str  # workspace-relative path, e.g. series/vllm/0002-x.patch
    patch: Patch
    unauthenticated: bool = False  # decrypted from a CBC file no MAC vouched for: checked strictly


class Builder:
    """Builds stack commits in memory: hunks applied to blobs, changed tree nodes only."""

    def __init__(self, repo: GitRepo, upstream: str) -> None:
        self.repo = repo
        info = repo.commit_info(upstream)
        self.time = info.committer_time
        self.offset = info.committer_offset
        self.fallback = repo.identity()

    def person(self, author: str) -> Person:
        name, email = split_author(author, self.fallback)
        return Person(name, email, self.time, self.offset)

    def committer(self) -> Person:
        return Person(COMMITTER[0], COMMITTER[1], self.time, self.offset)

    def commit(self, tree: str, parent: str, patch: Patch) -> str:
        return self.repo.create_commit(tree, [parent], patch.message(), self.person(patch.author), self.committer())

    def apply(self, parent: str, src: PatchSource) -> str:
        """Apply one patch on a commit; the new commit id.  Raises ConflictError naming the hunk."""
        tree = self.repo.tree_of(parent)
        try:
            new_tree = apply_files(self.repo, tree, src.patch.files, strict=src.unauthenticated)
        except HunkFailed as exc:
            raise ConflictError(str(exc), path=src.display) from None
        except ConflictError as exc:
            raise ConflictError(exc.message, path=src.display) from None
        except InputError as exc:  # PathEscapeError and friends: name the patch file
            raise type(exc)(exc.message, path=src.display) from None
        return self.commit(new_tree, parent, src.patch)

    def build(self, base: str, sources: Sequence[PatchSource]) -> list[AppliedPatch]:
        """Each patch applied on the one before; the objects are written out together at the end.

        Why in memory: rebuilding a stack writes mostly objects that exist already (the same
        patches on the same base), and libgit2 gives each existing blob a temporary file
        before finding it there (~0.2 ms); in memory it is a dictionary look-up.
        """
        out: list[AppliedPatch] = []
        top = base
        with self.repo.objects_in_memory():
            for src in sources:
                top = self.apply(top, src)
                out.append(AppliedPatch(src.name, top))
        return out


def _check_path(path: str) -> None:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\0" in path
        or any(part in ("", ".", "..") or part.lower() == ".git" for part in parts)
    ):
        raise PathEscapeError(f"{path}: path outside the tree")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        # git trees can hold such names, but the object layer (libgit2 via pygit2) takes UTF-8 only.
        raise InputError(f"{path.encode('utf-8', 'surrogateescape')!r}: file name is not valid UTF-8") from None


_MAX_LINK_HOPS = 40


def _check_link_target(
    path: str, target: bytes, lookup: Callable[[str], Entry | None], read: Callable[[str], bytes]
) -> None:
    """Refuse a symlink at ``path`` whose target leaves the tree or enters a ``.git`` directory.

    Why: a checkout writes what the tree says; a link ``evil -> /etc`` or ``evil -> ../../..``
    is a trap for every later tool (and for a later patch writing ``evil/x``).  The target is
    resolved lexically from the link's directory, following the tree's own symlinks on the way
    (so ``a -> ..`` then ``b -> a/..`` is caught), never the file system.
    """
    if not target or b"\0" in target:
        raise PathEscapeError(f"{path}: symlink target is empty or holds a NUL byte")
    text = target.decode("utf-8", "surrogateescape")
    if text.startswith("/"):
        raise PathEscapeError(f"{path}: symlink target {text!r} is an absolute path outside the tree")
    hops = 0
    stack: list[str] = path.split("/")[:-1]
    pending = text.split("/")
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise PathEscapeError(f"{path}: symlink target {text!r} leaves the tree")
            stack.pop()
            continue
        if part.lower() == ".git":
            raise PathEscapeError(f"{path}: symlink target {text!r} points into a .git directory")
        stack.append(part)
        here = "/".join(stack)
        entry = lookup(here) if here != path else None
        if entry is not None and entry.mode == MODE_LINK:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise PathEscapeError(f"{path}: symlink target {text!r} loops through other symlinks")
            inner = read(entry.id).decode("utf-8", "surrogateescape")
            if inner.startswith("/"):
                raise PathEscapeError(f"{path}: symlink target {text!r} leads through {here!r} out of the tree")
            stack.pop()
            pending = inner.split("/") + pending


def apply_files(repo: GitRepo, tree: str, files: Sequence[FileDiff], *, strict: bool = False) -> str:
    """The tree after applying a patch's file diffs to ``tree`` (no fuzz, line offsets only).

    Several sections for one path are applied in order, as ``git apply`` does: a later
    modification or deletion of a path an earlier section created or modified starts from
    that section's result (a rename or copy source always names the tree before the patch).
    Preimages are checked (:func:`_check_ids`).  ``strict`` is for plaintext that no MAC
    vouched for (a CBC-encrypted layer): every file diff must carry an ``index`` line.
    """
    changes: dict[str, Entry | None] = {}
    in_order: set[str] = set()  # paths an earlier section created or modified in place

    def current(path: str) -> Entry | None:
        if path in changes:
            return changes[path]
        return repo.entry(tree, path)

    def content(entry: Entry | None) -> bytes:
        return repo.read_blob(entry.id) if entry is not None else b""

    for fd in files:
        for p in (fd.old_path, fd.new_path):
            if p is not None:
                _check_path(p)
        if fd.new_path is not None:
            _check_parents(fd.new_path, current)
        if fd.binary_no_data:
            raise ConflictError(f"{fd.path}: binary change without data (regenerate the patch with --binary)")
        if strict and (fd.hunks or fd.binary) and not (fd.old_id and fd.new_id):
            raise InputError(
                f"{fd.path}: unauthenticated encrypted patch without an 'index' line: its content cannot be checked"
            )
        # Only a section that keeps its path (libgit2 also writes copies as 'a/x b/y' without
        # 'copy from' lines) continues from an earlier section's result.
        same_path = fd.status == "A" or (fd.status in ("M", "D") and fd.new_path in (None, fd.old_path))
        # A diff is between two trees: its old side names the tree before the patch, unless an
        # earlier section of this patch already changed that very path (git's "previous patch").
        if fd.old_path is not None and fd.old_path in in_order and same_path:
            old_entry = current(fd.old_path)
            if old_entry is None:
                raise ConflictError(f"{fd.old_path}: an earlier section of this patch deleted it")
        else:
            old_entry = repo.entry(tree, fd.old_path) if fd.old_path is not None else None
        if fd.status == "A":
            assert fd.new_path is not None
            if current(fd.new_path) is not None:
                raise ConflictError(f"{fd.new_path}: already exists")
            data = _new_content(b"", fd)
            new_id = repo.write_blob(data)
            _check_ids(repo, fd, None, b"", new_id, data, strict)
            changes[fd.new_path] = Entry(new_id, fd.new_mode or MODE_FILE)
            in_order.add(fd.new_path)
            continue
        if old_entry is None:
            raise ConflictError(f"{fd.old_path}: does not exist")
        if fd.status == "D":
            old_data = content(old_entry)
            remaining = _new_content(old_data, fd) if (fd.hunks or fd.binary) else b""
            if remaining:
                raise ConflictError(f"{fd.old_path}: deleted file still has content after the patch")
            _check_ids(repo, fd, old_entry, old_data, None, b"", strict)
            assert fd.old_path is not None
            changes[fd.old_path] = None
            in_order.discard(fd.old_path)
            continue
        new_id = old_entry.id
        if fd.hunks or fd.binary:
            old_data = content(old_entry)
            new_data = _new_content(old_data, fd)
            new_id = repo.write_blob(new_data)
            _check_ids(repo, fd, old_entry, old_data, new_id, new_data, strict)
        mode = fd.new_mode or old_entry.mode
        target = fd.new_path or fd.old_path
        assert target is not None
        if fd.status in ("R", "C") and fd.new_path != fd.old_path:
            if current(target) is not None:
                raise ConflictError(f"{target}: already exists")
            if fd.status == "R":
                assert fd.old_path is not None
                changes[fd.old_path] = None
                in_order.discard(fd.old_path)
        changes[target] = Entry(new_id, mode)
        if same_path:
            in_order.add(target)
    for path, entry in changes.items():
        if entry is not None and entry.mode == MODE_LINK:
            _check_link_target(path, repo.read_blob(entry.id), current, repo.read_blob)
    return repo.update_tree(tree, changes)


_ZERO = frozenset("0")


def _names(want: str | None, have: str) -> bool:
    """True when an ``index`` id (full or abbreviated) names the object ``have``."""
    return want is not None and len(want) >= 4 and have.startswith(want.lower())


def _check_ids(
    repo: GitRepo,
    fd: FileDiff,
    old: Entry | None,
    old_data: bytes,
    new_id: str | None,
    new_data: bytes,
    strict: bool,
) -> None:
    """Refuse a file diff whose ``index`` line contradicts what it is applied to or gives.

    Why: a binary literal or deletion replaces whatever is there, so without this check a
    patch made for another file silently wins (git refuses it: "does not match the current
    contents").  For text from an unauthenticated (CBC) file, when the preimage is the one
    the index line names, the hunks must give exactly the postimage it names, or the
    plaintext was altered; that is how a garbled block inside an added line is caught.
    """
    old_id, want_new = fd.old_id, fd.new_id
    if not old_id or not want_new:
        if fd.binary is not None and old is not None:
            raise InputError(
                f"{fd.path}: binary patch without an 'index' line: its preimage cannot be checked "
                "(regenerate it with 'git diff --binary --full-index')"
            )
        return
    full = len(old_id) in (40, 64) and len(want_new) in (40, 64)
    new_is_zero = set(want_new) <= _ZERO
    if fd.binary is not None:
        if old is not None and not _names(old_id, old.id):
            raise ConflictError(
                f"{fd.path}: binary patch was made for preimage {old_id[:12]}, the file here is {old.id[:12]}"
            )
        if new_id is not None and not new_is_zero and (full or strict) and not _names(want_new, new_id):
            raise InputError(f"{fd.path}: binary patch data does not give the postimage {want_new[:12]} it names")
        return
    if not fd.hunks or not strict:
        # Text is verified by its hunks: context must match exactly (no fuzz).  Index ids of
        # text are not enforced on authenticated input: people edit patches by hand (quilt
        # does) and offsets onto another preimage are allowed by design.
        return
    preimage_named = old is None or _names(old_id, old.id)
    if preimage_named and new_id is not None and not new_is_zero and not _names(want_new, new_id):
        raise InputError(
            f"{fd.path}: the hunks do not give the postimage {want_new[:12]} the 'index' line names: "
            "the unauthenticated patch was altered or damaged"
        )


def _check_parents(path: str, current: Callable[[str], Entry | None]) -> None:
    """A path may not lie beyond a symlink (``evil/x`` with ``evil -> /tmp``) or inside a file.

    Why: git refuses "beyond a symbolic link" too; accepting it would silently turn the link
    into a directory in the tree, and a checkout that followed the link would write outside.
    A file standing where a directory must go is fine only when this patch removed it first.
    """
    parts = path.split("/")
    for k in range(1, len(parts)):
        prefix = "/".join(parts[:k])
        entry = current(prefix)
        if entry is None:
            continue
        if entry.mode == MODE_LINK:
            raise PathEscapeError(f"{path}: path lies beyond the symbolic link {prefix!r}")
        raise ConflictError(f"{path}: {prefix!r} is a file, not a directory")


def _new_content(old: bytes, fd: FileDiff) -> bytes:
    if fd.binary is not None:
        return apply_binary(old, fd.binary, fd.path)
    return apply_hunks(old, fd.hunks, fd.path)
