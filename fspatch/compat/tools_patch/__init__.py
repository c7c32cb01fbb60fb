"""The shim scripts ``fspatch compat install`` copies to a FlagScale checkout's ``tools/patch/``."""
