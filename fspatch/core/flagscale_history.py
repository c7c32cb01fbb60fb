"""FlagScale's ``hardware/patch_history.yaml``, read and written in FlagScale's own format.

The real shape (what ``tools/patch/merge.py`` writes with PyYAML, ``sort_keys=False``)::

    <Device_Type>:              # e.g. Cambricon_MLU
      <task>:                   # train | inference | post_train
        <A+B>:                  # sorted FlagScale backend names joined by '+': FlagScale+vllm
        - <40-hex FlagScale commit>      # oldest first; unpatch takes the last
        <A>:                    # merge.py also records each backend alone
        - <commit>

fspatch keeps this file *beside* its derived ``vendors/history.yaml`` (vendor → task → backend
set → commits, fspatch names): the FlagScale file is stored as it came
(``vendors/patch_history.yaml``, :data:`HISTORY_FILE`) so that an unchanged file is written back
byte for byte (ruamel round trip keeps order, quoting, comments and indentation), and
:func:`append` adds a commit exactly as ``merge.py`` does.

Reading is lenient like :mod:`fspatch.core.flagscale_meta`: an entry that is not a list of
commits is a warning with its line, never a crash.  fspatch's earlier invented shape (task → list
of ``{backends, commits}``) is read too, so files fspatch exported before still import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fspatch.core.flagscale_meta import MetaWarning

__all__ = ["HISTORY_FILE", "HistoryEntry", "PatchHistory", "append", "backends_key", "dump", "load"]

#: Where a workspace keeps FlagScale's file, verbatim (beside the derived vendors/history.yaml).
HISTORY_FILE = "vendors/patch_history.yaml"
_HEX40 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class HistoryEntry:
    """One list of the file: device → task → backends key → commits (oldest first)."""

    device_type: str
    task: str
    key: str
    backends: tuple[str, ...]  # the key split on '+', as spelled
    commits: tuple[str, ...]
    line: int | None


@dataclass
class PatchHistory:
    """The loaded file: the round-trip document (for a byte-exact save) and its entries."""

    data: Any
    display: str
    entries: tuple[HistoryEntry, ...]
    warnings: tuple[MetaWarning, ...]

    def latest(self, device_type: str, tasks: Sequence[str], backends: Iterable[str]) -> str | None:
        """The commit FlagScale's ``unpatch`` would check out: the last one of the first task
        (in the order given) that has the sorted ``A+B`` key."""
        key = backends_key(backends)
        for task in tasks:
            for e in self.entries:
                if e.device_type == device_type and e.task == task and e.key == key and e.commits:
                    return e.commits[-1]
        return None


def backends_key(backends: Iterable[str]) -> str:
    """``merge.py``'s key: the FlagScale backend names sorted (plain ``sorted``, so capitals
    first: ``FlagScale+Megatron-LM``) and joined by ``+``."""
    return "+".join(sorted(backends))


def _line(node: Any, key: Any) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        return int(lc.key(key)[0]) + 1
    except (KeyError, TypeError, AttributeError):
        return None


def load(raw: bytes | None, display: str = "hardware/patch_history.yaml") -> PatchHistory:
    """Read the file (``None`` or blank = an empty history).  Raises :class:`~fspatch.errors.InputError`
    only when it is not YAML or its top level is not a mapping."""
    from ruamel.yaml.comments import CommentedMap

    from fspatch.core.yamlio import parse_yaml

    if raw is None or not raw.strip():
        return PatchHistory(CommentedMap(), display, (), ())
    data = parse_yaml(raw, display)
    entries: list[HistoryEntry] = []
    warnings: list[MetaWarning] = []
    for device, tasks in data.items():
        if tasks is None:
            continue
        if not isinstance(tasks, Mapping):
            warnings.append(
                MetaWarning(display, _line(data, device), f"{device}: should map tasks to backends, skipped")
            )
            continue
        for task, keyed in tasks.items():
            tline = _line(tasks, task)
            if isinstance(keyed, list):  # fspatch's earlier shape: [{backends: [...], commits: [...]}]
                for item in keyed:
                    if isinstance(item, Mapping) and isinstance(item.get("backends"), list):
                        names = tuple(str(b) for b in item["backends"])
                        commits = tuple(str(c) for c in item.get("commits") or ())
                        entries.append(HistoryEntry(str(device), str(task), backends_key(names), names, commits, tline))
                    else:
                        warnings.append(
                            MetaWarning(display, tline, f"{device}.{task}: an entry is not backends + commits, skipped")
                        )
                continue
            if not isinstance(keyed, Mapping):
                warnings.append(
                    MetaWarning(display, tline, f"{device}.{task}: should map 'A+B' keys to commits, skipped")
                )
                continue
            for key, listed in keyed.items():
                kline = _line(keyed, key)
                seq: Any = [] if listed is None else listed
                if not isinstance(seq, list):
                    warnings.append(
                        MetaWarning(display, kline, f"{device}.{task}.{key}: should be a list of commits, skipped")
                    )
                    continue
                values = tuple(str(c) for c in seq)
                for c in values:
                    if not _HEX40.fullmatch(c):
                        warnings.append(
                            MetaWarning(display, kline, f"{device}.{task}.{key}: {c!r} is not a 40-hex commit")
                        )
                entries.append(
                    HistoryEntry(str(device), str(task), str(key), tuple(str(key).split("+")), values, kline)
                )
    return PatchHistory(data, display, tuple(entries), tuple(warnings))


def dump(history: PatchHistory) -> bytes:
    """The file's bytes: an unchanged loaded history gives the input back byte for byte."""
    from fspatch.core.yamlio import dump_yaml

    if not history.data:
        return b"{}\n"
    return dump_yaml(history.data)


def append(
    history: PatchHistory, device_type: str, tasks: Sequence[str], backends: Sequence[str], commit: str
) -> PatchHistory:
    """Record ``commit`` as ``merge.py`` does: under the sorted ``A+B`` key of each task, then under
    each backend alone; a commit already listed is not repeated; new keys go last."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    data = history.data
    if device_type not in data or data[device_type] is None:
        data[device_type] = CommentedMap()
    dev = data[device_type]
    for task in tasks:
        if task not in dev or dev[task] is None:
            dev[task] = CommentedMap()
        for key in (backends_key(backends), *backends):
            if key not in dev[task] or dev[task][key] is None:
                dev[task][key] = CommentedSeq()
            if commit not in [str(c) for c in dev[task][key]]:
                dev[task][key].append(commit)
    return load(dump(history), history.display) if data else history
