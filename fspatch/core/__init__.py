"""Core model: workspace files, patches, stacks, markers and exports (no printing, no pygit2)."""
