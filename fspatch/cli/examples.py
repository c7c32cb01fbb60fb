"""One or more examples for every verb, shown at the end of its ``--help`` and in its man page.

Kept apart from the commands so the table reads as documentation; ``globals.install`` puts each
entry into its command's epilog.  A test checks that every verb has one.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "init": ("fspatch init myframework   # upstream.lock, series/, vendors/, schemas/",),
    "resolutions list": ("fspatch resolutions list -b megatron",),
    "resolutions show": ("fspatch resolutions show 3f2a   # an id or a prefix of 4+ characters",),
    "resolutions forget": ("fspatch resolutions forget 3f2a   # never replayed again",),
    "sync": (
        "fspatch sync                # after git clone: every checkout back at its pin",
        "fspatch sync -b vllm",
    ),
    "backend add": (
        "fspatch backend add vllm --url https://github.com/vllm-project/vllm --ref v0.9.1",
        "fspatch backend add mini --url ../upstream-mini --ref v1.0   # relative to the workspace",
    ),
    "backend list": ("fspatch backend list --format json",),
    "apply": (
        "fspatch apply                           # the only backend: upstream + common layer",
        "fspatch apply -b vllm --vendor acme --task inference",
        "fspatch apply --upto 0002",
        "fspatch apply --to /tmp/tree            # a plain directory, nothing checked out",
    ),
    "push": (
        "fspatch push            # the next patch",
        "fspatch push -a         # all of them",
        "fspatch push second     # up to the patch made with 'fspatch new second'",
        "fspatch push --merge    # 3-way (or .rej files) when it does not apply",
        "fspatch push --merge=merge   # conflict markers without the base (quilt's merge style)",
    ),
    "pop": ("fspatch pop", "fspatch pop -a", "fspatch pop 0002          # down to 0002, kept applied"),
    "goto": ("fspatch goto 0002", "fspatch goto common/0003   # a common patch while a vendor layer is on top"),
    "new": ('fspatch new batch-log -m "Log the batch size"', "fspatch new npu-device --vendor acme"),
    "refresh": ("fspatch refresh", "fspatch refresh 0002      # into a lower patch", "fspatch refresh --mark"),
    "delete": (
        "fspatch delete batch-log",
        "fspatch delete 0004 --keep",
        "fspatch delete              # the top patch, as quilt delete",
    ),
    "rename": ("fspatch rename 0004 batch-size-log",),
    "status": ("fspatch status", "fspatch status --format json"),
    "series": ("fspatch series -v", "fspatch series --layer common", "fspatch series --format json"),
    "diff": ("fspatch diff                # the top patch with unrefreshed edits", "fspatch diff common/0002"),
    "recover": (
        "fspatch recover            # undo a verb that was killed half-way",
        "fspatch recover --discard  # drop a journal fspatch refuses to act on, after inspecting it",
    ),
    "check": (
        "fspatch check",
        "fspatch check --sync                  # in a fresh clone: set the checkouts up first",
        "fspatch check --markers --junit out.xml --sarif out.sarif",
    ),
    "mark": ("fspatch mark 0005",),
    "matrix": ("fspatch matrix --onto vllm=v0.10.0 --format markdown", "fspatch matrix --github-matrix"),
    "fmt": ("fspatch fmt", "fspatch fmt --dry-run"),
    "pull-upstream": ("fspatch pull-upstream v1.1", "fspatch pull-upstream -b vllm v0.10.0 --no-stop --report r.json"),
    "rebase-vendors": ("fspatch rebase-vendors", "fspatch rebase-vendors -b vllm --no-stop"),
    "continue": ("fspatch continue",),
    "skip": ("fspatch skip",),
    "abort": ("fspatch abort",),
    "review": ("fspatch review", "fspatch review --html review.html"),
    "blame": ("fspatch blame minillm/layers/norm.py", "fspatch blame -b vllm vllm/envs.py --vendor acme"),
    "vendor add": ("fspatch vendor add acme --device-type Acme_NPU --contact npu@acme.example",),
    "vendor layer": ("fspatch vendor layer acme minillm --task inference --model minillm-7b",),
    "vendor list": ("fspatch vendor list --format json",),
    "export": (
        "fspatch export --vendor acme",
        "fspatch export --format quilt --out out/",
        "fspatch export --format flagscale --out ../FlagScale --vendor acme",
    ),
    "import flagscale": (
        "fspatch import flagscale ../FlagScale",
        "fspatch -v import flagscale ../FlagScale --skip-encrypted --format json",
    ),
    "import quilt": (
        "fspatch import quilt ../less-590/debian   # after the top applied patch, as quilt import",
        "fspatch import quilt patches/ --vendor acme --append   # at the end of the layer",
    ),
    "import mbox": ("fspatch import mbox 0001-fix.patch series.mbox",),
    "import commits": ("fspatch import commits v1.0..my-branch",),
    "unpatch": (
        "fspatch unpatch --backend vllm --device-type Acme_NPU --task inference",
        "fspatch unpatch --backend Megatron-LM vllm --no-force --backend-commit 0d1e2f3 -",
    ),
    "patch": (
        "fspatch patch --backend Megatron-LM      # edits into their common per-file patches",
        "fspatch patch --backend vllm --device-type Acme_NPU --task inference --commit HEAD",
    ),
    # FlagScale compatibility (issue 14, items 7 and 9)
    "absorb": (
        "fspatch absorb --dry-run          # where each hunk would go",
        "fspatch absorb                    # each hunk into the patch that last changed its lines",
        "fspatch absorb --layer acme --into 0003",
    ),
    "merge": ("fspatch merge --backend vllm --device-type Acme_NPU --task inference --commit 1a2b3c4",),
    "compat install": ("fspatch compat install ../FlagScale   # tools/patch/{patch,unpatch,merge}.py shims",),
    "help": ("fspatch help push", "fspatch help backend add"),
    "header": (
        "fspatch header                 # the top patch's header",
        'fspatch header 0002 -m "Wider RMSNorm blocks"',
        "fspatch header -e              # in $EDITOR",
    ),
    "fold": ("fspatch fold fix.diff", "git diff | fspatch fold"),
    "float": ("fspatch float 0001          # to the top of the applied patches",),
    "sink": ("fspatch sink 0004", "fspatch sink 0004 --to 0002"),
    "squash": ('fspatch squash 0002 0003 -m "RMSNorm blocks and device selection"',),
    "files": ("fspatch files", "fspatch files common/0002"),
    "patches": ("fspatch patches minillm/layers/norm.py",),
    "top": ("fspatch top",),
    "next": ("fspatch next",),
    "previous": ("fspatch previous",),
    "applied": ("fspatch applied",),
    "unapplied": ("fspatch unapplied --vendor acme",),
}


def epilog(path: str) -> str | None:
    """The ``Examples:`` block for a command path (``"backend add"``), as click's help shows it."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


__all__ = ["EXAMPLES", "epilog"]
