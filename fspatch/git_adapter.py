"""The one module that talks to pygit2 (DESIGN §3).

Everything above this module sees commits, trees and blobs as hex ids and
plain values.  The design choice that matters for speed: trees are edited by
rebuilding only the nodes on the paths that change (``update_tree``), and the
working tree is touched once, at the end, only for the paths that differ
between the old and the new commit (``checkout``).  Cost therefore follows the
number of changed files, not the size of the upstream tree.

Blob bytes are written and read verbatim (no clean/smudge or EOL filters), so
CRLF files and non-UTF-8 bytes survive every round trip unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pygit2
from pygit2.enums import CheckoutStrategy, DiffFind, DiffOption, FileMode, FileStatus, ObjectType

from fspatch.errors import DirtyCheckoutError, GitError, UsageError

# A tree entry's object type as a plain int: ``.filemode`` builds a FileMode enum on every read
# (0.4 us; 140k reads in one Megatron-LM replay's tree walks), ``.type`` does not.  libgit2
# derives the type from the mode, so ``type == _TREE`` is ``filemode == FileMode.TREE``; two
# entries with one id are both trees or both not, and trees share their one mode.
_TREE = int(ObjectType.TREE)

# git does not re-hash an object it reads (only fsck does); libgit2 does by default, and SHA-1
# of every tree and blob read was a quarter of a replay's time (0.33 of 1.4 s CPU on
# bench_pull_real).  Objects are still checked when written and by `git fsck`.
pygit2.settings.enable_strict_hash_verification(False)

MODE_FILE = 0o100644
MODE_EXEC = 0o100755
MODE_LINK = 0o120000
MODE_GITLINK = 0o160000
# Conflict-marker styles of a labelled file merge (quilt's ``push --merge=merge|diff3``).
MERGE_STYLES = {
    "diff3": pygit2.enums.MergeFileFlag.STYLE_DIFF3,
    "merge": pygit2.enums.MergeFileFlag.STYLE_MERGE,
}


@dataclass(frozen=True)
class Entry:
    """A blob in a tree: its id and git file mode."""

    id: str
    mode: int


@dataclass(frozen=True)
class CommitInfo:
    """What fspatch needs to know of a commit."""

    id: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author_name: str
    author_email: str
    author_time: int
    author_offset: int
    committer_time: int
    committer_offset: int


@dataclass(frozen=True)
class Person:
    """Name, e-mail and a fixed time: signatures are deterministic on purpose."""

    name: str
    email: str
    time: int = 0
    offset: int = 0


@dataclass(frozen=True)
class MergeResult:
    """Outcome of an in-memory 3-way tree merge."""

    tree: str | None  # None when there are conflicts
    conflicts: tuple[str, ...]  # paths with conflicts


_INDEX_LINE = re.compile(rb"^index ([0-9a-f]+)\.\.([0-9a-f]+)((?: [0-7]+)?)$", re.M)


class _MemoryObjects(pygit2.OdbBackend):
    """An object database backend keeping what is written in a dict (:meth:`GitRepo.objects_in_memory`).

    libgit2 asks it after the packs and before the loose objects (priority 2, added after the
    pack backends): the first backend that can write gets every write, and a read of an
    upstream object never reaches Python.  A KeyError is libgit2's "not found here".
    """

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[pygit2.Oid, tuple[int, bytes]] = {}

    def read_cb(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        return self.objects[oid]

    def read_header_cb(self, oid: pygit2.Oid) -> tuple[int, int]:
        kind, data = self.objects[oid]
        return kind, len(data)

    def read_prefix_cb(self, prefix: str) -> tuple[int, bytes, pygit2.Oid]:
        if len(prefix) == 40:
            oid = pygit2.Oid(hex=prefix)
            kind, data = self.objects[oid]
            return kind, data, oid
        hits = [oid for oid in self.objects if str(oid).startswith(prefix)]
        if not hits:
            raise KeyError(prefix)
        if len(hits) > 1:
            raise ValueError(prefix)  # libgit2's "ambiguous"
        kind, data = self.objects[hits[0]]
        return kind, data, hits[0]

    def exists_cb(self, oid: pygit2.Oid) -> bool:
        return oid in self.objects

    def exists_prefix_cb(self, prefix: str) -> pygit2.Oid:
        return self.read_prefix_cb(prefix)[2]

    def write_cb(self, oid: pygit2.Oid, data: bytes, kind: int) -> None:
        self.objects[oid] = (kind, data)

    def refresh_cb(self) -> None:
        pass


# checkout_paths: exactly the paths given, whatever stands there (callers checked for local edits).
_CHECKOUT_PATHS = CheckoutStrategy.FORCE | CheckoutStrategy.DISABLE_PATHSPEC_MATCH | CheckoutStrategy.REMOVE_UNTRACKED

# Tree entries written as files by a checkout (gitlinks and trees are not).
_BLOB_MODES = frozenset((FileMode.BLOB, FileMode.BLOB_EXECUTABLE, FileMode.LINK))

# Tree pairs whose changed_files answer is remembered (a replay asks about ~160).
_CHANGES_KEPT = 512

# Fewer objects than this are written loose at the end of objects_in_memory (as without it):
# a pack per `apply` or `refresh` would pile up packs that only `git gc` merges.
_PACK_AT_LEAST = 64


class GitRepo:
    """A backend repository, opened once per command."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo
        self._recent: dict[str, pygit2.Blob] = {}
        self._recent_data: dict[str, bytes] = {}
        self._nl_at: dict[str, tuple[int, int]] = {}  # blob -> (offset, newlines before it)
        self._memory: _MemoryObjects | None = None
        self._outside = repo  # the handle without the memory (objects_in_memory swaps _repo)
        self._trees: dict[str, str] = {}  # commit id -> tree id (tree_of)
        self._changes: dict[tuple[str, str], tuple[tuple[str, Entry | None, Entry | None], ...]] = {}
        self._scratch: tuple[pygit2.Repository, _MemoryObjects] | None = None  # objects_in_memory's handle
        self._packing: tuple[int, frozenset[pygit2.Oid]] | None = None  # pack_beside's child and its objects

    @contextlib.contextmanager
    def objects_in_memory(self, *, on_error: bool = True) -> Iterator[None]:
        """Objects written inside are kept in memory, then written out at once (one pack).

        ``on_error=False``: an exception leaving the (outermost) scope drops what it kept
        instead -- for work done before a check that may still refuse the verb (nothing written).

        Why: a loose object costs ~0.2 ms to write here (a temporary file, a rename, and for a
        new object libgit2 re-reads the pack directories; an object that exists already still
        gets a temporary file when it is a blob); a Megatron-LM replay writes ~700 new objects
        and ~1,000 existing ones.  Inside, a second handle on the same repository reads the
        packs, then the memory, then the loose objects, and writes to the memory only; at the
        end the new objects are written as one pack with its index (:func:`_write_pack`; fewer
        than :data:`_PACK_AT_LEAST` are written loose by libgit2 instead) and the first handle
        is back.  A writer of refs, the index or the working tree called inside first writes
        out what is kept, so nothing on disk ever names an object that is only in memory;
        files other code writes must wait for the end (the replay writes none).  Nested: the
        outermost one writes.  Not for SHA-256 repositories (the pack written is SHA-1's).
        """
        if self._memory is not None or self._object_format() != "sha1":
            yield
            return
        main = self._enter_memory()
        failed = True
        try:
            yield
            failed = False
        finally:
            try:
                if failed and not on_error:
                    self._join_pack()
                    if self._memory is not None:
                        self._memory.objects = {}
                    self._scratch = None  # its object cache may hold what was dropped
                else:
                    self._write_out()
            finally:
                self._repo, self._memory = main, None

    def _object_format(self) -> str:
        cfg = self._repo.config
        return str(cfg["extensions.objectformat"]).lower() if "extensions.objectformat" in cfg else "sha1"

    def pack_beside(self) -> bool:
        """Start writing what :meth:`objects_in_memory` kept so far as one pack, in a forked child.

        Why: deflating a replay's new objects (2.4 MB on a Megatron-LM bump, ~28 ms) is work
        nothing that follows needs done first when the caller goes on writing only workspace
        files (a bot replay with conflicts: patch files and the pending record); the second
        core does it meanwhile.  The objects stay readable here, in memory, until the next
        write of a ref, the index or a file, or the end of the outermost
        ``objects_in_memory``: that waits for the child and forgets what it packed, or writes
        everything itself when the child failed, was killed or could not start.  The child
        writes the pack and nothing else, ends with ``os._exit`` and is always reaped here.
        False (nothing started) outside ``objects_in_memory``, with fewer objects than a pack
        is written for, with other threads running (a fork copies their held locks), where
        there is no ``os.fork``, or with ``FSPATCH_PACK_BESIDE=0``.
        """
        memory = self._memory
        if (
            memory is None
            or self._packing is not None
            or len(memory.objects) < _PACK_AT_LEAST
            or not may_fork("FSPATCH_PACK_BESIDE")
        ):
            return False
        import signal

        objects = dict(memory.objects)
        where = _objects_dir(Path(self._outside.path))
        try:
            pid = os.fork()
        except OSError:
            return False
        if pid == 0:  # the child: the pack, then out, running nothing of the parent's
            code = 1
            try:
                become_helper()
                if os.environ.get("FSPATCH_CRASH_AT") == "pack-beside":  # tests: a child killed mid-way
                    os.kill(os.getpid(), signal.SIGKILL)
                _write_pack(where, objects)
                code = 0
            except BaseException:  # noqa: BLE001 -- the parent writes them itself
                pass
            finally:
                os._exit(code)
        self._packing = (pid, frozenset(objects))
        return True

    def _join_pack(self) -> None:
        """Wait for :meth:`pack_beside`'s child; what it packed is on disk then, and dropped from memory."""
        if self._packing is None:
            return
        pid, packed = self._packing
        self._packing = None
        try:
            status = os.waitpid(pid, 0)[1]
        except ChildProcessError:
            status = -1
        if status == 0 and self._memory is not None:
            for oid in packed:  # later reads find them in the new pack (libgit2 rescans on a miss)
                self._memory.objects.pop(oid, None)

    def _write_out(self) -> None:
        """What :meth:`objects_in_memory` kept, written to disk (and forgotten: later reads find it there)."""
        self._join_pack()
        memory = self._memory
        if memory is None or not memory.objects:
            return
        objects, memory.objects = memory.objects, {}
        try:
            if len(objects) >= _PACK_AT_LEAST:
                _write_pack(_objects_dir(Path(self._outside.path)), objects)
            else:
                odb = self._outside.odb  # no memory backend there: libgit2's loose objects
                for kind, data in objects.values():
                    odb.write(kind, data)
        except OSError as exc:
            memory.objects = objects
            raise GitError(f"git could not write: {exc.strerror or exc}") from None
        except pygit2.GitError as exc:
            memory.objects = objects
            raise GitError(f"git could not write: {exc}") from None

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(cls, path: Path) -> GitRepo:
        try:
            repo = pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        except (pygit2.GitError, KeyError) as exc:
            raise GitError(f"not a git repository: {exc}", path=str(path)) from None
        return cls(repo)

    @classmethod
    def is_repo(cls, path: Path) -> bool:
        return (path / ".git").exists()

    @classmethod
    def init(cls, path: Path) -> GitRepo:
        return cls(pygit2.init_repository(str(path), initial_head="main"))

    @classmethod
    def clone(cls, url: str, path: Path) -> GitRepo:
        check_url(url)
        try:
            return cls(pygit2.clone_repository(url, str(path)))
        except (pygit2.GitError, ValueError) as exc:
            raise GitError(f"cannot clone {url}: {exc}") from None

    def _enter_memory(self) -> pygit2.Repository:
        """Swap in the handle whose writes go to memory; the handle it replaces is returned."""
        main = self._outside = self._repo
        if self._scratch is None:  # one per handle: its object cache stays warm from one scope to the next
            scratch = pygit2.Repository(main.path, pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
            memory = _MemoryObjects()
            scratch.odb.add_backend(memory, 2)
            self._scratch = (scratch, memory)
        self._repo, self._memory = self._scratch
        return main

    def discard_writes(self) -> bool:
        """From now on, objects written stay in this process's memory and are never written out.

        Why: a forked reader (:mod:`fspatch.core.read_ahead`) runs code that writes a few
        objects (a similarity search's two trees) and must leave the repository as it found it;
        it ends with ``os._exit``, so an ``objects_in_memory`` it was forked inside never ends.
        False (nothing changed) for a SHA-256 repository, whose objects the memory does not hold.
        """
        if self._memory is not None:
            return True
        if self._object_format() != "sha1":
            return False
        self._enter_memory()
        return True

    @contextlib.contextmanager
    def _scratch_objects(self) -> Iterator[None]:
        """Objects first written inside are kept in memory and dropped after it, never written.

        For the small trees a diff or a search is run on: nothing names them.  Entered outside
        :meth:`objects_in_memory`, it opens one for itself (SHA-256 repositories, which the memory
        does not hold, write them as before).
        """
        with self.objects_in_memory():
            memory = self._memory
            had = len(memory.objects) if memory is not None else 0
            try:
                yield
            finally:
                if memory is not None and self._memory is memory and len(memory.objects) > had:
                    for oid in list(memory.objects)[had:]:
                        del memory.objects[oid]

    @property
    def workdir(self) -> Path:
        wd = self._repo.workdir
        if wd is None:
            raise GitError("repository has no working tree", path=self._repo.path)
        return Path(wd)

    @property
    def git_dir(self) -> Path:
        return Path(self._repo.path)

    # -- refs and objects --------------------------------------------------
    def resolve(self, rev: str) -> str | None:
        """Commit id for a tag, branch, remote ref or (abbreviated) id; None if unknown."""
        try:
            obj = self._repo.revparse_single(rev)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None
        return str(commit.id)

    def has_commit(self, commit_id: str) -> bool:
        try:
            obj = self._repo.get(commit_id)
        except ValueError:
            return False
        return obj is not None and obj.type == ObjectType.COMMIT

    def commit_by_prefix(self, prefix: str) -> str | None:
        """The full id of the one local commit whose id starts with this hex prefix; None if none or ambiguous."""
        try:
            obj = self._repo.get(prefix)
        except ValueError:  # AmbiguousError too
            return None
        return str(obj.id) if obj is not None and obj.type == ObjectType.COMMIT else None

    def head(self) -> str | None:
        if self._repo.head_is_unborn:
            return None
        return (
            str(self._repo.head.target) if self._repo.head_is_detached else str(self._repo.head.peel(pygit2.Commit).id)
        )

    def descends_from(self, commit_id: str, ancestor: str) -> bool:
        return bool(self._repo.descendant_of(commit_id, ancestor))

    def head_ref(self) -> str | None:
        """The branch HEAD points to, or None when detached."""
        if self._repo.head_is_detached or self._repo.head_is_unborn:
            return None
        return self._repo.head.name

    def read_ref(self, name: str) -> str | None:
        try:
            ref = self._repo.references[name]
        except KeyError:
            return None
        return str(ref.target)

    def update_ref(self, name: str, new: str | None, expected_old: str | None, reason: str) -> None:
        """Move (or delete, when new is None) a ref, but only if it still has the expected value."""
        current = self.read_ref(name)
        if current != expected_old:
            raise GitError(f"ref {name} moved underneath us ({current} != {expected_old})")
        if new is None:
            if current is not None:
                self._repo.references.delete(name)
            return
        self._repo.create_reference_direct(name, pygit2.Oid(hex=new), True, message=reason)

    def refs(self, prefix: str) -> dict[str, str]:
        out = {}
        for name in self._repo.references:
            if name.startswith(prefix):
                out[name] = str(self._repo.references[name].target)
        return out

    def commit_info(self, commit_id: str) -> CommitInfo:
        c = self._repo[pygit2.Oid(hex=commit_id)]
        if not isinstance(c, pygit2.Commit):
            raise GitError(f"{commit_id} is not a commit")
        return CommitInfo(
            id=str(c.id),
            tree=str(c.tree_id),
            parents=tuple(str(p) for p in c.parent_ids),
            message=c.raw_message.decode("utf-8", "surrogateescape"),
            author_name=c.author.name,
            author_email=c.author.email,
            author_time=c.author.time,
            author_offset=c.author.offset,
            committer_time=c.committer.time,
            committer_offset=c.committer.offset,
        )

    def _tree(self, tree_id: str) -> pygit2.Tree:
        """A tree object (pygit2's stubs type every lookup as plain Object)."""
        return cast(pygit2.Tree, self._repo[pygit2.Oid(hex=tree_id)])

    def tree_of(self, commit_id: str) -> str:
        """The commit's tree id, remembered per handle (an id always names the same commit).

        A replay asks ~950 times, mostly for the same few dozen commits; building a whole
        :class:`CommitInfo` (message decoded, signatures read) for it cost ~10 us each time.
        """
        tree = self._trees.get(commit_id)
        if tree is None:
            c = self._repo[pygit2.Oid(hex=commit_id)]
            if not isinstance(c, pygit2.Commit):
                raise GitError(f"{commit_id} is not a commit")
            tree = self._trees[commit_id] = str(c.tree_id)
        return tree

    def read_blob(self, blob_id: str) -> bytes:
        return bytes(cast(pygit2.Blob, self._repo[pygit2.Oid(hex=blob_id)]).data)

    def write_blob(self, data: bytes) -> str:
        return str(self._repo.create_blob(data))

    def entry(self, tree_id: str, path: str) -> Entry | None:
        """The blob entry at path in a tree, or None (also for directories)."""
        tree = self._tree(tree_id)
        try:
            obj = tree[path]
        except KeyError:
            return None
        if obj.type == _TREE:
            return None
        return Entry(str(obj.id), int(obj.filemode))

    def is_dir(self, tree_id: str, path: str) -> bool:
        tree = self._tree(tree_id)
        try:
            return bool(tree[path].type == _TREE)
        except KeyError:
            return False

    def subtree(self, tree_id: str, path: str) -> str | None:
        """The id of the directory at path in a tree ("" is the tree itself), or None."""
        if path in ("", "."):
            return tree_id
        tree = self._tree(tree_id)
        try:
            obj = tree[path]
        except KeyError:
            return None
        return str(obj.id) if obj.filemode == FileMode.TREE else None

    def read_file(self, tree_id: str, path: str) -> tuple[bytes, int] | None:
        e = self.entry(tree_id, path)
        if e is None:
            return None
        return self.read_blob(e.id), e.mode

    def list_files(self, tree_id: str) -> Iterator[tuple[str, Entry]]:
        """Every blob of a tree, recursively (path order).  Cost follows the tree size."""
        stack: list[tuple[str, pygit2.Tree]] = [("", self._tree(tree_id))]
        while stack:
            prefix, tree = stack.pop()
            subtrees = []
            for obj in tree:
                path = prefix + str(obj.name)
                if obj.filemode == FileMode.TREE:
                    subtrees.append((path + "/", cast(pygit2.Tree, obj)))
                else:
                    yield path, Entry(str(obj.id), int(obj.filemode))
            stack.extend(reversed(subtrees))

    def update_tree(self, base_tree: str, changes: Mapping[str, Entry | None]) -> str:
        """A new tree: base_tree with changes applied; only the touched nodes are rebuilt."""
        if not changes:
            return base_tree
        nested: dict[str, object] = {}
        for path, entry in changes.items():
            parts = path.split("/")
            node = nested
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):  # a file replaced by a directory
                    child = node[part] = {}
                node = child
            leaf = parts[-1]
            if isinstance(node.get(leaf), dict) and entry is not None:
                raise GitError(f"{path}: a file cannot replace a directory with other changes inside")
            node[leaf] = entry
        return str(self._build(self._tree(base_tree) if base_tree else None, nested)[0])

    def _build(self, tree: pygit2.Tree | None, node: dict[str, object]) -> tuple[pygit2.Oid, int]:
        """The tree with the node's changes written, and how many entries it has (0: leave it out)."""
        builder = self._repo.TreeBuilder(tree) if tree is not None else self._repo.TreeBuilder()
        for name, change in node.items():
            existing = None
            if tree is not None:
                try:
                    existing = tree[name]
                except KeyError:
                    existing = None
            if isinstance(change, dict):
                sub = existing if existing is not None and existing.type == _TREE else None
                new_id, size = self._build(cast("pygit2.Tree | None", sub), change)
                if size == 0:
                    if existing is not None:
                        builder.remove(name)
                else:
                    builder.insert(name, new_id, FileMode.TREE)
            elif change is None:
                if existing is not None:
                    builder.remove(name)
            else:
                assert isinstance(change, Entry)
                builder.insert(name, pygit2.Oid(hex=change.id), change.mode)
        return builder.write(), len(builder)

    def empty_tree(self) -> str:
        return str(self._repo.TreeBuilder().write())

    def create_commit(self, tree: str, parents: Iterable[str], message: str, author: Person, committer: Person) -> str:
        """A commit object (no ref moves).

        Patch headers may hold bytes that are not UTF-8 (a Latin-1 ``Co-authored-by:`` in a
        Debian patch): they reach us surrogate-escaped and go into the message as the original
        bytes; in a signature, where git wants text, they become U+FFFD.
        """
        a = pygit2.Signature(_text(author.name), _text(author.email), author.time, author.offset)
        c = pygit2.Signature(_text(committer.name), _text(committer.email), committer.time, committer.offset)
        raw = message.encode("utf-8", "surrogateescape")
        oid = self._repo.create_commit(None, a, c, raw, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents])
        return str(oid)

    def identity(self) -> tuple[str, str]:
        """user.name / user.email as git would use them (environment, then config)."""
        name = os.environ.get("GIT_AUTHOR_NAME")
        email = os.environ.get("GIT_AUTHOR_EMAIL")
        cfg = self._repo.config
        if not name:
            name = cfg["user.name"] if "user.name" in cfg else "fspatch"  # noqa: SIM401 (Config has no .get)
        if not email:
            email = cfg["user.email"] if "user.email" in cfg else "fspatch@localhost"  # noqa: SIM401
        return str(name), str(email)

    # -- diffs and merges --------------------------------------------------
    def diff_trees(self, old_tree: str, new_tree: str, *, renames: bool = True) -> bytes:
        """A git-style patch (full index lines, binary data, 3 lines of context) from old to new."""
        # Diff two small trees holding only the changed files: the same diff (renames and copies
        # are found among changed files only), at the cost of the change instead of the tree.
        changes = self.changed_files(old_tree, new_tree)
        if not changes:
            return b""
        fast = self._diff_modified_blobs(changes)
        if fast is not None:
            return fast
        empty = self.empty_tree()
        with self._scratch_objects():
            old_small = self.update_tree(empty, {p: a for p, a, _b in changes if a is not None})
            new_small = self.update_tree(empty, {p: b for p, _a, b in changes if b is not None})
            diff = self._repo.diff(  # type: ignore[call-overload]
                self._tree(old_small),
                self._tree(new_small),
                flags=DiffOption.SHOW_BINARY | DiffOption.INDENT_HEURISTIC,
                context_lines=3,
            )
            if renames:
                diff.find_similar(flags=DiffFind.FIND_RENAMES | DiffFind.FIND_COPIES)
            patches = list(diff)
        parts: list[bytes] = []
        for patch in patches:
            if patch is None:
                continue
            data = patch.data
            d = patch.delta
            full = b"index %s..%s" % (str(d.old_file.id).encode(), str(d.new_file.id).encode())
            data = _INDEX_LINE.sub(lambda m, full=full: bytes(full + m.group(3)), data, count=1)  # type: ignore[misc]
            parts.append(data)
        return b"".join(parts)

    def _modified_text_blobs(
        self, changes: Sequence[tuple[str, Entry | None, Entry | None]]
    ) -> list[tuple[str, pygit2.Blob, pygit2.Blob]] | None:
        """(path, old blob, new blob) in path order when every change modifies a 100644 text file; else None."""
        if not changes:
            return None
        blobs = []
        for path, a, b in sorted(changes):
            if a is None or b is None or a.mode != MODE_FILE or b.mode != MODE_FILE:
                return None
            old = cast(pygit2.Blob, self._repo[pygit2.Oid(hex=a.id)])
            new = cast(pygit2.Blob, self._repo[pygit2.Oid(hex=b.id)])
            if old.is_binary or new.is_binary:
                return None
            blobs.append((path, old, new))
        return blobs

    def _diff_modified_blobs(self, changes: Sequence[tuple[str, Entry | None, Entry | None]]) -> bytes | None:
        """:meth:`diff_trees` when every change modifies a regular text file in place: blob to blob.

        Why: the two small trees the general case writes cost 2 x (path depth) loose objects
        per rewritten patch.  With only in-place modifications of 100644 files there is nothing
        for rename or copy detection to pair, and the blob diffs, in path order (git's tree
        order for full paths), are the same bytes.  Anything else returns None.
        """
        blobs = self._modified_text_blobs(changes)
        if blobs is None:
            return None
        parts: list[bytes] = []
        for path, old, new in blobs:
            patch = pygit2.Patch.create_from(
                old, new, old_as_path=path, new_as_path=path,
                flag=DiffOption.SHOW_BINARY | DiffOption.INDENT_HEURISTIC, context_lines=3,
            )
            d = patch.delta
            if d.is_binary:
                return None
            full = b"index %s..%s" % (str(d.old_file.id).encode(), str(d.new_file.id).encode())
            parts.append(_INDEX_LINE.sub(lambda m, full=full: bytes(full + m.group(3)), patch.data, count=1))  # type: ignore[misc]
        return b"".join(parts)

    def changed_paths(self, old_tree: str, new_tree: str) -> list[str]:
        """Paths whose blob or mode differ between two trees (both sides of a change)."""
        diff = self._repo.diff(self._tree(old_tree), self._tree(new_tree))  # type: ignore[call-overload]
        paths: list[str] = []
        for d in diff.deltas:
            paths.append(d.old_file.path)
            if d.new_file.path != d.old_file.path:
                paths.append(d.new_file.path)
        return paths

    def merge_trees(self, ancestor: str, ours: str, theirs: str) -> MergeResult:
        index = self._repo.merge_trees(ancestor, ours, theirs)
        if index.conflicts is not None:
            paths = set()
            for anc, our, their in index.conflicts:
                for side in (anc, our, their):
                    if side is not None:
                        paths.add(side.path)
            return MergeResult(None, tuple(sorted(paths)))
        return MergeResult(str(index.write_tree(self._repo)), ())

    # -- fetching ----------------------------------------------------------
    def fetch(self, url: str, refspecs: list[str]) -> None:
        check_url(url)
        try:
            remote = self._repo.remotes.create_anonymous(url)
            remote.fetch(refspecs)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise GitError(f"cannot fetch {' '.join(refspecs)} from {url}: {exc}") from None

    def remote_url(self, name: str) -> str | None:
        """The URL of remote ``name`` (e.g. ``origin``), None when there is no such remote."""
        try:
            url = self._repo.remotes[name].url
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return str(url) if url else None

    # -- the working tree --------------------------------------------------
    def snapshot_worktree(self, dirty: Sequence[str] | None = None) -> str:
        """A tree of what the checkout holds now: HEAD + staged + unstaged + untracked edits.

        Ignored files are left out, as git would.  The index on disk is not touched.
        ``dirty`` is :meth:`dirty_paths` when the caller already has it (a status costs a stat
        of every file).
        """
        head = self.head()
        base = self.tree_of(head) if head else self.empty_tree()
        wd = self.workdir
        paths = self.dirty_paths() if dirty is None else dirty
        return self.update_tree(base, {path: self._worktree_entry(wd, path) for path in paths})

    def dirty_paths(self) -> list[str]:
        """Paths with staged, unstaged or untracked changes (ignored files excluded)."""
        out = []
        for path, flags in self._repo.status(untracked_files="all").items():
            if flags & FileStatus.IGNORED or flags == FileStatus.CURRENT:
                continue
            out.append(path)
        return sorted(out)

    def has_local_changes(self) -> bool:
        """Whether :meth:`dirty_paths` could name anything: a gate's quick test before the list.

        Untracked directories are reported whole here (git's ``-unormal``), not walked file by
        file: 6 ms instead of 12 on Megatron-LM's 5k-file checkout, and a directory of
        untracked files is still reported, so a clean answer is the list's.
        """
        for flags in self._repo.status(untracked_files="normal").values():
            if not flags & FileStatus.IGNORED and flags != FileStatus.CURRENT:
                return True
        return False

    def local_changes_beside(self) -> LocalChanges:
        """:meth:`dirty_paths` (after the quick :meth:`has_local_changes`), worked out in a forked child.

        Why: on an 80k-file checkout the scan costs ~0.3 s (libgit2 lstats every tracked file
        and reads every directory, holding the GIL), while a replay's first steps -- reading
        the patch files, building the old stacks in memory -- need none of its answer and
        write nothing; the second core scans meanwhile.  :meth:`LocalChanges.paths` waits for
        the list; where no child can be forked (:func:`may_fork`, ``FSPATCH_SCAN_BESIDE=0``)
        the scan runs there, in this process.  The child only reads (status never writes the
        index), ends with ``os._exit`` and is always reaped.
        """
        return LocalChanges(self)

    def index_problems(self) -> tuple[list[str], list[str]]:
        """Index states a verb that records the working tree must refuse: (unmerged, partly staged).

        Unmerged: a merge or apply left conflict stages.  Partly staged: the index holds a
        version of the file that is neither HEAD's nor the working tree's, so which one the
        user means is not known.
        """
        index = self._repo.index
        unmerged = sorted({(e[0] or e[1] or e[2]).path for e in index.conflicts or ()})
        staged = FileStatus.INDEX_NEW | FileStatus.INDEX_MODIFIED | FileStatus.INDEX_DELETED
        staged |= FileStatus.INDEX_RENAMED | FileStatus.INDEX_TYPECHANGE
        unstaged = FileStatus.WT_MODIFIED | FileStatus.WT_DELETED | FileStatus.WT_TYPECHANGE | FileStatus.WT_RENAMED
        status = self._repo.status(untracked_files="no")
        partly = sorted(p for p, f in status.items() if f & staged and f & unstaged and p not in unmerged)
        return unmerged, partly

    def _worktree_entry(self, wd: Path, path: str) -> Entry | None:
        full = wd / path
        try:
            st = full.lstat()
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return Entry(self.write_blob(os.fsencode(os.readlink(full))), MODE_LINK)
        if stat.S_ISDIR(st.st_mode):
            return None  # a nested repository or submodule: not ours to capture
        mode = MODE_EXEC if st.st_mode & 0o111 else MODE_FILE
        return Entry(self.write_blob(full.read_bytes()), mode)

    def _worktree_matches(self, wd: Path, path: str, want: Entry | None) -> bool:
        full = wd / path
        if _beyond_link(wd, path):
            # A tracked directory replaced by a symlink (or a file): what lies beyond it is not
            # ours, so the path counts as absent, and a tracked file there as a local change.
            return want is None
        try:
            st = full.lstat()
        except FileNotFoundError:
            return want is None
        if want is None:
            return False
        if stat.S_ISLNK(st.st_mode):
            data = os.fsencode(os.readlink(full))
            mode = MODE_LINK
        elif stat.S_ISREG(st.st_mode):
            data = full.read_bytes()
            mode = MODE_EXEC if st.st_mode & 0o111 else MODE_FILE
        else:
            return False
        if want.mode in (MODE_FILE, MODE_EXEC) and mode in (MODE_FILE, MODE_EXEC):
            if (want.mode == MODE_EXEC) != (mode == MODE_EXEC):
                return False
        elif want.mode != mode:
            return False
        return str(pygit2.hash(data)) == want.id

    def checkout(
        self,
        target_commit: str,
        *,
        reason: str,
        force: bool = False,
        before_write: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Move the checkout from HEAD to target_commit, touching only the paths that differ.

        Refuses (DirtyCheckoutError, nothing changed) when any such path has staged,
        unstaged or untracked content that would be overwritten.  Edits to other paths
        are carried along, as ``git checkout`` does.  HEAD ends detached at the target.
        Returns the paths written or removed.
        """
        head = self.head()
        head_tree = self.tree_of(head) if head else self.empty_tree()
        target_tree = self.tree_of(target_commit)
        paths = sorted(set(self.changed_paths(head_tree, target_tree)))
        wd = self.workdir
        index = self._repo.index
        index.read(False)  # reload only if the file changed: 80k entries cost ~60 ms
        if not force:
            blocked = []
            for path in paths:
                had = self.entry(head_tree, path)
                want = self.entry(target_tree, path)
                staged = _index_entry(index, path)
                if (
                    staged != had
                    or not self._worktree_matches(wd, path, had)
                    and not self._worktree_matches(wd, path, want)
                ):
                    blocked.append(path)
            if blocked:
                more = f" and {len(blocked) - 5} more" if len(blocked) > 5 else ""
                raise DirtyCheckoutError(
                    "local changes would be overwritten: "
                    + ", ".join(blocked[:5])
                    + more
                    + "; refresh them into a patch or discard them first",
                    path=str(wd),
                )
        if before_write is not None:
            before_write(paths)  # e.g. journal them: a kill during the writes can be undone
        self.checkout_paths(target_tree, paths)
        self._repo.set_head(pygit2.Oid(hex=target_commit))
        del reason
        return paths

    def checkout_paths(self, tree_id: str, paths: Sequence[str]) -> None:
        """Make exactly these paths of the working tree and index match a tree (others untouched).

        libgit2 writes the files and their index entries (with stat data, so a later status
        is cheap) in C: about 6x faster than writing from Python on 2,000 files.  Callers
        have already refused to overwrite local edits.  libgit2 *does* write through a
        directory that was replaced by a symlink, so every path's components are checked
        with ``lstat`` first (:func:`_refuse_beyond_links`).
        """
        if not paths:
            return
        _refuse_beyond_links(self.workdir, paths)
        tree = self._tree(tree_id)
        _cut_to_new_size(self._repo, tree, paths)
        _checkout_in_place(self._repo, tree, list(paths))

    def start_checkout(self, tree_id: str, paths: Sequence[str]) -> BackgroundCheckout:
        """Begin :meth:`checkout_paths` on a thread; the caller must ``join`` before moving HEAD.

        Why: the files are written by libgit2 and the kernel with the GIL released, so a
        caller with Python work left (a replay's patch files) overlaps the two on two cores.
        The thread makes one libgit2 call (a Python loop there would stall on the GIL at every
        system call) on its own handle (libgit2 objects are used from one thread at a time);
        the objects kept in memory are written out first so that handle finds them.  Until
        ``join`` returns, nothing else may touch this checkout's index or files.
        """
        paths = list(paths)
        _refuse_beyond_links(self.workdir, paths)
        _cut_to_new_size(self._repo, self._tree(tree_id), paths)  # a Python loop: here, not on the thread
        return BackgroundCheckout(self._outside.path, tree_id, paths)

    def reset_index(self, commit_id: str, paths: Iterable[str] | None = None) -> None:
        """Make the index match a commit's tree (whole, or only the given paths), without touching files."""
        index = self._repo.index
        index.read(True)
        tree_id = self.tree_of(commit_id)
        wd = self.workdir
        if paths is None:
            index.read_tree(self._tree(tree_id))
            index.write()
            return
        for path in paths:
            e = self.entry(tree_id, path)
            if e is None:
                if path in index:
                    index.remove(path)
            elif self._worktree_matches(wd, path, e):
                index.add(path)  # restat so status stays fast and clean
            else:
                index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=e.id), FileMode(e.mode)))
        index.write()

    def set_head(self, commit_id: str) -> None:
        self._repo.set_head(pygit2.Oid(hex=commit_id))

    def write_tree_to_dir(
        self, tree_id: str, dest: Path, *, after_file: Callable[[str], None] | None = None
    ) -> int:
        """Materialise a tree into a plain directory (no git there). Returns the file count.

        ``after_file`` is called with each path written (the crash tests kill a half-done write).
        """
        n = 0
        for path, entry in self.list_files(tree_id):
            if entry.mode == MODE_GITLINK:
                continue
            _write(dest, path, self.read_blob(entry.id), entry.mode)
            n += 1
            if after_file is not None:
                after_file(path)
        return n

    # -- rebasing (added for pull-upstream / rebase-vendors) -----------------
    def merge_conflicts(
        self, ancestor: str, ours: str, theirs: str, labels: tuple[str, str, str]
    ) -> tuple[str, tuple[FileMerge, ...]]:
        """A conflicted 3-way tree merge in detail: the merged tree and every conflicted file.

        The returned tree holds the cleanly merged paths and, for each conflicted text file,
        its content with diff3-style markers named by ``labels`` (ancestor, ours, theirs);
        a file deleted on one side keeps the other side's content, as git leaves it.
        """
        index = self._repo.merge_trees(ancestor, ours, theirs)
        if index.conflicts is None:
            return str(index.write_tree(self._repo)), ()
        return self._describe_index(index, labels)

    def _describe_index(self, index: pygit2.Index, labels: tuple[str, str, str]) -> tuple[str, tuple[FileMerge, ...]]:
        """The conflicted index of a tree merge as a tree with diff3 markers and its conflicted files."""
        files: list[FileMerge] = []
        changes: dict[str, Entry | None] = {}
        assert index.conflicts is not None
        conflicts = list(index.conflicts)
        for anc, our, their in conflicts:
            path = next(e.path for e in (our, their, anc) if e is not None)
            side = [None if e is None else (e.path, Entry(str(e.id), int(e.mode))) for e in (anc, our, their)]
            merged: bytes | None = None
            if our is not None and their is not None:
                merged = self._merge_file(anc, our, their, labels)
            if merged is not None:
                assert our is not None
                changes[our.path] = Entry(self.write_blob(merged), int(our.mode))
            elif our is not None:
                changes[our.path] = Entry(str(our.id), int(our.mode))
            elif their is not None:
                changes[their.path] = Entry(str(their.id), int(their.mode))
            files.append(FileMerge(path, side[0], side[1], side[2], merged))
        gone = {e.path for trio in conflicts for e in trio if e is not None}
        for path in sorted(gone):
            with contextlib.suppress(KeyError):
                del index.conflicts[path]
        tree = str(index.write_tree(self._repo))
        return self.update_tree(tree, changes), tuple(files)

    def _merge_file(
        self,
        anc: pygit2.IndexEntry | None,
        ours: pygit2.IndexEntry,
        theirs: pygit2.IndexEntry,
        labels: tuple[str, str, str],
    ) -> bytes | None:
        """diff3-style merge of one file with labelled markers; None for binary files."""
        got = self._merge_file_c(anc, ours, theirs, labels)
        return None if got is None else got[1]

    def _merge_file_c(
        self,
        anc: pygit2.IndexEntry | None,
        ours: pygit2.IndexEntry,
        theirs: pygit2.IndexEntry,
        labels: tuple[str, str, str] | None,
        style: str = "diff3",
    ) -> tuple[bool, bytes] | None:
        """libgit2's file merge on bytes: (automergeable, content); labelled markers when labels are given.

        ``style`` is the marker style with labels: ``diff3`` (the base between ``|||||||`` and
        ``=======``) or ``merge`` (ours and theirs only, as ``git merge`` writes by default).
        Without labels the options are libgit2's defaults, exactly what merge_trees uses.
        """
        from pygit2._libgit2 import ffi
        from pygit2._libgit2 import lib as C

        opts = ffi.new("git_merge_file_options *")
        opts.version = 1
        keep = []
        if labels is not None:
            keep = [ffi.new("char[]", label.encode("utf-8", "surrogateescape")) for label in labels]
            opts.ancestor_label, opts.our_label, opts.their_label = keep
            opts.flags = int(MERGE_STYLES[style])
        out = ffi.new("git_merge_file_result *")
        refs = [e._to_c() if e is not None else (ffi.NULL, ffi.NULL) for e in (anc, ours, theirs)]
        err = C.git_merge_file_from_index(out, self._repo._repo, refs[0][0], refs[1][0], refs[2][0], opts)
        if err < 0:
            return None
        try:
            if out.ptr == ffi.NULL:
                return None
            data = bytes(ffi.buffer(out.ptr, out.len))
            ok = bool(out.automergeable)
        finally:
            C.git_merge_file_result_free(out)
        del keep, refs
        return ok, data

    def merge_file(
        self,
        path: str,
        ancestor: str,
        ours: str,
        theirs: str,
        mode: int,
        labels: tuple[str, str, str],
        style: str = "diff3",
    ) -> tuple[bool, bytes] | None:
        """A 3-way merge of three blobs with markers named by ``labels`` (ancestor, ours, theirs) in
        ``style`` (a key of :data:`MERGE_STYLES`): (clean, content); None for binary content."""
        e = [pygit2.IndexEntry(path, pygit2.Oid(hex=i), mode) for i in (ancestor, ours, theirs)]  # type: ignore[arg-type]
        return self._merge_file_c(e[0], e[1], e[2], labels, style)

    def exclude(self, pattern: str) -> None:
        """Add ``pattern`` to the repository's ``info/exclude`` (untracked files git and fspatch ignore)."""
        path = self.git_dir / "info" / "exclude"
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if pattern in old.splitlines():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(old + ("" if not old or old.endswith("\n") else "\n") + pattern + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def merge_small_change(self, ancestor: str, ours: str, theirs: str) -> MergeResult:
        """``merge_trees`` for the common case of a patch (theirs) that only modifies a few files.

        When every path changed from ancestor to theirs is a modification of a file present,
        with the same mode, in all three trees, the result is ours with each such path merged
        file by file (libgit2's file merge, default options: what merge_trees does for it);
        without adds, deletes or mode changes on theirs' side no rename can pair with those
        paths.  Anything else falls back to the full ``merge_trees``.  Cost follows the patch
        size, not the tree size.
        """
        diff = self._repo.diff(self._tree(ancestor), self._tree(theirs))  # type: ignore[call-overload]
        changes: dict[str, Entry | None] = {}
        for d in diff.deltas:
            if d.status != pygit2.enums.DeltaStatus.MODIFIED or d.old_file.mode != d.new_file.mode:
                return self.merge_trees(ancestor, ours, theirs)
            path = d.new_file.path
            o = self.entry(ours, path)
            if o is None or o.mode != int(d.old_file.mode):
                return self.merge_trees(ancestor, ours, theirs)
            a_id, t_id = str(d.old_file.id), str(d.new_file.id)
            if o.id == a_id or o.id == t_id:
                if o.id == a_id:
                    changes[path] = Entry(t_id, o.mode)
                continue
            merged = self._merge_blobs(path, a_id, o.id, t_id, o.mode)
            if merged is None:
                return self.merge_trees(ancestor, ours, theirs)  # the full merge names the conflicts
            changes[path] = Entry(self.write_blob(merged), o.mode)
        return MergeResult(self.update_tree(ours, changes), ())

    def merge_texts(
        self, path: str, base: bytes, ours: bytes, theirs: bytes, labels: tuple[str, str, str]
    ) -> tuple[bool, bytes] | None:
        """One file's 3-way merge on bytes: (clean, text); diff3 markers named by ``labels``.

        Cleanness is libgit2's default file merge (what ``merge_trees`` decides); the text is the
        diff3-style output the resolution ladder reads.  None for a binary file.
        """
        ids = [self.write_blob(data) for data in (base, ours, theirs)]
        e = [pygit2.IndexEntry(path, pygit2.Oid(hex=i), MODE_FILE) for i in ids]  # type: ignore[arg-type]
        plain = self._merge_file_c(e[0], e[1], e[2], None)
        if plain is None:
            return None
        if plain[0]:
            return True, plain[1]
        marked = self._merge_file_c(e[0], e[1], e[2], labels)
        return None if marked is None else (False, marked[1])

    def merge_patch(
        self,
        ancestor: str,
        ours: str,
        theirs: str,
        moves: Mapping[str, tuple[str, str]],
        labels: tuple[str, str, str],
        dir_moved: Callable[[str], bool] | None = None,
    ) -> PatchMerge:
        """A cherry-pick's 3-way merge (ancestor = old parent, theirs = old commit) whose cost follows the patch.

        The patch's own changes are found by walking only the subtrees that differ between
        ancestor and theirs.  Each changed path is then decided against ours, file by file:
        a modification is merged with libgit2's file merge (the same options merge_trees
        uses, diff3-style markers in the conflicted output only); an add, a delete or a mode
        change is taken when ours still has the ancestor's entry; a path ours lacks is
        followed through ``moves`` (upstream's renames and deletions between the pins,
        computed once per replay: ``old path -> ("R", new path) | ("D", old path)``).  A file
        the patch adds into a directory ours no longer has conflicts, as in merge-ort, when
        ``dir_moved`` says upstream renamed files out of that directory.
        Where the map cannot decide -- add/add, a patch that both deletes and adds while
        ours changed the deleted file, a path gone for another reason, directory/file clashes,
        submodules, type changes -- the whole-tree ``merge_trees`` runs once, and its conflicts
        are described from that same merge.
        """
        changes = self.changed_files(ancestor, theirs)
        paths = tuple(sorted({p for p, _a, _t in changes}))
        decided = self._decide(ancestor, ours, changes, moves, labels, dir_moved)
        if decided is None:
            tree, conflict_tree, files = self._tree_merge(ancestor, ours, theirs, labels)
            return PatchMerge(tree, conflict_tree, files, paths, True)
        updates, files = decided
        new_tree = self.update_tree(ours, updates)
        if files:
            return PatchMerge(None, new_tree, files, paths, False)
        return PatchMerge(new_tree, None, (), paths, False)

    def _decide(
        self,
        ancestor: str,
        ours: str,
        changes: Sequence[tuple[str, Entry | None, Entry | None]],
        moves: Mapping[str, tuple[str, str]],
        labels: tuple[str, str, str],
        dir_moved: Callable[[str], bool] | None,
    ) -> tuple[dict[str, Entry | None], tuple[FileMerge, ...]] | None:
        """Per-path decisions of :meth:`merge_patch`; None where only a whole-tree merge can decide."""
        updates: dict[str, Entry | None] = {}
        files: list[FileMerge] = []
        for path, a, t in changes:
            if _special(a) or _special(t):
                return None
            o = self.entry(ours, path)
            if o is not None and _special(o):
                return None
            if a is None:  # the patch adds the path
                assert t is not None
                if o is not None:
                    if o == t:
                        continue
                    return None  # add/add
                where = self._add_place(ours, ancestor, path)
                if where is None:
                    return None
                if where and dir_moved is not None and dir_moved(where):
                    # merge-ort: a file added into a directory the other side renamed away is a conflict
                    files.append(FileMerge(path, None, None, (path, t), None, "directory renamed upstream"))
                updates[path] = t
                continue
            if t is None:  # the patch deletes the path
                if o == a:
                    updates[path] = None
                    continue
                if o is None and moves.get(path, ("", ""))[0] == "D":
                    continue  # deleted upstream too
                return None
            target = path
            if o is None:
                hit = moves.get(path)
                if hit is None:
                    return None  # gone for a reason the map does not know
                if hit[0] == "D":
                    files.append(FileMerge(path, (path, a), None, (path, t), None))
                    updates[path] = t  # git leaves the patch's side of a modify/delete
                    continue
                target = hit[1]
                o = self.entry(ours, target)
                if o is None or _special(o) or self.entry(ancestor, target) is not None:
                    return None
                if (a.mode & 0o170000) != (o.mode & 0o170000):
                    return None
            mode = _merge_mode(a.mode, o.mode, t.mode)
            if mode is None:
                return None
            if o.id == a.id or o.id == t.id:
                blob = t.id
            elif t.id == a.id:
                blob = o.id
            else:
                got = self._merge_file_ids(target, (path, a), (target, o), (path, t), labels)
                if got is None:  # binary: libgit2 keeps ours and reports a conflict
                    files.append(FileMerge(target, (path, a), (target, o), (path, t), None))
                    updates[target] = o
                    if target != path:
                        updates[path] = None
                    continue
                clean, data = got
                blob = self.write_blob(data)
                if not clean:
                    files.append(FileMerge(target, (path, a), (target, o), (path, t), data))
            if target != path:
                updates[path] = None
            updates[target] = Entry(blob, mode)
        return updates, tuple(files)

    def _add_place(self, ours: str, ancestor: str, path: str) -> str | None:
        """Can ours take a new file at path?  "" yes; a directory name: yes, but that directory
        of the ancestor is gone from ours (a directory rename may claim the file); None: only
        a whole-tree merge can tell (a directory/file clash)."""
        if self.is_dir(ours, path):
            return None
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if self.entry(ours, prefix) is not None:
                return None  # a file where the patch needs a directory
            if not self.is_dir(ours, prefix):
                if self.entry(ancestor, prefix) is not None:
                    return None
                gone = ""
                for j in range(len(parts) - 1, i - 1, -1):
                    deeper = "/".join(parts[:j])
                    if self.is_dir(ancestor, deeper):
                        gone = deeper
                        break
                return gone
        return ""

    def _merge_file_ids(
        self,
        path: str,
        anc: tuple[str, Entry],
        ours: tuple[str, Entry],
        theirs: tuple[str, Entry],
        labels: tuple[str, str, str],
    ) -> tuple[bool, bytes] | None:
        """One file's merge: (clean, content with diff3 markers where it conflicts); None for binaries.

        The diff3 style only changes how a conflict is written: whether a file merges
        cleanly, and its clean content, are those of libgit2's default file merge.
        """
        e = [pygit2.IndexEntry(p, pygit2.Oid(hex=x.id), x.mode) for p, x in (anc, ours, theirs)]  # type: ignore[arg-type]
        return self._merge_file_c(e[0], e[1], e[2], labels)

    def _tree_merge(
        self, ancestor: str, ours: str, theirs: str, labels: tuple[str, str, str]
    ) -> tuple[str | None, str | None, tuple[FileMerge, ...]]:
        """One merge_trees: (clean tree, None, ()) or (None, conflict tree with markers, conflicted files)."""
        index = self._repo.merge_trees(ancestor, ours, theirs)
        if index.conflicts is None:
            return str(index.write_tree(self._repo)), None, ()
        tree, files = self._describe_index(index, labels)
        return None, tree, files

    def changed_files(self, old_tree: str, new_tree: str) -> list[tuple[str, Entry | None, Entry | None]]:
        """(path, old entry, new entry) of every blob that differs; only differing subtrees are read.

        A whole-tree diff walks every entry of both trees (26 ms on a 78k-file tree); this
        walk costs what the change costs.  A file replaced by a directory (or back) appears
        as its blobs on each side.  The answer is remembered per pair of tree ids (the last
        :data:`_CHANGES_KEPT`): a replay asks for each old patch's change up to three times
        (the paths the old stack changes, the merge, the patch-id), 117 of 278 walks.
        """
        key = (old_tree, new_tree)
        got = self._changes.get(key)
        if got is None:
            out: list[tuple[str, Entry | None, Entry | None]] = []
            if old_tree != new_tree:
                old = self._tree(old_tree) if old_tree else None
                self._changed(old, self._tree(new_tree) if new_tree else None, "", out)
            out.sort(key=lambda x: x[0])
            got = self._changes[key] = tuple(out)
            if len(self._changes) > _CHANGES_KEPT:
                del self._changes[next(iter(self._changes))]
        return list(got)

    def _changed(
        self,
        old: pygit2.Tree | None,
        new: pygit2.Tree | None,
        prefix: str,
        out: list[tuple[str, Entry | None, Entry | None]],
    ) -> None:
        a = {str(o.name): o for o in old} if old is not None else {}
        b = {str(o.name): o for o in new} if new is not None else {}
        for name in sorted(a.keys() | b.keys()):
            x, y = a.get(name), b.get(name)
            if x is not None and y is not None and x.id == y.id and (x.type == _TREE or x.filemode == y.filemode):
                continue
            path = prefix + name
            xt = x is not None and x.type == _TREE
            yt = y is not None and y.type == _TREE
            if xt or yt:
                self._changed(
                    cast(pygit2.Tree, x) if xt else None, cast(pygit2.Tree, y) if yt else None, path + "/", out
                )
            xe = Entry(str(x.id), int(x.filemode)) if x is not None and not xt else None
            ye = Entry(str(y.id), int(y.filemode)) if y is not None and not yt else None
            if xe is not None or ye is not None:
                out.append((path, xe, ye))

    def _merge_blobs(self, path: str, anc: str, ours: str, theirs: str, mode: int) -> bytes | None:
        """One file's 3-way merge with libgit2's defaults; None when it conflicts (or is binary)."""
        e = [pygit2.IndexEntry(path, pygit2.Oid(hex=i), mode) for i in (anc, ours, theirs)]  # type: ignore[arg-type]
        got = self._merge_file_c(e[0], e[1], e[2], None)
        if got is None or not got[0]:
            return None
        return got[1]

    def first_parent_range(self, old: str, new: str) -> list[str]:
        """Commits reachable from new but not from old, first parents only, oldest first."""
        walker = self._repo.walk(pygit2.Oid(hex=new), pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        walker.simplify_first_parent()
        walker.hide(pygit2.Oid(hex=old))
        return [str(c.id) for c in walker]

    def line_hunks(self, old: bytes, new: bytes) -> list[tuple[int, int, int, int]]:
        """Changed line ranges between two texts, 0 lines of context: (old_start, old_count, new_start, new_count).

        Starts are 1-based as in a unified diff (for a count of 0, the line after which the change sits).
        """
        patch = pygit2.Patch.create_from(old, new, context_lines=0, flag=DiffOption.FORCE_TEXT)
        return [(h.old_start, h.old_lines, h.new_start, h.new_lines) for h in patch.hunks]

    def tree_moves(self, old_tree: str, new_tree: str) -> list[tuple[str, str, str]]:
        """(status, old_path, new_path) of deletions ("D") and renames ("R") between two trees."""
        diff = self._repo.diff(self._tree(old_tree), self._tree(new_tree))  # type: ignore[call-overload]
        diff.find_similar(flags=DiffFind.FIND_RENAMES)
        out = []
        for d in diff.deltas:
            if d.status == pygit2.enums.DeltaStatus.DELETED:
                out.append(("D", d.old_file.path, d.old_file.path))
            elif d.status == pygit2.enums.DeltaStatus.RENAMED:
                out.append(("R", d.old_file.path, d.new_file.path))
        return out

    def blame(self, commit_id: str, path: str) -> list[str]:
        """The commit that last changed each line of ``path`` as it is at ``commit_id``.

        ``git blame``'s answer, computed on the objects: the history is walked from
        ``commit_id`` (commit time order, one state per commit and path, so sides of a merge
        meet again), a commit that leaves the file's blob as one of its parents has it passes
        every line to that parent, and a commit that changes the file keeps the lines its
        libgit2 line diff against each parent (first parent first) shows as added and passes
        the others down.  Whole-file renames are followed (found with a tree diff, only at the
        commit where the path appears).  A parent that is not in the repository (a shallow
        clone's boundary) ends the walk: its child owns what is left.  Cost: one tree lookup
        per commit reached and one line diff per version of the file -- not a history walk per
        line (libgit2's own blame takes 1-5 s on Megatron-LM files; this takes a fraction).
        Lines are split on ``\\n`` as everywhere in fspatch.
        """
        import heapq

        start = self._repo[pygit2.Oid(hex=commit_id)]
        if not isinstance(start, pygit2.Commit):
            raise GitError(f"{commit_id} is not a commit")
        blob = _path_blob(start.tree, path)
        if blob is None:
            raise GitError(f"{path}: not in commit {commit_id[:12]}")
        data = self._repo[blob].data
        n = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        owners: list[str] = [""] * n
        # key (commit id, path) -> [commit, path, blob, pairs (position in blob, final line) sorted]
        waiting: dict[tuple[pygit2.Oid, str], list[object]] = {}
        heap: list[tuple[int, int, tuple[pygit2.Oid, str]]] = []
        seq = 0

        def push(commit: pygit2.Commit, at: str, blob_id: pygit2.Oid, pairs: list[tuple[int, int]]) -> None:
            nonlocal seq
            if not pairs:
                return
            key = (commit.id, at)
            found = waiting.get(key)
            if found is not None:
                merged = cast(list[tuple[int, int]], found[3]) + pairs
                merged.sort()
                found[3] = merged
                return
            waiting[key] = [commit, at, blob_id, pairs]
            seq += 1
            heapq.heappush(heap, (-commit.commit_time, seq, key))

        blobs: OrderedDict[pygit2.Oid, pygit2.Object] = OrderedDict()

        def blob_obj(oid: pygit2.Oid) -> pygit2.Object:
            """Blobs are read twice (as a diff's old side, then as its parent's new side): keep the last few."""
            found = blobs.get(oid)
            if found is None:
                found = blobs[oid] = self._repo[oid]
                if len(blobs) > 64:
                    blobs.popitem(last=False)
            else:
                blobs.move_to_end(oid)
            return found

        push(start, path, blob, [(i, i) for i in range(n)])
        while heap:
            _, _, key = heapq.heappop(heap)
            commit, at, blob_id, pairs = cast(
                tuple[pygit2.Commit, str, pygit2.Oid, list[tuple[int, int]]], tuple(waiting.pop(key))
            )
            parents = self._present_parents(commit)
            sides: list[tuple[pygit2.Commit, str, pygit2.Oid]] = []
            same = None
            for parent in parents:
                pb = _path_blob(parent.tree, at)
                if pb == blob_id:
                    same = parent
                    break
                if pb is not None:
                    sides.append((parent, at, pb))
            if same is not None:
                push(same, at, blob_id, pairs)
                continue
            if not sides and parents:  # the path appears here: a rename or copy from the first parent?
                old = self._renamed_from(parents[0], commit, at)
                if old is not None:
                    ob = _path_blob(parents[0].tree, old)
                    if ob == blob_id:
                        push(parents[0], old, blob_id, pairs)
                        continue
                    if ob is not None:
                        sides.append((parents[0], old, ob))
            new_blob = blob_obj(blob_id)
            for parent, ppath, pb in sides:
                if not pairs:
                    break
                patch = pygit2.Patch.create_from(
                    blob_obj(pb), new_blob, context_lines=0, flag=DiffOption.FORCE_TEXT
                )
                hunks = [(h.old_start, h.old_lines, h.new_start, h.new_lines) for h in patch.hunks]
                passed, pairs = _through(pairs, hunks)
                push(parent, ppath, pb, passed)
            me = str(commit.id)
            for _, final in pairs:
                owners[final] = me
        return owners

    def _present_parents(self, commit: pygit2.Commit) -> list[pygit2.Commit]:
        out: list[pygit2.Commit] = []
        for pid in commit.parent_ids:
            try:
                parent = self._repo[pid]
            except KeyError:  # a shallow clone's boundary
                continue
            if isinstance(parent, pygit2.Commit):
                out.append(parent)
        return out

    def _renamed_from(self, parent: pygit2.Commit, commit: pygit2.Commit, path: str) -> str | None:
        diff = self._repo.diff(parent.tree, commit.tree)  # type: ignore[call-overload]
        diff.find_similar(flags=DiffFind.FIND_RENAMES | DiffFind.FIND_COPIES)
        for d in diff.deltas:
            if d.new_file.path == path and d.status in (
                pygit2.enums.DeltaStatus.RENAMED,
                pygit2.enums.DeltaStatus.COPIED,
            ):
                return str(d.old_file.path)
        return None

    def find_renames(self, sources: Mapping[str, Entry], targets: Mapping[str, Entry]) -> dict[str, str]:
        """Where each source file went among the targets (libgit2's rename detection, 50 % similarity).

        Only the given files are compared (two small trees are written for it; inside
        :meth:`objects_in_memory`, dropped again when only the search wrote them), so the cost
        follows the number of candidates, not the size of the trees they come from.  The two
        trees are flat: each file is named by its path's rank (``00000012``), so 2 trees are
        written instead of every directory on both sides (~300 for Megatron-LM's 1,049 added
        files).  libgit2's similarity reads a path nowhere but in the order of the deltas (it
        scores blob ids, modes, sizes and contents), and ranks over both sides in byte order
        keep that order and the deltas themselves (a path on both sides has one name).
        """
        if not sources or not targets:
            return {}
        targets = self._size_compatible(sources, targets)
        if not targets:
            return {}
        paths = sorted(sources.keys() | targets.keys(), key=lambda p: p.encode("utf-8", "surrogateescape"))
        width = len(str(len(paths)))
        name = {p: f"{i:0{width}d}" for i, p in enumerate(paths)}
        trees = []
        with self._scratch_objects():
            for side in (sources, targets):
                builder = self._repo.TreeBuilder()
                for p, e in side.items():
                    builder.insert(name[p], pygit2.Oid(hex=e.id), e.mode)
                trees.append(builder.write())
            diff = self._repo.diff(self._repo[trees[0]], self._repo[trees[1]])  # type: ignore[call-overload]
            diff.find_similar(flags=DiffFind.FIND_RENAMES, rename_limit=max(1000, len(sources) + len(targets)))
        out = {}
        for d in diff.deltas:
            if d.status == pygit2.enums.DeltaStatus.RENAMED:
                out[paths[int(d.old_file.path)]] = paths[int(d.new_file.path)]
        return out

    def _size_compatible(self, sources: Mapping[str, Entry], targets: Mapping[str, Entry]) -> dict[str, Entry]:
        """The targets git's rename detection would compare with some source at all.

        diffcore-rename skips a pair whose smaller blob is under half the larger (a 50 % score
        is out of reach); libgit2 compares such pairs (up to 8x) and reads every target blob.
        To Megatron-LM's tip, 6 sources x 2,032 added files took libgit2 1.5 s.  Sizes come
        from the object headers.
        """
        odb = self._repo.odb

        def size(e: Entry) -> int | None:
            try:
                return int(odb.read_header(pygit2.Oid(hex=e.id))[1])
            except (KeyError, ValueError, pygit2.GitError):
                return None  # not in this repository (a gitlink): libgit2 decides as before

        got = {size(e) for e in sources.values()}
        if None in got:
            return dict(targets)
        sizes = sorted(s for s in got if s is not None)
        out = {}
        for path, e in targets.items():
            n = size(e)
            if n is None or any(2 * min(n, s) >= max(n, s) for s in sizes):
                out[path] = e
        return out

    def range_commits(self, old: str, new: str) -> list[CommitNode]:
        """Every commit reachable from new but not from old (merges and branch commits too), oldest first."""
        walker = self._repo.walk(pygit2.Oid(hex=new), pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        walker.hide(pygit2.Oid(hex=old))
        return [CommitNode(str(c.id), str(c.tree_id), tuple(str(p) for p in c.parent_ids)) for c in walker]

    def commit_node(self, commit_id: str) -> CommitNode:
        """A commit's id, tree and parents only (no message or signatures decoded, unlike :meth:`commit_info`)."""
        c = self._repo[pygit2.Oid(hex=commit_id)]
        if not isinstance(c, pygit2.Commit):
            raise GitError(f"{commit_id} is not a commit")
        return CommitNode(str(c.id), str(c.tree_id), tuple(str(p) for p in c.parent_ids))

    def first_parent_line(self, old: str, new: str) -> list[CommitNode] | None:
        """new's first-parent line down to old (excluded), oldest first; None when old is not on it.

        The same line as following first parents through :meth:`range_commits` (no commit
        above old on it can be reachable from old: it would be old's ancestor and descendant
        at once), without listing the merged branches' commits (933 -> 300 commits read on
        FlagScale's pull).
        """
        line: list[CommitNode] = []
        repo = self._repo
        cur = pygit2.Oid(hex=new)
        stop = pygit2.Oid(hex=old)
        while cur != stop:
            c = cast(pygit2.Commit, repo[cur])
            parents = c.parent_ids
            line.append(CommitNode(str(cur), str(c.tree_id), tuple(str(p) for p in parents)))
            if not parents:
                return None
            cur = parents[0]
        line.reverse()
        return line

    def branch_commits(self, merge: str) -> list[CommitNode]:
        """The commits a merge brought in: reachable from its other parents, not from its first, oldest first."""
        c = cast(pygit2.Commit, self._repo[pygit2.Oid(hex=merge)])
        parents = list(c.parent_ids)
        if len(parents) < 2:
            return []
        walker = self._repo.walk(parents[1], pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        for extra in parents[2:]:
            walker.push(extra)
        walker.hide(parents[0])
        return [CommitNode(str(x.id), str(x.tree_id), tuple(str(p) for p in x.parent_ids)) for x in walker]

    def changed_among(self, old_tree: str, new_tree: str, paths: PathTrie) -> list[str]:
        """Which of the given paths differ between two trees; only subtrees on those paths are read."""
        out: list[str] = []
        if old_tree != new_tree:
            self._among(self._tree(old_tree), self._tree(new_tree), paths, "", out)
        return out

    def _among(self, a: pygit2.Tree | None, b: pygit2.Tree | None, node: PathTrie, prefix: str, out: list[str]) -> None:
        for name, sub in node.items():
            x = _child(a, name)
            y = _child(b, name)
            if x is None and y is None:
                continue
            if x is not None and y is not None and x.id == y.id and (x.type == _TREE or x.filemode == y.filemode):
                continue
            if sub is None:
                out.append(prefix + name)
                continue
            xt = cast(pygit2.Tree, x) if x is not None and x.type == _TREE else None
            yt = cast(pygit2.Tree, y) if y is not None and y.type == _TREE else None
            self._among(xt, yt, sub, prefix + name + "/", out)

    def changed_exactly(self, old_tree: str, new_tree: str, paths: Collection[str]) -> bool:
        """Whether the blobs that differ between two trees are exactly these paths.

        The same answer as comparing :meth:`changed_files`' paths with them, but a walk that
        stops at the first difference elsewhere: a merged commit touching 300 files is told
        apart at its root tree, not by listing all 300.  Paths where one is a directory of
        another (a file replaced by a directory) take the full listing.
        """
        want = set(paths)
        if old_tree == new_tree:
            return not want
        if any(q.startswith(p + "/") for p in want for q in want):
            return {p for p, _a, _b in self.changed_files(old_tree, new_tree)} == want
        return self._exactly(self._tree(old_tree), self._tree(new_tree), path_trie(want)) == len(want)

    def _exactly(self, a: pygit2.Tree | None, b: pygit2.Tree | None, node: PathTrie) -> int:
        """How many trie paths differ below these trees; -1 as soon as anything else does."""
        x_by = {str(o.name): o for o in a} if a is not None else {}
        y_by = {str(o.name): o for o in b} if b is not None else {}
        found = 0
        for name in x_by.keys() | y_by.keys():
            x, y = x_by.get(name), y_by.get(name)
            if x is not None and y is not None and x.id == y.id and (x.type == _TREE or x.filemode == y.filemode):
                continue
            if name not in node:
                return -1
            sub = node[name]
            xt = x is not None and x.type == _TREE
            yt = y is not None and y.type == _TREE
            if sub is None:
                if xt or yt:  # a file replaced by a directory (or back): blobs below it differ too
                    return -1
                found += 1
                continue
            if (x is not None and not xt) or (y is not None and not yt):
                return -1  # a blob where the trie has a directory
            got = self._exactly(cast(pygit2.Tree, x) if xt else None, cast(pygit2.Tree, y) if yt else None, sub)
            if got < 0:
                return -1
            found += got
        return found

    def _blob_obj(self, blob_id: str | None) -> pygit2.Blob | None:
        """A blob object, the last few kept: a file's history diffs each version twice (as after, then before)."""
        if blob_id is None:
            return None
        got = self._recent.get(blob_id)
        if got is None:
            if len(self._recent) >= 8:
                self._recent.clear()
            got = self._recent[blob_id] = cast(pygit2.Blob, self._repo[pygit2.Oid(hex=blob_id)])
        return got

    def blob_hunks(self, old_id: str | None, new_id: str | None) -> list[tuple[int, int, int, int]]:
        """:meth:`line_hunks` of two blobs by id (None: empty), without copying their bytes out."""
        patch = pygit2.Patch.create_from(
            self._blob_obj(old_id), self._blob_obj(new_id), context_lines=0, flag=DiffOption.FORCE_TEXT
        )
        return [(h.old_start, h.old_lines, h.new_start, h.new_lines) for h in patch.hunks]

    def blob_change_window(self, old_id: str, new_id: str) -> tuple[int, int, int] | None:
        """(first, old_end, new_end): every hunk :meth:`blob_hunks` gives lies in these 0-based line bounds.

        Old lines ``first..old_end`` and new lines ``first..new_end`` (half-open hunks, an
        insertion's position included) bound every hunk; the lines outside are the texts'
        common first and last lines, the same in number on both sides.  Found from the bytes
        alone: a few comparisons and a newline count, about a third of a diff of a 165 KB file.

        Why this holds, from xdiff (libgit2's copy of git's): records (lines) are classified by
        content, the common leading records and then the common trailing ones (at most what
        the shorter text has left) are trimmed (``xdl_trim_ends``), and only the records between
        are diffed; ``xdl_change_compact`` then slides each change group up as far as it can and
        back down as far as it can, keeping the lowest place unless a place lines up with a
        change of the other side.  A group never ends above where it started except to line
        up with such a change, and the trimmed leading lines hold none, so no hunk starts
        before ``first``.  A group can slide down into the trimmed trailing lines only if its
        first record equals the first trailing record; that record not being any record
        between the trims (checked here, else None) keeps every hunk above the trailing lines.
        None too when the trims overlap (a text is all common lines plus an inserted repeat).
        """
        a = self._blob_bytes(old_id)
        b = self._blob_bytes(new_id)
        if a == b:
            return None
        la, lb = len(a), len(b)
        # common leading bytes (binary search; each probe compares only the undecided part)
        lo, hi = 0, min(la, lb)
        while lo < hi:
            m = (lo + hi + 1) // 2
            if a.startswith(b[lo:m], lo):
                lo = m
            else:
                hi = m - 1
        start = a.rfind(b"\n", 0, lo) + 1  # the first record not common to both (same offset in b)
        # common trailing bytes of "\n" + a and "\n" + b: records start after a newline
        lo, hi = 0, min(la, lb)
        while lo < hi:
            m = (lo + hi + 1) // 2
            if a.endswith(b[lb - m : lb - lo], 0, la - lo):
                lo = m
            else:
                hi = m - 1
        tail = lo
        if tail == min(la, lb) and (la == lb or (a if la > lb else b)[abs(la - lb) - 1 : abs(la - lb)] == b"\n"):
            tail += 1  # the shorter text is all trailing bytes and its first line starts a record in the other
        # the first trailing record starts after the first newline in the trailing bytes of "\n" + a
        k = la + 1 - tail
        nl = 0 if k == 0 else a.find(b"\n", k - 1) + 1
        if (k > 0 and nl == 0) or nl == la:
            end_a, end_b = la, lb  # no common trailing record
            first_tail = b""
        else:
            end_a = nl  # in a's coordinates: the record starts at offset nl of a
            end_b = lb - (la - nl)
            stop = a.find(b"\n", end_a)
            first_tail = a[end_a : stop + 1] if stop >= 0 else a[end_a:]
        if end_a < start or end_b < start:
            return None  # the trims overlap
        first = self._lines_before(old_id, a, start)
        if len(self._nl_at) >= 8:
            self._nl_at.clear()
        self._nl_at[new_id] = (start, first)  # b's first `start` bytes are a's: its next window counts from here
        mid_a = a.count(b"\n", start, end_a) + (1 if end_a == la and end_a > start and not a.endswith(b"\n") else 0)
        mid_b = b.count(b"\n", start, end_b) + (1 if end_b == lb and end_b > start and not b.endswith(b"\n") else 0)
        if first_tail.endswith(b"\n") and (
            _has_record(a, first_tail, start, end_a) or _has_record(b, first_tail, start, end_b)
        ):
            return None  # a change group could slide into the trailing lines
        return first, first + mid_a, first + mid_b

    def _lines_before(self, blob_id: str, data: bytes, offset: int) -> int:
        """How many newlines data has before offset, counted from a known offset of the same blob when there is one.

        A file's history asks each version's prefix count twice (as new, then as old), and the
        two offsets are near each other: counting only the bytes between halves the counting.
        """
        known = self._nl_at.get(blob_id)
        if known is None:
            return data.count(b"\n", 0, offset)
        at, n = known
        if offset >= at:
            return n + data.count(b"\n", at, offset)
        return n - data.count(b"\n", offset, at)

    def blob_bytes(self, blob_id: str) -> bytes:
        """:meth:`read_blob` through the few blob objects a diff just read (no second inflate)."""
        obj = self._blob_obj(blob_id)
        assert obj is not None
        return bytes(memoryview(obj))

    def _blob_bytes(self, blob_id: str) -> bytes:
        """A blob's bytes, the last two kept: a file's history asks for each version twice (as new, then old)."""
        got = self._recent_data.get(blob_id)
        if got is None:
            obj = self._blob_obj(blob_id)
            assert obj is not None
            if len(self._recent_data) >= 2:
                self._recent_data.pop(next(iter(self._recent_data)))
            got = self._recent_data[blob_id] = bytes(memoryview(obj))  # a third of .data's cost
        return got

    def blob_changed_lines(self, old_id: str | None, new_id: str | None) -> tuple[set[bytes], set[bytes]]:
        """(removed lines, added lines) between two blobs, stripped, blank lines left out."""
        patch = pygit2.Patch.create_from(
            self._blob_obj(old_id), self._blob_obj(new_id), context_lines=0, flag=DiffOption.FORCE_TEXT
        )
        removed: set[bytes] = set()
        added: set[bytes] = set()
        for h in patch.hunks:
            for line in h.lines:
                text = line.raw_content.strip()
                if not text:
                    continue
                if line.origin == "-":
                    removed.add(text)
                elif line.origin == "+":
                    added.add(text)
        return removed, added

    def patch_id(self, old_tree: str, new_tree: str) -> str:
        """git's stable patch-id of the change between two trees (whitespace and line numbers ignored)."""
        changes = self.changed_files(old_tree, new_tree)
        blobs = self._modified_text_blobs(changes)
        if blobs is not None:
            # in-place modifications only: the blob diffs, parsed back, are the tree diff's deltas
            # (same patch-id on 300 of 300 Megatron-LM commits) without writing two small trees
            text = b"".join(
                pygit2.Patch.create_from(old, new, old_as_path=path, new_as_path=path, context_lines=3).data
                for path, old, new in blobs
            )
            return str(pygit2.Diff.parse_diff(text).patchid)
        empty = self.empty_tree()
        with self._scratch_objects():
            old_small = self.update_tree(empty, {p: a for p, a, _b in changes if a is not None})
            new_small = self.update_tree(empty, {p: b for p, _a, b in changes if b is not None})
            diff = self._repo.diff(self._tree(old_small), self._tree(new_small))  # type: ignore[call-overload]
            return str(diff.patchid)

    def write_worktree(self, tree_id: str, paths: Iterable[str]) -> None:
        """Write the given paths of a tree into the working tree (removing absent ones); the index is left alone."""
        wd = self.workdir
        for path in paths:
            e = self.entry(tree_id, path)
            if e is None:
                _remove(wd, path)
            elif e.mode != MODE_GITLINK:
                _write(wd, path, self.read_blob(e.id), e.mode)

    def reset_hard(self, target_commit: str, *, discard_local: bool = True) -> list[str]:
        """Make HEAD (detached), index and working tree match a commit, discarding every local edit.

        Only paths that differ (from HEAD's tree, or locally edited) are written; ignored files stay.
        ``discard_local=False`` skips the status scan when the caller knows the checkout is clean.
        """
        head = self.head()
        head_tree = self.tree_of(head) if head else self.empty_tree()
        target_tree = self.tree_of(target_commit)
        wanted = set(self.changed_paths(head_tree, target_tree))
        if discard_local:
            wanted |= set(self.dirty_paths())
        paths = sorted(wanted)
        self.checkout_paths(target_tree, paths)  # FORCE: also resets staged edits of these paths
        self._repo.set_head(pygit2.Oid(hex=target_commit))
        return paths

    def set_head_ref(self, ref_name: str) -> None:
        """Point HEAD at a branch (symbolic), e.g. to restore a checkout that was on a branch."""
        self._repo.set_head(ref_name)

    def direct_refs(self) -> dict[str, str]:
        """Every direct (non-symbolic) ref and its target."""
        out = {}
        for ref in self._repo.references.iterator():
            if ref.type == pygit2.enums.ReferenceType.DIRECT:
                out[ref.name] = str(ref.target)
        return out

    def force_ref(self, name: str, new: str | None) -> None:
        """Set or delete a ref without a compare (abort restores refs saved before the operation)."""
        if new is None:
            if name in self._repo.references:
                self._repo.references.delete(name)
            return
        self._repo.create_reference_direct(name, pygit2.Oid(hex=new), True)


def may_fork(switch: str) -> bool:
    """Can a helper child be forked safely here (POSIX, this thread alone, ``switch`` not set to 0)?

    A fork copies only this thread; another thread's held locks would stay held in the child.
    """
    import threading

    return (
        hasattr(os, "fork")
        and sys.platform != "win32"
        and os.environ.get(switch, "1") != "0"
        and threading.active_count() == 1
    )


def become_helper() -> None:
    """In a forked helper: the signals a user or a pipe sends end it, as they would any process,
    and its stdin, stdout and stderr are ``/dev/null``.

    Why the null files: not the parent's terminal or pipes, so whoever reads fspatch's output
    sees its end when the parent ends, even while a helper of a parent killed mid-way finishes.
    """
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    if null > 2:
        os.close(null)


def _objects_dir(git_dir: Path) -> Path:
    """Where a repository's objects live (a linked worktree's are in its common directory)."""
    common = git_dir / "commondir"
    if common.is_file():
        git_dir = git_dir / common.read_text(encoding="utf-8").strip()
    return git_dir / "objects"


def _write_pack(objects_dir: Path, objects: Mapping[pygit2.Oid, tuple[int, bytes]]) -> None:
    """Write objects as one pack and its version-2 index in ``objects/pack`` (whole objects, no deltas).

    The format git's own ``pack-objects`` writes without deltas: a header, each object's type
    and size then its zlib stream, the SHA-1 of all that; the index lists the names in order
    with a fan-out table, each entry's CRC-32 and offset, the pack's checksum and its own.  The
    pack is renamed into place before its index, so a reader never finds an index without
    its pack.  libgit2's pack builder spent 0.24 s searching deltas for the ~700 objects of a
    replay.  The zlib streams are deflated at level 1, git's ``core.looseCompression``: the
    objects take the room their loose files took before (the Megatron-LM replay's 2.4 MB make a
    0.8 MB pack, ~28 ms; stored streams would save that time but triple the pack on every
    pull until ``git gc``).  ``git gc`` deltifies it as it does loose objects.
    """
    import hashlib
    import struct
    import tempfile
    import zlib

    pack = bytearray(b"PACK" + struct.pack(">II", 2, len(objects)))
    index: list[tuple[bytes, int, int]] = []
    for oid, (kind, data) in objects.items():
        size = len(data)
        byte = (kind << 4) | (size & 0x0F)
        size >>= 4
        head = bytearray()
        while size:
            head.append(byte | 0x80)
            byte = size & 0x7F
            size >>= 7
        head.append(byte)
        entry = bytes(head) + zlib.compress(data, 1)
        index.append((oid.raw, zlib.crc32(entry), len(pack)))
        pack += entry
    checksum = hashlib.sha1(pack).digest()
    pack += checksum
    index.sort()
    fanout = [0] * 256
    for raw, _crc, _off in index:
        fanout[raw[0]] += 1
    total = 0
    for i in range(256):
        total += fanout[i]
        fanout[i] = total
    small: list[int] = []
    large: list[int] = []
    for _raw, _crc, off in index:
        if off < 0x80000000:
            small.append(off)
        else:
            small.append(0x80000000 | len(large))
            large.append(off)
    idx = bytearray(b"\377tOc" + struct.pack(">I", 2))
    idx += struct.pack(">256I", *fanout)
    idx += b"".join(raw for raw, _crc, _off in index)
    idx += struct.pack(f">{len(index)}I", *(crc for _raw, crc, _off in index))
    idx += struct.pack(f">{len(small)}I", *small)
    idx += struct.pack(f">{len(large)}Q", *large)
    idx += checksum
    idx += hashlib.sha1(idx).digest()
    where = objects_dir / "pack"
    where.mkdir(parents=True, exist_ok=True)
    name = f"pack-{checksum.hex()}"
    for suffix, content in ((".pack", pack), (".idx", idx)):
        fd, tmp = tempfile.mkstemp(prefix="tmp_pack_" if suffix == ".pack" else "tmp_idx_", dir=where)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.chmod(tmp, 0o444)
            os.replace(tmp, where / (name + suffix))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


PathTrie = dict[str, "PathTrie | None"]  # path components; None marks a file


def path_trie(paths: Iterable[str]) -> PathTrie:
    """The paths as nested components, for :meth:`GitRepo.changed_among`."""
    root: PathTrie = {}
    for path in paths:
        node = root
        parts = path.split("/")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
        node.setdefault(parts[-1], None)
    return root


def _has_record(data: bytes, record: bytes, lo: int, hi: int) -> bool:
    """Whether a line (with its newline) is one of data's lines between offsets lo and hi (lo starts a line)."""
    if lo + len(record) <= hi and data.startswith(record, lo):
        return True
    return data.find(b"\n" + record, lo, hi) >= 0


def _child(tree: pygit2.Tree | None, name: str) -> pygit2.Object | None:
    if tree is None:
        return None
    try:
        return tree[name]
    except KeyError:
        return None


@dataclass(frozen=True)
class CommitNode:
    """A commit as a history walk needs it: id, tree, parents."""

    id: str
    tree: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class PatchMerge:
    """One patch's 3-way merge: the clean tree, or the tree with conflict markers and the conflicted files."""

    tree: str | None  # None when a file conflicts
    conflict_tree: str | None  # clean paths merged, conflicted text files with diff3 markers
    files: tuple[FileMerge, ...]  # the conflicted files
    paths: tuple[str, ...]  # every path the patch changes (ancestor -> theirs)
    whole_tree: bool  # the map could not decide: one merge_trees ran


def _special(e: Entry | None) -> bool:
    """Submodules and symlinks are left to merge_trees (no file merge of their content)."""
    return e is not None and e.mode in (MODE_GITLINK, MODE_LINK)


def _merge_mode(a: int, o: int, t: int) -> int | None:
    """Three-way merge of a file mode (regular/executable); None when both sides changed it differently."""
    if o == a:
        return t
    if t in (a, o):
        return o
    return None


@dataclass(frozen=True)
class FileMerge:
    """One conflicted file of a tree merge: (path, entry) of each side, and diff3-marked text."""

    path: str
    ancestor: tuple[str, Entry] | None
    ours: tuple[str, Entry] | None
    theirs: tuple[str, Entry] | None
    merged: bytes | None  # None for binary files or when a side is missing
    kind: str = ""  # set when the sides alone do not say it (a directory renamed upstream)


def _index_entry(index: pygit2.Index, path: str) -> Entry | None:
    try:
        e = index[path]
    except KeyError:
        return None
    return Entry(str(e.id), int(e.mode))


def _remove(root: Path, path: str) -> None:
    full = root / path
    if _beyond_link(root, path):
        return  # the path lies beyond a symlink or a file: nothing of ours is there to remove
    try:
        if full.is_symlink() or full.is_file():
            full.unlink()
    except FileNotFoundError:
        return
    parent = full.parent
    while parent != root:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def _refuse_beyond_links(root: Path, paths: Sequence[str]) -> None:
    """Refuse to write any path that lies beyond a symlink (or a file) standing in the working tree.

    Why: git refuses "beyond a symbolic link" too.  A component may be a link only when it is
    itself one of the paths being written (the tree replaces that link), never otherwise:
    ``csrc -> /etc`` must never turn a checkout of ``csrc/x`` into a write to ``/etc/x``.
    """
    wanted = set(paths)
    checked: dict[str, bool] = {}
    for path in paths:
        parts = path.split("/")
        probe = root
        for k in range(1, len(parts)):
            prefix = "/".join(parts[:k])
            probe = probe / parts[k - 1]
            bad = checked.get(prefix)
            if bad is None:
                try:
                    st = probe.lstat()
                except FileNotFoundError:
                    checked[prefix] = False
                    break
                except NotADirectoryError:
                    bad = True
                else:
                    bad = not stat.S_ISDIR(st.st_mode) and prefix not in wanted
                checked[prefix] = bad
            if bad:
                kind = "a symbolic link" if probe.is_symlink() else "a file"
                raise DirtyCheckoutError(
                    f"{path}: {prefix!r} is {kind} where the tree has a directory; fspatch never writes "
                    "beyond it (git refuses this too): restore the directory or remove the link first",
                    path=str(root),
                )


class LocalChanges:
    """A scan for local changes running in a forked child (:meth:`GitRepo.local_changes_beside`)."""

    def __init__(self, repo: GitRepo) -> None:
        self._repo = repo
        self._pid = 0
        self._fd = -1
        self._paths: list[str] | None = None
        if not may_fork("FSPATCH_SCAN_BESIDE"):
            return
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child
            code = 1
            try:
                os.close(read)
                become_helper()
                found = repo.dirty_paths() if repo.has_local_changes() else []
                data = b"ok\n" + "".join(p + "\0" for p in found).encode("utf-8", "surrogateescape")
                view = memoryview(data)
                while view:
                    view = view[os.write(write, view):]
                code = 0
            except BaseException:  # noqa: BLE001 -- the parent scans itself
                pass
            finally:
                os._exit(code)
        os.close(write)
        self._pid, self._fd = pid, read

    def paths(self) -> list[str]:
        """The paths :meth:`GitRepo.dirty_paths` names (waiting for the child; scanned here if it failed)."""
        if self._paths is None:
            got = self._collect()
            self._paths = got if got is not None else (
                self._repo.dirty_paths() if self._repo.has_local_changes() else []
            )
        return self._paths

    def _collect(self) -> list[str] | None:
        if not self._pid:
            return None
        chunks = []
        try:
            while True:
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            self.close()
        data = b"".join(chunks)
        if not data.startswith(b"ok\n"):
            return None
        return [p for p in data[3:].decode("utf-8", "surrogateescape").split("\0") if p]

    def close(self) -> None:
        """End and reap the child (its answer, if not read yet, is dropped)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._pid:
            if self._paths is None:  # not waited for (an error on the way): no need to finish the scan
                import signal

                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0


class BackgroundCheckout:
    """Paths of a tree written into the working tree and index on a thread (:meth:`GitRepo.start_checkout`)."""

    def __init__(self, git_path: str, tree_id: str, paths: list[str]) -> None:
        import threading

        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(git_path, tree_id, paths), daemon=True)
        self._thread.start()

    def _run(self, git_path: str, tree_id: str, paths: list[str]) -> None:
        try:
            if not paths:
                return
            repo = pygit2.Repository(git_path, pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
            tree = repo.get(tree_id)
            assert isinstance(tree, pygit2.Tree)
            _checkout_in_place(repo, tree, paths)
        except BaseException as exc:  # handed to join, on the caller's thread
            self._error = exc

    def join(self) -> None:
        """Wait for the writes; libgit2's refusal becomes fspatch's GitError as on the caller's thread."""
        self._thread.join()
        exc, self._error = self._error, None
        if exc is None:
            return
        if isinstance(exc, pygit2.GitError):
            raise _write_refused(exc) from None
        raise exc


def _cut_to_new_size(repo: pygit2.Repository, tree: pygit2.Tree, paths: Sequence[str]) -> None:
    """Cut each existing file longer than its blob in ``tree`` to the blob's size (see below).

    Why: :func:`_checkout_in_place` rewrites existing files without truncating them first;
    libgit2 writes each from offset zero, and its work-tree filters (CRLF, ident) never write
    fewer bytes than the blob, so after this cut nothing of the old file is left beyond the
    new end.  Only blocks past the new size are freed.  Links, directories, gitlinks and
    paths the tree drops are libgit2's to remove first, as before.
    """
    workdir = repo.workdir
    odb = repo.odb
    for path in paths:
        full = workdir + path
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            continue
        try:
            entry = tree[path]
        except KeyError:
            continue
        if entry.filemode not in _BLOB_MODES:
            continue
        size = odb.read_header(entry.id)[1]
        if st.st_size > size:
            os.truncate(full, size)


def _checkout_in_place(repo: pygit2.Repository, tree: pygit2.Tree, paths: list[str]) -> None:
    """libgit2's checkout of exactly ``paths``, opening existing files without ``O_TRUNC``.

    Why: truncating a file to zero frees all its blocks and a truncated file is flushed to disk
    when closed (ext4's auto_da_alloc); where each free is a synchronous discard (ext4 with
    online discard and no journal, as on the machine BENCHMARKS.md was measured on) that is
    ~120 us a file against ~5 us for a rewrite in place: 2,300 files of an upstream bump cost
    0.28 s against 0.01 s.  The caller has run :func:`_cut_to_new_size` first.  The options
    are pygit2's own (``git_checkout_options``) with ``file_open_flags`` set, the call is
    the one ``Repository.checkout_tree`` makes: pygit2 has no keyword for those flags.
    """
    from pygit2 import callbacks
    from pygit2.ffi import C, ffi  # type: ignore[attr-defined]

    with callbacks.git_checkout_options(strategy=_CHECKOUT_PATHS, paths=paths) as payload:
        payload.checkout_options.file_open_flags = os.O_CREAT | os.O_WRONLY
        target = ffi.new("git_object **")
        ffi.buffer(target)[:] = tree._pointer[:]
        payload.check_error(C.git_checkout_tree(repo._repo, target[0], payload.checkout_options))


def _beyond_link(root: Path, path: str) -> bool:
    """True when a directory component of ``path`` under ``root`` is a symlink or not a directory."""
    probe = root
    for part in path.split("/")[:-1]:
        probe = probe / part
        try:
            st = probe.lstat()
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            return True
    return False


def _write(root: Path, path: str, data: bytes, mode: int) -> None:
    """Write one blob below ``root``, never through a symlink.

    Each directory component is checked with ``lstat`` from ``root`` down: a file or a symlink
    standing where a directory must go is replaced by the directory (its deletion was checked),
    so a link ``evil -> /tmp`` can never make ``evil/x`` land in ``/tmp``.  The file itself is
    created fresh (``O_EXCL | O_NOFOLLOW``) after any old file or link there is removed.
    """
    full = root / path
    probe = root
    for part in path.split("/")[:-1]:
        probe = probe / part
        try:
            st = probe.lstat()
        except FileNotFoundError:
            probe.mkdir()
            continue
        if not stat.S_ISDIR(st.st_mode):
            probe.unlink()
            probe.mkdir()
    try:
        st = full.lstat()
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISDIR(st.st_mode):
            full.unlink()
    if mode == MODE_LINK:
        os.symlink(os.fsdecode(data), full)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(full, flags, 0o755 if mode == MODE_EXEC else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(full, 0o755 if mode == MODE_EXEC else 0o644)


def _text(value: str) -> str:
    """Surrogate-escaped bytes (undecodable input) as U+FFFD, so libgit2 gets valid UTF-8."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_url(url: str) -> None:
    """Refuse URLs that git would treat as options or as command transports."""
    if url.startswith("-"):
        raise UsageError(f"refusing URL that starts with '-': {url}")
    if url.lower().startswith(("ext::", "fd::")) or "::" in url.split("/", 1)[0]:
        raise UsageError(f"refusing URL with a command transport: {url}")


def _path_blob(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    """The blob id at ``path`` in a tree, or None (absent, a directory or a submodule)."""
    try:
        obj = tree[path]
    except KeyError:
        return None
    return obj.id if obj.filemode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE, FileMode.LINK) else None


def _through(
    pairs: list[tuple[int, int]], hunks: Sequence[tuple[int, int, int, int]]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split (new position, final line) pairs by a 0-context diff old → new.

    Returns the pairs of unchanged lines moved to their old positions, and the pairs of lines
    the diff adds (kept by the commit that made the change).  Both stay sorted.
    """
    passed: list[tuple[int, int]] = []
    kept: list[tuple[int, int]] = []
    positions = [pos for pos, _ in pairs]
    k = 0
    prev_old = prev_new = 0
    for old_start, old_count, new_start, new_count in hunks:
        old_first = old_start - 1 if old_count else old_start
        new_first = new_start - 1 if new_count else new_start
        cut = bisect_left(positions, new_first, k)
        delta = prev_old - prev_new
        passed.extend([(pos + delta, final) for pos, final in pairs[k:cut]])
        k = bisect_left(positions, new_first + new_count, cut)
        kept.extend(pairs[cut:k])
        prev_new, prev_old = new_first + new_count, old_first + old_count
    delta = prev_old - prev_new
    passed.extend([(pos + delta, final) for pos, final in pairs[k:]])
    return passed, kept


# -- libgit2's refusals of the environment ------------------------------------------------------
# libgit2 reports a full disk, an immutable file or a read-only file system as a plain
# ``pygit2.GitError`` ("could not open '…' for writing: Operation not permitted").  The methods
# that write (objects, refs, the index, the working tree) turn it into fspatch's GitError: one
# line, exit 2, and the journal around the verb puts everything back.
_WRITERS = (
    "write_blob", "update_tree", "create_commit", "update_ref", "force_ref", "set_head", "set_head_ref",
    "checkout", "checkout_paths", "start_checkout", "reset_index", "reset_hard", "write_worktree",
    "snapshot_worktree",
)


_OBJECT_WRITERS = frozenset({"write_blob", "update_tree", "create_commit"})


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    objects_only = method.__name__ in _OBJECT_WRITERS

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if not objects_only and args and args[0]._memory is not None:
                args[0]._write_out()  # a ref, the index or a file may name them: on disk first
            return method(*args, **kwargs)
        except pygit2.GitError as exc:
            raise _write_refused(exc) from None

    return wrapper


def _write_refused(exc: pygit2.GitError) -> GitError:
    """libgit2's refusal of a write as fspatch's one line (with the stale-lock hint where it applies)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = _stale_lock_hint(text)
    return GitError(f"git could not write: {text.rstrip(': ') if hint else text}{hint}")


_LOCK_FAILED = re.compile(r"failed to lock file '([^']+\.lock)'")


def _stale_lock_hint(text: str) -> str:
    """What to do about a ``.lock`` file that is in the way (git's own advice, with the path).

    Why: a git command -- or fspatch -- killed while writing HEAD, the index or a ref leaves
    its lock file behind, and every later write fails on it, ``fspatch recover`` included
    (bench_kill met it).  Whether another git process is still running there only the user can
    tell, so the file is named, not removed.
    """
    m = _LOCK_FAILED.search(text)
    if m is None or not Path(m.group(1)).exists():
        return ""
    return (
        f"; another git process may be running in this checkout -- if none is, a killed one left"
        f" {m.group(1)}: remove it and run the command again"
    )


for _name in _WRITERS:
    setattr(GitRepo, _name, _translating(getattr(GitRepo, _name)))
