"""Upstream's range, read in a second process while the replay runs (the machine's second core).

What a replay needs about upstream alone (old pin -> new pin) depends on none of the patches'
merges: the culprits' index of the range (its first-parent line and, per path some patch
touches, the commits that changed it), the map of upstream's renames and deletions, and each
conflict's culprits (the walk through that path's versions).  On a Megatron-LM bump that is
~0.3 s of a ~0.75 s replay.  So a child process is forked -- by ``pull-upstream`` before the
old stacks are built (its paths from the parsed patch files), by any other replay at
:meth:`Replayer.run` -- that builds the index, then the map, and sends each back through a
pipe as a pickle; then it answers culprits requests, one answer per request, in order.  The
replay takes each value when it first needs it, waiting if the child is not done, and works
it out itself when the child failed, was killed, or cannot be: no ``os.fork`` (Windows), other
threads running (a fork copies their locks, held), or ``FSPATCH_READ_AHEAD=0``.  Either way
the values are the same: the child runs the same code on its copy of the same objects, and
what it sends is adopted only when built for the same range and the same paths.

The child works on its copy of the parent's handle (objects kept in memory included), with
writes kept in its memory (:meth:`GitRepo.discard_writes`: the two trees a similarity search
writes): it writes nothing to disk.  It takes back the default signal handlers, lets go of
the parent's stdin, stdout and stderr (``/dev/null`` instead), and exits with ``os._exit``
(no ``atexit``, no buffered output flushed twice).  :meth:`ReadAhead.close` ends and reaps it
when the replay ends, asked or not; left by a parent killed with SIGKILL, it ends at its next
read (end of file) or write (SIGPIPE).  Decisions: docs/replay.md, perf13e.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
from collections.abc import Callable, Iterable
from typing import Any

from fspatch.core.culprit import Found, History, RangeIndex
from fspatch.core.upstream_map import MoveIndex, UpstreamMap
from fspatch.git_adapter import GitRepo, become_helper, may_fork

_LEN = struct.Struct("!Q")


def enabled() -> bool:
    """Can a child be forked safely here (POSIX, this thread alone, not switched off)?"""
    return may_fork("FSPATCH_READ_AHEAD")


class ReadAhead:
    """A forked child: the range index and the upstream map first, then culprits as they are asked for.

    Messages from the child, in order: the :class:`RangeIndex`, the :class:`MoveIndex`, then one
    answer per :meth:`ask` (``None`` where the child could not answer).  Every value is taken
    once, on demand; a child that failed or ended early answers ``None`` from then on.
    """

    def __init__(self, repo: GitRepo, old: str, new: str, relevant: Callable[[], Iterable[str]]) -> None:
        """``relevant`` lists the paths some patch touches (called in the child; what the child
        builds is adopted only where the replay's own list is the same)."""
        self.old, self.new = old, new
        self._pid = 0
        self._in = -1  # answers, from the child
        self._out = -1  # requests, to the child
        self._buf = bytearray()
        self._got: list[Any] = []
        self._asked = 0
        self._failed = True
        if old == new or not enabled():
            return
        answers, requests = os.pipe(), os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (*answers, *requests):
                os.close(fd)
            return
        if pid == 0:  # the child
            os.close(answers[0])
            os.close(requests[1])
            _child(requests[0], answers[1], repo, old, new, relevant)  # never returns
        os.close(answers[1])
        os.close(requests[0])
        os.set_blocking(requests[1], False)
        self._pid, self._in, self._out, self._failed = pid, answers[0], requests[1], False

    @property
    def running(self) -> bool:
        return not self._failed

    def range_index(self) -> RangeIndex | None:
        got = self._message(0)
        return got if isinstance(got, RangeIndex) else None

    def move_index(self) -> MoveIndex | None:
        got = self._message(1)
        return got if isinstance(got, MoveIndex) else None

    def ask(self, request: tuple[str, tuple[tuple[int, int], ...], bool]) -> int:
        """Send a culprits request (path, old-pin spans, whole file); its ticket for :meth:`culprits`, or -1."""
        if self._failed:
            return -1
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_LEN.pack(len(data)) + data)
        try:
            while view:
                try:
                    view = view[os.write(self._out, view):]
                except BlockingIOError:
                    # The child is writing answers nobody reads: read them now, then write on.
                    readable, _w, _x = select.select([self._in], [self._out], [])
                    if readable and not self._fill():
                        raise EOFError from None
        except (OSError, EOFError):
            self._stop()
            return -1
        self._asked += 1
        return self._asked - 1

    def culprits(self, ticket: int) -> tuple[Found, ...] | None:
        """The answer to a request (waiting for it), or None: the caller works it out itself."""
        if ticket < 0:
            return None
        got = self._message(2 + ticket)
        return got if isinstance(got, tuple) else None

    def _message(self, n: int) -> object | None:
        while len(self._got) <= n and not self._failed:
            value = self._parse()
            if value is not _NONE:
                self._got.append(value)
            elif not self._fill():
                self._stop()
        return self._got[n] if n < len(self._got) else None

    def _parse(self) -> object:
        """The next whole message in the buffer, or _NONE."""
        if len(self._buf) < _LEN.size:
            return _NONE
        size = _LEN.unpack_from(self._buf)[0]
        if len(self._buf) < _LEN.size + size:
            return _NONE
        body = bytes(self._buf[_LEN.size : _LEN.size + size])
        del self._buf[: _LEN.size + size]
        try:
            return pickle.loads(body)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None

    def _fill(self) -> bool:
        """Read what the child sent (waiting for some); False at its end."""
        try:
            chunk = os.read(self._in, 1 << 20)
        except OSError:
            return False
        self._buf += chunk
        return bool(chunk)

    def _stop(self) -> None:
        self._failed = True
        self.close()

    def end(self) -> None:
        """No more questions: the child is killed now, and reaped by :meth:`close`.

        Why apart: the kernel takes a few ms to tear down the child's copy of this process;
        killed when the replay's last answer is in, it is gone by the time ``close`` waits.
        """
        self._failed = True
        for fd in (self._in, self._out):
            if fd >= 0:
                os.close(fd)
        self._in = self._out = -1
        if self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)

    def close(self) -> None:
        """End the child (done or not) and reap it."""
        self.end()
        if self._pid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0


_NONE = object()


def _child(
    requests: int, answers: int, repo: GitRepo, old: str, new: str, relevant: Callable[[], Iterable[str]]
) -> None:
    """Build and send both, answer culprits requests until the parent closes, then exit without
    running anything of the parent's."""
    code = 1
    try:
        become_helper()  # default signals, /dev/null for stdin, stdout and stderr
        if not repo.discard_writes():  # a similarity search writes two trees: kept in this child's memory
            return
        paths = frozenset(relevant())
        history = History(repo, old, new, lambda: paths)
        _send(answers, history.range_index())
        _send(answers, UpstreamMap(repo, old, new, lambda: paths).move_index())
        _answer(requests, answers, history)
        code = 0
    except BaseException:  # noqa: BLE001 -- the parent builds what is missing itself
        pass
    finally:
        os._exit(code)


def _answer(requests: int, answers: int, history: History) -> None:
    """Culprits, one answer per request, until the parent closes its end."""
    with os.fdopen(requests, "rb") as stream:
        while True:
            head = stream.read(_LEN.size)
            if len(head) < _LEN.size:
                return
            path, spans, whole = pickle.loads(stream.read(_LEN.unpack(head)[0]))
            try:
                found: tuple[Found, ...] | None = history.culprits(path, spans, whole)
            except Exception:  # noqa: BLE001 -- the parent works this one out itself
                found = None
            _send(answers, found)


def _send(fd: int, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]
