"""A conflict region whose change upstream already carries: take upstream's side (issue 17).

Why: most conflicts of an upstream bump are patches upstream has since taken -- backported
fixes, CVE patches, "upstream/" cherry-picks -- usually reworded around them, so git's merge
conflicts and quilt's reverse-apply (the replay's whole-patch ``already upstream`` test) fails.
On the Debian truth set that is the largest class of git's regions, and there the maintainers'
result is upstream's side every time (they dropped the patch or its hunk).

The proof, per region, on lines compared without their whitespace (upstream re-indents and
re-wraps what it takes):

* the patch's net change in the region (base side -> patch side, as a multiset of lines) adds
  at least one line with a letter or digit in it -- braces and blank lines prove nothing;
* every line the patch adds is on upstream's side at least as many times as on the patch's;
* every line the patch removes is on upstream's side no more times than on the patch's.

Then upstream's side already is the patch's change, and it is kept as it is.  Anything else
is refused with the first line that fails, so a rewrite of the same lines that keeps the old
behaviour, or a patch line upstream lacks, stays a conflict.
"""

from __future__ import annotations

import re
from collections import Counter

from fspatch.core.conflict_regions import ConflictRegion, Lines
from fspatch.core.structured_merge import Outcome

RULE = "carried"

_WORD = re.compile(rb"\w")


def _key(line: bytes) -> bytes:
    return b"".join(line.split())


def _show(line: bytes) -> str:
    text = line.strip().decode("utf-8", "replace")
    return text if len(text) <= 60 else text[:57] + "..."


def _counts(lines: Lines) -> Counter[bytes]:
    return Counter(_key(line) for line in lines)


def carried_region(region: ConflictRegion) -> Outcome:
    """Upstream's side when it provably carries the patch's change in this region; else why not."""
    base, ours, theirs = _counts(region.base), _counts(region.ours), _counts(region.theirs)
    shown = {_key(line): line for line in (*region.base, *region.theirs)}
    touched = sorted(k for k in set(base) | set(theirs) if base[k] != theirs[k] and _WORD.search(k))
    added = [k for k in touched if theirs[k] > base[k]]
    if not added:
        return Outcome(None, "the patch adds no line with a word in it here (nothing upstream could carry)")
    for k in touched:
        if theirs[k] > base[k] and ours[k] < theirs[k]:
            return Outcome(None, f"upstream's side lacks a line the patch adds: {_show(shown[k])}")
        if theirs[k] < base[k] and ours[k] > theirs[k]:
            return Outcome(None, f"upstream's side still has a line the patch removes: {_show(shown[k])}")
    removed = len(touched) - len(added)
    return Outcome(
        region.ours,
        f"upstream already carries the patch's change here ({len(added)} line(s) it adds"
        + (f", {removed} it removes" if removed else "")
        + "): upstream's side kept",
    )


__all__ = ["RULE", "carried_region"]
