"""Replaying layers onto a new base: the names of the replay, gathered for existing callers.

The replay lives in four modules (issue 12): the report values
(:mod:`fspatch.core.replay_report`), the saved plan (:mod:`fspatch.core.replay_plan`),
the pure engine (:mod:`fspatch.core.replay`) and the driver with journal and checkout
(:mod:`fspatch.core.replay_driver`).  New code imports from those.
"""

from __future__ import annotations

from fspatch.core.layers import common_fingerprint
from fspatch.core.replay import FileMergeStop, Progress, Replayer, has_markers, new_patch_bytes
from fspatch.core.replay_driver import Driver, OperationResult, check_ready, resume_operation, start_operation
from fspatch.core.replay_plan import LayerPlan, Plan, Stop, build_old_layer
from fspatch.core.replay_report import (
    CLEAN,
    CONFLICT,
    DROPPED,
    RESOLVED,
    SKIPPED,
    UPSTREAMED,
    Culprit,
    FileConflict,
    PatchOutcome,
    Region,
    ReplayReport,
    ReplayStatus,
    outcome_from_dict,
    summarize,
)

__all__ = [
    "CLEAN",
    "CONFLICT",
    "DROPPED",
    "RESOLVED",
    "SKIPPED",
    "UPSTREAMED",
    "Culprit",
    "Driver",
    "FileConflict",
    "FileMergeStop",
    "LayerPlan",
    "OperationResult",
    "PatchOutcome",
    "Plan",
    "Progress",
    "Region",
    "ReplayReport",
    "ReplayStatus",
    "Replayer",
    "Stop",
    "build_old_layer",
    "check_ready",
    "common_fingerprint",
    "has_markers",
    "new_patch_bytes",
    "outcome_from_dict",
    "resume_operation",
    "start_operation",
    "summarize",
]
