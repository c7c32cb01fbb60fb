"""Click wiring for the rebase verbs (registers on fspatch.cli.main_group)."""

from __future__ import annotations
