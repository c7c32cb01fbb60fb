"""Names instead of strings (issue 12): each word of the format is defined once and parsed in one place.

The task list lives in ``core/workspace.TASKS`` and every JSON Schema's task enum agrees with it;
a layer label (``common`` / ``vendor/<name>``) is parsed only by ``LayerRef.from_label``; replay
statuses are one enum whose words are what reports and the journal carry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fspatch
from fspatch.core.replay_report import ReplayStatus, summarize
from fspatch.core.workspace import TASKS, LayerRef, vendor_of_label
from fspatch.errors import UsageError

PKG = Path(fspatch.__file__).parent


def _task_enums(node: object) -> list[list[str]]:
    out: list[list[str]] = []
    if isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and "inference" in enum:
            out.append(enum)
        for value in node.values():
            out.extend(_task_enums(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_task_enums(value))
    return out


def test_every_schema_task_enum_is_the_one_task_list() -> None:
    """diff, history and layer schemas list exactly TASKS, in its order."""
    enums = [e for p in sorted((PKG / "schemas").glob("*.json")) for e in _task_enums(json.loads(p.read_text()))]
    assert len(enums) >= 3
    assert all(tuple(e) == TASKS for e in enums), enums


def test_layer_labels_round_trip_through_layerref() -> None:
    """A label names its layer and back; anything else is a clear usage error, not a silent split."""
    for ref in (LayerRef("vllm"), LayerRef("vllm", "acme-npu")):
        assert LayerRef.from_label(ref.backend, ref.label) == ref
    assert vendor_of_label("common") is None
    with pytest.raises(UsageError, match="bad layer label"):
        vendor_of_label("vendors/acme")


def test_no_label_is_split_by_hand_outside_layerref() -> None:
    """`split("/", 1)` on a label appears nowhere in core or commands except the one parser."""
    offenders = []
    for p in sorted([*(PKG / "core").glob("*.py"), *(PKG / "commands").glob("*.py")]):
        if p.name in ("workspace.py", "flagscale.py", "import_flagscale.py"):
            continue  # the parser itself; FlagScale's own directory names are not layer labels
        for n, line in enumerate(p.read_text().split("\n"), 1):
            if 'startswith("vendor/")' in line or ("vendor/" in line and 'split("/", 1)' in line):
                offenders.append(f"{p.name}:{n}")
    assert offenders == []


def test_replay_statuses_are_their_words() -> None:
    """Each status equals, hashes and prints as its word, so JSON reports and dict keys stay the same."""
    for status in ReplayStatus:
        assert status == status.value and hash(status) == hash(status.value)
        assert f"{status}" == str(status) == status.value
        assert json.dumps(status) == json.dumps(status.value)
    counts, _ = summarize([])
    assert set(counts) == {s.value for s in ReplayStatus}
