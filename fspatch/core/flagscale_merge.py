"""FlagScale's ``tools/patch/merge.py`` and the history lookup of its ``unpatch.py``, on a workspace.

FlagScale keeps ``hardware/patch_history.yaml``: device type → task → backends key → FlagScale
commits, oldest first, where the key is the FlagScale backend names sorted and joined by ``+``
(``FlagScale+vllm``); ``merge.py`` appends a commit under that key and under each backend alone,
never twice; ``unpatch.py`` without ``--commit`` checks out the last commit of the first task
(in the order given) that has the key.  A workspace keeps that file, in FlagScale's format, at
:data:`HISTORY_FILE`, beside fspatch's derived ``vendors/history.yaml``.

The format itself (byte-exact round trip, the append, the lookup) is
:mod:`fspatch.core.flagscale_history`; this module applies it to the workspace's copy.
"""

from __future__ import annotations

from collections.abc import Sequence

from fspatch.core import flagscale_history
from fspatch.core.flagscale_history import HISTORY_FILE, backends_key
from fspatch.core.workspace import Workspace

__all__ = ["HISTORY_FILE", "append", "backends_key", "latest"]


def _load(ws: Workspace) -> flagscale_history.PatchHistory:
    path = ws.root / HISTORY_FILE
    raw = path.read_bytes() if path.is_file() else None
    return flagscale_history.load(raw, HISTORY_FILE)


def latest(ws: Workspace, device_type: str, tasks: Sequence[str], backends: Sequence[str]) -> str | None:
    """The commit FlagScale's ``unpatch`` would use for this device, tasks and backends, if any."""
    return _load(ws).latest(device_type, tasks, backends)


def append(ws: Workspace, device_type: str, tasks: Sequence[str], backends: Sequence[str], commit: str) -> bool:
    """Record ``commit`` as ``merge.py`` does; True when the file's bytes changed."""
    history = flagscale_history.append(_load(ws), device_type, tasks, backends, commit)
    return ws.write_file(ws.root / HISTORY_FILE, flagscale_history.dump(history))
