"""fspatch: layered patch queues over pinned upstream backends."""

__version__ = "0.1.0"
