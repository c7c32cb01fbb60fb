"""Where in a patch file a line of the patched tree is written: findings that editors can open.

Why: a marker finding is about a line of a backend file, but that file lives in the git-ignored
checkout, which a CI annotation, an editor jump (``file:line:``) or a reviewer of the workspace
cannot reach.  The workspace's own, tracked copy of that line is the ``+`` (or context) line of
the patch file.  :class:`PatchLines` maps ``(path, line in the patched file)`` to the 1-based line
of the patch file that shows it.

How: the hunk headers of the parsed patch are found in the raw bytes in order (a header is
matched by its numbers, so ``@@`` text in a description is skipped), then each hunk's body is
walked with the new-side line count.  A line that no hunk shows (a deletion point, a line
far from any hunk) maps to the nearest shown line above it in the same file, else to that
file's first hunk header, else to line 1 (the patch header).  Pure: bytes and a
:class:`~fspatch.core.patch.Patch` in, numbers out.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from fspatch.core.patch import ADDED, REMOVED, Patch

_HUNK = re.compile(rb"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchLines:
    """``(path, new line) → patch file line`` for one patch file."""

    def __init__(self, data: bytes, patch: Patch) -> None:
        raw = data.split(b"\n")
        self._exact: dict[tuple[str, int], int] = {}
        self._sorted: dict[str, tuple[list[int], list[int]]] = {}
        self._first: dict[str, int] = {}
        pos = 0
        for fd in patch.files:
            path = fd.path
            for hunk in fd.hunks:
                want = (hunk.old_start, hunk.old_count, hunk.new_start, hunk.new_count)
                while pos < len(raw):
                    m = _HUNK.match(raw[pos])
                    if m is not None and _numbers(m) == want:
                        break
                    pos += 1
                if pos >= len(raw):
                    return  # the bytes do not hold this hunk (not the file it was parsed from)
                self._first.setdefault(path, pos + 1)
                new = hunk.new_start
                at = pos + 1
                for kind, _ in hunk.lines:
                    while at < len(raw) and raw[at].startswith(b"\\"):
                        at += 1  # "\ No newline at end of file"
                    if kind != REMOVED:
                        key = (path, new)
                        if kind == ADDED or key not in self._exact:
                            self._exact[key] = at + 1
                        new += 1
                    at += 1
                pos = at
        for (path, line), where in sorted(self._exact.items()):
            lines, wheres = self._sorted.setdefault(path, ([], []))
            lines.append(line)
            wheres.append(where)

    def locate(self, path: str, line: int) -> int:
        """The patch file line that shows ``line`` of ``path`` (or the nearest one above it)."""
        found = self._exact.get((path, line))
        if found is not None:
            return found
        lines, wheres = self._sorted.get(path, ([], []))
        k = bisect_right(lines, line) - 1
        if k >= 0:
            return wheres[k]
        return self._first.get(path, 1)


def _numbers(m: re.Match[bytes]) -> tuple[int, int, int, int]:
    a, b, c, d = m.groups()
    return int(a), int(b) if b is not None else 1, int(c), int(d) if d is not None else 1
