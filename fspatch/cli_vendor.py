"""Click wiring for the vendor verbs (registers on fspatch.cli.main_group)."""

from __future__ import annotations
