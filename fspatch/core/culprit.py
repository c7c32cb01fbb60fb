"""Which upstream commits changed the lines a conflicting patch touches -- named as people know them.

The upstream range (old pin -> new pin) is walked once per replay, on its first-parent line:
for every commit, only the subtrees on the paths some patch of the replay touches are
compared with its first parent's (:meth:`GitRepo.changed_among`), giving each path the list
of commits that changed it.  A conflict's regions (lines of the old pin) are then mapped
forward through those commits' line hunks only; a commit whose hunk touches a region is a
culprit.  A path that disappears in a commit is followed through that commit's renames.

On a history of merges (GitLab's ``Merge branch 'x' into 'main'``, GitHub's merge commits)
the first-parent culprit is a merge, which nobody wrote.  The commits that merge brought in
are searched for the ones whose own diff of that file removed or added the lines the merge
changed in the region; each is named with the merge that brought it.  Only when none matches
(the change was made while merging) is the merge itself named.  A PR/MR reference in a
subject or merge message (``ADLR/megatron-lm!3156``, ``(#1234)``, ``Merge pull request #12``,
``See merge request group/project!12``) is kept as ``ref``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from fspatch.core.hunks import apply_hunks
from fspatch.core.patch import ADDED, REMOVED, FileDiff, Hunk
from fspatch.errors import FspatchError
from fspatch.git_adapter import CommitNode, Entry, GitRepo, path_trie

Span = tuple[int, int, int, int]  # 0-based half-open: old_lo, old_hi, new_lo, new_hi

_GITLAB_REF = re.compile(r"\b([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+![0-9]+)")
_GITHUB_REF = re.compile(r"(?:\(#([0-9]+)\)|pull request #([0-9]+))")


@dataclass(frozen=True)
class Found:
    """A culprit: the commit, its subject, the merge that brought it (if any) and a PR/MR reference."""

    id: str
    subject: str
    merge: str = ""
    merge_subject: str = ""
    ref: str = ""


def pr_ref(*messages: str) -> str:
    """The first PR/MR reference in the messages, as written (``group/project!12``, ``#1234``)."""
    for message in messages:
        m = _GITLAB_REF.search(message)
        if m:
            return m.group(1)
        g = _GITHUB_REF.search(message)
        if g:
            return "#" + (g.group(1) or g.group(2))
    return ""


@dataclass(frozen=True)
class RangeIndex:
    """What :meth:`History.first_parent` builds, as data: the first-parent line and the per-path index.

    Why: :mod:`fspatch.core.read_ahead` builds it in a second process while the replay runs;
    a History adopts it only when it was built for the same range and the same paths.
    """

    old: str
    new: str
    relevant: frozenset[str]
    line: tuple[CommitNode, ...]
    parent_tree: tuple[str, ...]
    changes: Mapping[str, Sequence[int]]
    starts: Mapping[str, int]


class History:
    """The upstream range of one replay, indexed by path on first use."""

    def __init__(
        self, repo: GitRepo, old: str, new: str, relevant: Callable[[], Iterable[str]],
        seed: Callable[[], RangeIndex | None] | None = None,
    ) -> None:
        """``seed`` may give the index built elsewhere (read ahead); asked once, on first use."""
        self.repo = repo
        self.old = old
        self.new = new
        self._relevant = relevant
        self._seed = seed
        self._fp: list[CommitNode] | None = None
        self._parent_tree: list[str] = []
        self._changes: dict[str, list[int]] = {}
        self._from: dict[str, int] = {}  # first-parent position each list of _changes starts at
        self._messages: dict[str, str] = {}
        self._brought: dict[str, list[CommitNode]] = {}  # merge -> the commits it brought in
        # commit -> (parent tree, tree, patch-id once asked for); None for a merge
        self._pids: dict[str, tuple[str, str, str | None] | None] = {}

    # -- the walk ------------------------------------------------------------
    def first_parent(self) -> list[CommitNode]:
        """The first-parent line old..new, oldest first; the index of relevant paths is built with it."""
        if self._fp is not None:
            return self._fp
        if self._seed is not None:
            seed, self._seed = self._seed(), None
            if seed is not None and self._adopt(seed):
                assert self._fp is not None
                return self._fp
        repo = self.repo
        got = repo.first_parent_line(self.old, self.new)
        if got is not None:
            line = got
        else:  # old is not on new's first-parent line: stop at the first commit old reaches
            nodes = {n.id: n for n in repo.range_commits(self.old, self.new)}
            line = []
            cur = self.new
            while cur in nodes:
                node = nodes[cur]
                line.append(node)
                if not node.parents:
                    break
                cur = node.parents[0]
            line.reverse()
        self._fp = line
        prev = repo.tree_of(self.old)
        self._parent_tree = []
        for node in line:
            self._parent_tree.append(prev)
            prev = node.tree
        self._index(set(self._relevant()), 0)
        return line

    def range_index(self) -> RangeIndex:
        """The first-parent line and the index of the relevant paths, as data (built if not yet)."""
        line = self.first_parent()
        return RangeIndex(
            self.old, self.new, frozenset(self._relevant()), tuple(line), tuple(self._parent_tree),
            {p: tuple(ks) for p, ks in self._changes.items()}, dict(self._from),
        )

    def _adopt(self, seed: RangeIndex) -> bool:
        """Take an index built elsewhere, if it is this range's and these paths' (else build it here)."""
        if (seed.old, seed.new) != (self.old, self.new) or seed.relevant != frozenset(self._relevant()):
            return False
        self._fp = list(seed.line)
        self._parent_tree = list(seed.parent_tree)
        self._changes = {p: list(ks) for p, ks in seed.changes.items()}
        self._from = dict(seed.starts)
        return True

    def _index(self, paths: set[str], start: int) -> None:
        """Make the per-path commit lists of these paths complete from first-parent position start on.

        Why from ``start``: a path first asked for is a rename's destination, followed from the
        commit that renamed it; walking the whole range again for it cost a full walk per
        rename (2,400 commits: ~0.4 s each).  ``_from`` keeps where each list begins, so an
        earlier start later only walks the part not yet seen.
        """
        fp = self._fp or []
        todo: dict[int, set[str]] = {}
        for p in paths:
            have = self._from.get(p)
            if have is None:
                self._changes[p] = []
                have = len(fp)
            if start < have:
                todo.setdefault(have, set()).add(p)
                self._from[p] = start
        for stop, group in todo.items():
            trie = path_trie(group)
            found: dict[str, list[int]] = {p: [] for p in group}
            for k in range(start, stop):
                for p in self.repo.changed_among(self._parent_tree[k], fp[k].tree, trie):
                    found[p].append(k)
            for p in group:
                self._changes[p] = found[p] + self._changes[p]

    def message(self, commit: str) -> str:
        if commit not in self._messages:
            self._messages[commit] = self.repo.commit_info(commit).message
        return self._messages[commit]

    def brought_in(self, merge: str) -> list[CommitNode]:
        """The commits a merge brought in (one walk per merge and replay, shared by culprits and patch-ids)."""
        if merge not in self._brought:
            self._brought[merge] = self.repo.branch_commits(merge)
        return self._brought[merge]

    def subject(self, commit: str) -> str:
        return self.message(commit).split("\n", 1)[0].strip()

    def changes_of(self, path: str, start: int = 0) -> list[int]:
        """First-parent positions (from start) of the commits that changed path."""
        self.first_parent()
        self._index({path}, start)
        return [k for k in self._changes[path] if k >= start]

    # -- culprits ------------------------------------------------------------
    def culprits(self, path: str, spans: Sequence[tuple[int, int]], whole: bool) -> tuple[Found, ...]:
        """Commits that changed these old-pin line ranges of path (or, ``whole``, the file at all)."""
        fp = self.first_parent()
        repo = self.repo
        spans = list(spans)
        found: list[Found] = []
        k_next = 0
        while True:
            ks = self.changes_of(path, k_next)
            if not ks:
                break
            renamed_to: tuple[str, int] | None = None
            # path's entry after a commit of ks is its entry before the next one: the index
            # lists every commit that changed path, so none in between did (half the look-ups)
            here: Entry | None = repo.entry(self._parent_tree[ks[0]], path)
            for k in ks:
                node = fp[k]
                before = here
                after = here = repo.entry(node.tree, path)
                if before == after:
                    continue
                if before is not None and after is None:
                    dest = self._renamed(path, before, self._parent_tree[k], node.tree)
                    if dest is not None:
                        after = repo.entry(node.tree, dest)
                        renamed_to = (dest, k + 1)
                if whole:
                    if before is not None and after != before:
                        found.append(self._name(node, path, spans, before, after, whole))
                else:
                    moved = self._clear_of(before, after, spans)
                    if moved is not None:
                        spans = moved
                    else:
                        hunks = [_half_open(h) for h in repo.blob_hunks(_id(before), _id(after))]
                        if any(_touches(h, lo, hi) for h in hunks for lo, hi in spans):
                            found.append(self._name(node, path, spans, before, after, whole, hunks))
                        spans = [_map_forward(hunks, lo, hi) for lo, hi in spans]
                if renamed_to is not None:
                    break
            if renamed_to is None:
                break
            path, k_next = renamed_to
        out: list[Found] = []
        for f in found:
            if f not in out:
                out.append(f)
        return tuple(out)

    def _clear_of(
        self, before: Entry | None, after: Entry | None, spans: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]] | None:
        """The spans after this change when no hunk of it can touch them (known without a diff), else None.

        Why: a region is mapped through every commit that changed its file (125 versions of
        a 165 KB ``arguments.py`` on FlagScale's pull), and most of those commits change lines
        far from every region.  :meth:`GitRepo.blob_change_window` bounds where the diff's
        hunks can be from the texts' common first and last lines; a span wholly above the
        window is untouched and stays, one wholly below it is untouched and shifts by the
        line-count difference -- exactly what :func:`_map_forward` gives for those hunks, and
        no hunk touches it (``_touches`` counts adjacency, hence the strict comparisons).
        """
        if before is None or after is None:
            return None
        if not spans or before.id == after.id:
            return list(spans)  # nothing to touch / a mode change only: no hunks
        window = self.repo.blob_change_window(before.id, after.id)
        if window is None:
            return None
        first, old_end, new_end = window
        out: list[tuple[int, int]] = []
        for lo, hi in spans:
            if max(lo, hi) < first:
                out.append((lo, hi))
            elif min(lo, hi) > old_end:
                out.append((lo + new_end - old_end, hi + new_end - old_end))
            else:
                return None
        return out

    def _renamed(self, path: str, before: Entry, old_tree: str, new_tree: str) -> str | None:
        added = {p: b for p, a, b in self.repo.changed_files(old_tree, new_tree) if a is None and b is not None}
        for p, e in added.items():
            if e.id == before.id:
                return p
        return self.repo.find_renames({path: before}, added).get(path)

    def _name(
        self, node: CommitNode, path: str, spans: Sequence[tuple[int, int]], before: Entry | None,
        after: Entry | None, whole: bool, hunks: Sequence[Span] = (),
    ) -> Found:
        """The commit to name for a first-parent culprit: a merge's branch commit where one matches."""
        subject = self.subject(node.id)
        if len(node.parents) < 2:
            return Found(node.id, subject, ref=pr_ref(self.message(node.id)))
        merge_message = self.message(node.id)
        removed, added = self._region_lines(before, after, spans, whole, hunks)
        best: list[CommitNode] = []
        repo = self.repo
        for c in self.brought_in(node.id):
            if len(c.parents) != 1:
                continue
            a = repo.entry(repo.tree_of(c.parents[0]), path)
            b = repo.entry(c.tree, path)
            if a == b:
                continue
            r, ad = repo.blob_changed_lines(_id(a), _id(b))
            if (r & removed) or (ad & added):
                best.append(c)
        if not best:
            return Found(node.id, subject, ref=pr_ref(merge_message))
        c = best[-1]  # the latest branch commit that wrote those lines
        msg = self.message(c.id)
        return Found(c.id, self.subject(c.id), node.id, subject, pr_ref(msg, merge_message))

    def _region_lines(
        self, before: Entry | None, after: Entry | None, spans: Sequence[tuple[int, int]], whole: bool,
        hunks: Sequence[Span],
    ) -> tuple[set[bytes], set[bytes]]:
        """What a merge removed and added inside the regions (the whole file with ``whole``).

        ``hunks`` are the culprit walk's own hunks of this (before, after) pair, not diffed again.
        """
        removed, added = self.repo.blob_changed_lines(_id(before), _id(after))
        if whole:
            return removed, added
        old = self.repo.read_blob(before.id).split(b"\n") if before is not None else []
        new = self.repo.read_blob(after.id).split(b"\n") if after is not None else []
        keep_r: set[bytes] = set()
        keep_a: set[bytes] = set()
        for h in hunks:
            if not any(_touches(h, lo, hi) for lo, hi in spans):
                continue
            keep_r.update(x.strip() for x in old[h[0]:h[1]] if x.strip())
            keep_a.update(x.strip() for x in new[h[2]:h[3]] if x.strip())
        return keep_r & removed, keep_a & added

    # -- upstream carrying a patch ------------------------------------------
    def patch_id_match(
        self, first: Callable[[], Iterable[str]], paths: Sequence[str], patch_id: str | Callable[[], str]
    ) -> str | None:
        """The upstream commit of the range whose patch-id is this patch's, if any.

        Every commit of the range that changed all of the patch's files is tried -- on a
        history of merges the commit carrying the change can be an earlier commit of the same
        merged branch than the culprit named (a follow-up made there too).  Where several
        match, the first of ``first`` (the conflict's culprits: a commit carrying the patch's
        change usually changed the conflicting lines) that matches is named, else the earliest;
        ``first`` is called only then, so a conflict's culprits are not needed to decide it
        (they are worked out beside the replay, :mod:`fspatch.core.read_ahead`).  Only a commit
        changing exactly the patch's files can match, so the patch's own patch-id (a callable:
        computed on first need) is not computed when no commit does (about half of FlagScale's
        conflicts).
        """
        want = set(paths)
        seen: set[str] = set()
        own: str | None = patch_id if isinstance(patch_id, str) else None
        matches: list[str] = []
        for cid in self._patch_id_candidates(want):
            if cid in seen:
                continue
            seen.add(cid)
            theirs = self._commit_patch_id(cid, want)
            if theirs is None:
                continue
            if own is None:
                assert callable(patch_id)
                own = patch_id()
            if theirs == own:
                matches.append(cid)
        if len(matches) < 2:
            return matches[0] if matches else None
        return next((c for c in first() if c in matches), matches[0])

    def _commit_patch_id(self, cid: str, want: set[str]) -> str | None:
        """A range commit's patch-id when it changed exactly ``want``, else None.

        Why cached: with no culprit to try first, every conflicting patch walks the range's
        commits on its files; a commit met again (another patch on the same files) costs a
        dict look-up, its patch-id computed at most once per replay, and only when it changed
        exactly the patch's files.
        """
        if cid not in self._pids:
            node = self.repo.commit_node(cid)
            one = len(node.parents) == 1
            self._pids[cid] = (self.repo.commit_node(node.parents[0]).tree, node.tree, None) if one else None
        got = self._pids[cid]
        if got is None or not self.repo.changed_exactly(got[0], got[1], want):
            return None
        parent, tree, pid = got
        if pid is None:
            pid = self.repo.patch_id(parent, tree)
            self._pids[cid] = (parent, tree, pid)
        return pid

    def _patch_id_candidates(self, want: set[str]) -> Iterable[str]:
        """The range's commits (merged branches' included) that changed every wanted path."""
        if not want:
            return
        fp = self.first_parent()
        trie = path_trie(want)
        repo = self.repo
        changed = {p: set(self.changes_of(p)) for p in want}
        # The index answers "did k change all of want" as changed_among would, unless a wanted
        # path and another indexed one are a file and a directory of one name (their tries differ).
        ambiguous = any(
            q.startswith(p + "/") or p.startswith(q + "/") for p in want for q in self._changes if q != p
        )
        positions = sorted(set().union(*changed.values()))
        # first-parent commits that also changed another indexed path cannot have changed
        # exactly want: not offered (changed_exactly would say no; 365 -> fewer tree walks)
        busy = set() if ambiguous else {k for q, ks in self._changes.items() if q not in want for k in ks}
        for k in positions:
            node = fp[k]
            if len(node.parents) < 2:
                if not ambiguous:
                    if k not in busy and all(k in ks for ks in changed.values()):
                        yield node.id
                elif len(repo.changed_among(self._parent_tree[k], node.tree, trie)) == len(want):
                    yield node.id
                continue
            for c in self.brought_in(node.id):
                if len(c.parents) != 1:
                    continue
                if len(repo.changed_among(repo.tree_of(c.parents[0]), c.tree, trie)) == len(want):
                    yield c.id


def _id(e: Entry | None) -> str | None:
    return None if e is None else e.id


def _half_open(h: tuple[int, int, int, int]) -> Span:
    os_, oc, ns, nc = h
    o0 = os_ if oc == 0 else os_ - 1
    n0 = ns if nc == 0 else ns - 1
    return (o0, o0 + oc, n0, n0 + nc)


def _touches(h: Span, lo: int, hi: int) -> bool:
    return h[0] <= hi and lo <= h[1]


def _map_forward(hunks: Sequence[Span], lo: int, hi: int) -> tuple[int, int]:
    """A range through a commit's hunks: unchanged lines shift, touched hunks widen it."""
    return (_map_pos(hunks, lo, False), _map_pos(hunks, hi, True))


def _map_pos(hunks: Sequence[Span], x: int, end: bool) -> int:
    delta = 0
    for h in hunks:
        if h[0] < x < h[1]:
            return h[3] if end else h[2]
        if h[1] > x:
            break
        delta = h[3] - h[1]
    return x + delta


# --------------------------------------------------------------------------- what else a conflict can be


def hunk_header(files: Sequence[FileDiff], path: str, start: int, count: int) -> str:
    """The ``@@`` header of the patch's hunk that covers lines start..start+count of its result (1-based)."""
    lo, hi = start, start + max(count, 1)
    for fd in files:
        if path not in (fd.new_path, fd.old_path):
            continue
        best = ""
        for h in fd.hunks:
            h_lo, h_hi = h.new_start, h.new_start + max(h.new_count, 1)
            if h_lo < hi and lo < h_hi:
                section = h.section.decode("utf-8", "replace").strip()
                return h.header() + (f" {section}" if section else "")
            if h_lo <= lo and not best:
                best = h.header()
        return best
    return ""


def reverse_applies(repo: GitRepo, tree: str, files: Sequence[FileDiff], moves: Mapping[str, tuple[str, str]]) -> bool:
    """quilt's "already applied" test: the patch, reversed, applies exactly to this tree (line offsets allowed).

    A file the patch adds must be there with exactly its content, a file it deletes must be
    absent; a path upstream renamed is looked up at its new name.  Binary patches never count.
    """
    if not files:
        return False
    for fd in files:
        if fd.binary is not None or fd.binary_no_data:
            return False
        path = fd.new_path if fd.new_path is not None else fd.old_path
        assert path is not None
        got = repo.read_file(tree, path)
        if got is None and fd.old_path is not None:
            hit = moves.get(fd.old_path)
            if hit is not None and hit[0] == "R":
                got = repo.read_file(tree, hit[1])
        if fd.new_path is None:  # deleted by the patch: upstream must not have it either
            if got is not None:
                return False
            continue
        if got is None:
            return False
        if fd.old_path is None and not fd.hunks:
            if got[0] != b"":
                return False
            continue
        reverse = [
            Hunk(h.new_start, h.new_count, h.old_start, h.old_count, h.section,
                 tuple((_REVERSE.get(kind, kind), line) for kind, line in h.lines))
            for h in fd.hunks
        ]
        try:
            back = apply_hunks(got[0], reverse, path)
        except FspatchError:
            return False
        if fd.old_path is None and back != b"":
            return False
    return True


_REVERSE = {ADDED: REMOVED, REMOVED: ADDED}
