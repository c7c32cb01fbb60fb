"""Upstream's renames and deletions between the old and the new pin, computed once per replay.

A cherry-pick merge needs upstream's moves only for the files a patch touches that the
new parent no longer has at the same path.  So the map is lazy: the first lookup diffs
the two pins once (walking only the subtrees that differ), pairs every deleted file
with an added file of the same blob (exact renames), and, for files still unpaired,
runs libgit2's similarity, once, over only the files that some patch of the replay touches
(the *relevant* sources, as merge-ort does) and the files of directories the new pin no
longer has (for merge-ort's directory renames), against the added files.  Later lookups are
dictionary reads.  The map answers ``path -> ("R", new path) | ("D", path)``; a path
upstream kept is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from fspatch.git_adapter import Entry, GitRepo


@dataclass(frozen=True)
class MoveIndex:
    """What :meth:`UpstreamMap._load` builds, as data (read ahead in a second process, then adopted)."""

    old_commit: str
    new_commit: str
    relevant: frozenset[str]
    moves: Mapping[str, tuple[str, str]]
    left: Mapping[str, Entry]
    targets: Mapping[str, Entry]


class UpstreamMap(Mapping[str, tuple[str, str]]):
    """``old path -> ("R", new) | ("D", old)`` for upstream's old pin -> new pin, built on first use."""

    def __init__(
        self, repo: GitRepo, old_commit: str, new_commit: str, relevant: Callable[[], Iterable[str]],
        seed: Callable[[], MoveIndex | None] | None = None,
    ) -> None:
        """``seed`` may give the map built elsewhere (read ahead); asked once, on first need."""
        self.repo = repo
        self.old_commit = old_commit
        self.new_commit = new_commit
        self._relevant = relevant
        self._seed = seed
        self._moves: dict[str, tuple[str, str]] | None = None
        self._left: dict[str, Entry] = {}
        self._targets: dict[str, Entry] = {}
        self._dirs: dict[str, bool] = {}

    def move_index(self) -> MoveIndex:
        """The map and what its later searches need, as data (built if not yet)."""
        moves = self._load()
        return MoveIndex(
            self.old_commit, self.new_commit, frozenset(self._relevant()), dict(moves), dict(self._left),
            dict(self._targets),
        )

    def _adopt(self, seed: MoveIndex) -> bool:
        if (seed.old_commit, seed.new_commit) != (self.old_commit, self.new_commit):
            return False
        if seed.relevant != frozenset(self._relevant()):
            return False
        self._moves, self._left, self._targets = dict(seed.moves), dict(seed.left), dict(seed.targets)
        return True

    def _load(self) -> dict[str, tuple[str, str]]:
        if self._moves is not None:
            return self._moves
        if self._seed is not None:
            seed, self._seed = self._seed(), None
            if seed is not None and self._adopt(seed):
                assert self._moves is not None
                return self._moves
        repo = self.repo
        moves: dict[str, tuple[str, str]] = {}
        if self.old_commit != self.new_commit:
            deleted: dict[str, Entry] = {}
            added: dict[str, Entry] = {}
            for path, a, b in repo.changed_files(repo.tree_of(self.old_commit), repo.tree_of(self.new_commit)):
                if a is not None and b is None:
                    deleted[path] = a
                elif a is None and b is not None:
                    added[path] = b
            by_blob: dict[str, list[str]] = {}
            for path, e in added.items():
                by_blob.setdefault(e.id, []).append(path)
            taken: set[str] = set()
            left: dict[str, Entry] = {}
            for path, e in sorted(deleted.items()):
                hits = [p for p in by_blob.get(e.id, []) if p not in taken]
                if hits:
                    dest = min(hits, key=lambda p: _basename_rank(path, p))
                    taken.add(dest)
                    moves[path] = ("R", dest)
                else:
                    left[path] = e
            relevant = set(self._relevant())
            sources = {p: e for p, e in left.items() if p in relevant}
            targets = {p: e for p, e in added.items() if p not in taken}
            self._left, self._targets = left, targets
            found = self._search(sources)
            for path in sources:  # an unpaired file no patch touches is left out: no lookup needs it
                moves[path] = ("R", found[path]) if path in found else ("D", path)
        self._moves = moves
        return moves

    def __getitem__(self, path: str) -> tuple[str, str]:
        if self._moves is None and not self._gone(path):
            raise KeyError(path)  # only a file the new pin lacks can be moved: no need to build the map
        return self._load()[path]

    def _gone(self, path: str) -> bool:
        """Is path a file of the old pin that the new pin lacks (the only kind of key the map has)?

        Why: most replays ask about every patch's files from the first patch on, and few of
        those files are gone; the map (a tree diff and a similarity search, ~0.1 s on
        Megatron-LM) is then built when a patch touches one, or never.
        """
        if self.old_commit == self.new_commit:
            return False
        repo = self.repo
        return repo.entry(repo.tree_of(self.new_commit), path) is None and (
            repo.entry(repo.tree_of(self.old_commit), path) is not None
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def _search(
        self, sources: Mapping[str, Entry], enough: Callable[[dict[str, str]], bool] | None = None
    ) -> dict[str, str]:
        """Inexact renames of these sources: same-basename targets first (cheap), then all targets.

        ``enough`` ends the search after the cheap pass when what it found already answers the
        question (a directory rename needs one file moved out, not all of them).
        """
        if not sources:
            return {}
        by_name: dict[str, list[str]] = {}
        for p in self._targets:
            by_name.setdefault(p.rsplit("/", 1)[-1], []).append(p)
        near = {p for s in sources for p in by_name.get(s.rsplit("/", 1)[-1], [])}
        found = self.repo.find_renames(sources, {p: self._targets[p] for p in near}) if near else {}
        if enough is not None and enough(found):
            return found
        rest = {p: e for p, e in sources.items() if p not in found}
        if rest:
            free = {p: e for p, e in self._targets.items() if p not in set(found.values())}
            found.update(self.repo.find_renames(rest, free))
        return found

    def dir_moved(self, directory: str) -> bool:
        """Did upstream rename any file of this (now gone) directory to somewhere else?

        merge-ort's directory rename detection makes a file the patch adds into such a
        directory a conflict; a directory upstream only deleted takes the file.  Exact and
        same-basename renames are tried first: a full similarity search over the added files
        runs only for a directory none of whose files moved that way.
        """
        if directory not in self._dirs:
            moves = self._load()
            prefix = directory + "/"
            moved = any(
                hit[0] == "R" and not hit[1].startswith(prefix) for p, hit in moves.items() if p.startswith(prefix)
            )
            if not moved:
                sources = {p: e for p, e in self._left.items() if p.startswith(prefix) and p not in moves}
                found = self._search(sources, lambda got: any(not d.startswith(prefix) for d in got.values()))
                moved = any(not dest.startswith(prefix) for dest in found.values())
            self._dirs[directory] = moved
        return self._dirs[directory]

    def loaded(self) -> bool:
        return self._moves is not None


def _basename_rank(old: str, new: str) -> tuple[int, str]:
    """Among identical blobs, prefer the one with the same file name (git's basename heuristic)."""
    return (0 if old.rsplit("/", 1)[-1] == new.rsplit("/", 1)[-1] else 1, new)
