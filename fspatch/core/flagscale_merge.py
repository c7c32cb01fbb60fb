"""FlagScale's ``tools/patch/merge.py`` and the history lookup of its ``unpatch.py``, on a workspace.

FlagScale keeps ``hardware/patch_history.yaml``: device type → task → backends key → FlagScale
commits, oldest first, where the key is the FlagScale backend names sorted and joined by ``+``
(``FlagScale+vllm``); ``merge.py`` appends a commit under that key and under each backend alone,
never twice; ``unpatch.py`` without ``--commit`` checks out the last commit of the first task
(in the order given) that has the key.  A workspace keeps that file, in FlagScale's format, at
:data:`HISTORY_FILE`, beside fspatch's derived ``vendors/history.yaml``.

The file is round-tripped with :mod:`fspatch.core.yamlio` (order, comments and quoting kept);
a new key goes last, as with PyYAML's ``sort_keys=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fspatch.core.workspace import Workspace
from fspatch.core.yamlio import dump_yaml, parse_yaml
from fspatch.errors import InputError

HISTORY_FILE = "vendors/patch_history.yaml"


def backends_key(backends: Iterable[str]) -> str:
    """``merge.py``'s key: plain ``sorted`` (capitals first) joined by ``+``."""
    return "+".join(sorted(backends))


def _load(ws: Workspace) -> Any:
    from ruamel.yaml.comments import CommentedMap

    path = ws.root / HISTORY_FILE
    if not path.is_file() or not path.read_bytes().strip():
        return CommentedMap()
    data = parse_yaml(path.read_bytes(), HISTORY_FILE)
    if not hasattr(data, "items"):
        raise InputError("the top level must map device types to tasks", path=HISTORY_FILE, line=1)
    return data


def latest(ws: Workspace, device_type: str, tasks: Sequence[str], backends: Sequence[str]) -> str | None:
    """The commit FlagScale's ``unpatch`` would use for this device, tasks and backends, if any."""
    data = _load(ws)
    dev = data.get(device_type)
    if not hasattr(dev, "get"):
        return None
    key = backends_key(backends)
    for task in tasks:
        keyed = dev.get(task)
        listed = keyed.get(key) if hasattr(keyed, "get") else None
        if isinstance(listed, list) and listed:
            return str(listed[-1])
    return None


def append(ws: Workspace, device_type: str, tasks: Sequence[str], backends: Sequence[str], commit: str) -> bool:
    """Record ``commit`` as ``merge.py`` does; True when the file's bytes changed."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    data = _load(ws)
    if data.get(device_type) is None:
        data[device_type] = CommentedMap()
    dev = data[device_type]
    for task in tasks:
        if dev.get(task) is None:
            dev[task] = CommentedMap()
        for key in (backends_key(backends), *backends):
            if dev[task].get(key) is None:
                dev[task][key] = CommentedSeq()
            if commit not in [str(c) for c in dev[task][key]]:
                dev[task][key].append(commit)
    return ws.write_file(ws.root / HISTORY_FILE, dump_yaml(data))
