"""``GitRepo.blob_change_window`` bounds every hunk libgit2's diff gives (perf13d, culprits).

The culprit walk maps a conflict's regions through each commit that changed the file and skips
the diff of a commit whose change window (the lines between the texts' common first and last
lines) cannot reach any region.  That is only the same answer if no hunk ever lies outside the
window -- including when xdiff slides a change group over repeated lines.  Random small texts
over a few repeated lines (the worst case for sliding) check it; without the guard against a
group sliding into the common last lines, about 4% of these pairs break the bound.
"""

from __future__ import annotations

import random
from pathlib import Path

import pygit2

from fspatch.git_adapter import GitRepo

_LINES = [b"a", b"b", b"c", b"", b"  x", b"a"]


def _half_open(h: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    os_, oc, ns, nc = h
    o0 = os_ if oc == 0 else os_ - 1
    n0 = ns if nc == 0 else ns - 1
    return (o0, o0 + oc, n0, n0 + nc)


def _records(text: bytes) -> int:
    return text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)


def _edit(rnd: random.Random, lines: list[bytes]) -> list[bytes]:
    new = list(lines)
    for _ in range(rnd.randint(1, 3)):
        pos = rnd.randint(0, len(new))
        op = rnd.random()
        if op < 0.4:
            new[pos:pos] = [rnd.choice(_LINES) for _ in range(rnd.randint(1, 3))]
        elif op < 0.7 and new:
            del new[pos : pos + rnd.randint(1, 3)]
        elif new:
            new[min(pos, len(new) - 1)] = rnd.choice(_LINES)
    return new


def _text(rnd: random.Random, lines: list[bytes]) -> bytes:
    out = b"\n".join(lines)
    return out + b"\n" if lines and rnd.random() < 0.8 else out


def test_no_hunk_lies_outside_the_window(tmp_path: Path) -> None:
    repo = GitRepo(pygit2.init_repository(str(tmp_path / "r"), bare=True))
    rnd = random.Random(13)
    decided = 0
    for _ in range(6000):
        lines = [rnd.choice(_LINES[: rnd.randint(1, 6)]) for _ in range(rnd.randint(0, 14))]
        a, b = _text(rnd, lines), _text(rnd, _edit(rnd, lines))
        old, new = repo.write_blob(a), repo.write_blob(b)
        window = repo.blob_change_window(old, new)
        if window is None:
            continue
        decided += 1
        first, old_end, new_end = window
        hunks = [_half_open(h) for h in repo.blob_hunks(old, new)]
        assert hunks, (a, b)
        assert _records(a) - old_end == _records(b) - new_end, (a, b, window)
        for h in hunks:
            assert first <= h[0] and h[1] <= old_end and first <= h[2] and h[3] <= new_end, (a, b, window, hunks)
    assert decided > 3000


def test_the_window_of_a_one_line_change_in_a_long_file(tmp_path: Path) -> None:
    repo = GitRepo(pygit2.init_repository(str(tmp_path / "r"), bare=True))
    a = b"".join(b"line %d\n" % i for i in range(1000))
    b = a.replace(b"line 500\n", b"line 500 changed\nline 500b\n")
    assert repo.blob_change_window(repo.write_blob(a), repo.write_blob(b)) == (500, 501, 502)
    assert repo.blob_change_window(repo.write_blob(a), repo.write_blob(a)) is None
