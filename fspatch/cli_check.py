"""Click wiring for the check verbs (registers on fspatch.cli.main_group)."""

from __future__ import annotations
