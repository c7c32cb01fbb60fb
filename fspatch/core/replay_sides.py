"""The three sides of one patch's merge, as a key: when equal, the merge decides the same.

Why: a bot run decides some conflicting patches itself (already upstream: ``carried``,
patch-id, reverse-apply).  A person resuming its pending patches replays the later ones
again, onto their own resolution; a patch whose files are the same on every side as in the
bot run would be decided the same way, so the bot's decision is kept instead of asking for
a review of it again (docs/replay-pending.md).  The merge is file by file, so the key is the
ancestor, ours and theirs entries of every path the patch changes (and where upstream moved
it); a merge that needed the whole tree keys on the whole trees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from fspatch.git_adapter import GitRepo, PatchMerge


def sides_key(
    repo: GitRepo, anc: str, ours: str, theirs: str, merged: PatchMerge, moves: Mapping[str, tuple[str, str]]
) -> str:
    """SHA-256 over each changed path's (ancestor, ours, theirs) entries, or the trees for a whole-tree merge."""
    h = hashlib.sha256()
    if merged.whole_tree:
        h.update(f"trees\0{anc}\0{ours}\0{theirs}\n".encode())
        return h.hexdigest()
    for path in merged.paths:
        where = [path]
        hit = moves.get(path)
        if hit is not None and hit[0] == "R":
            where.append(hit[1])
        parts = [path]
        for tree, paths in ((anc, [path]), (ours, where), (theirs, [path])):
            for p in paths:
                e = repo.entry(tree, p)
                parts.append("-" if e is None else f"{e.mode:o}:{e.id}")
        h.update(("\0".join(parts) + "\n").encode())
    return h.hexdigest()
