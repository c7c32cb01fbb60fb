"""FlagScale's real ``hardware/`` scanned: every file imported or listed with its reason.

Reads a commit of the FlagScale mirror (a bare repository; some blobs may be missing) through
:class:`fspatch.core.flagscale.TreeSource` and prints, per vendor directory, the files found,
the patch files the import reads (plain / encrypted: carried opaque without ``--key``), and
every other file with the reason it is not imported; then the diff.yaml warnings.  Nothing is
written; no workspace is needed.

    python bench/bench_flagscale_scan.py                   # hardware/*/Megatron-LM at da4935ec6
    python bench/bench_flagscale_scan.py --backend all     # every backend directory
    python bench/bench_flagscale_scan.py --commit 14e4ec351 --backend all   # the 2024 mbox layout
    python bench/bench_flagscale_scan.py --import     # also import them into a workspace pinning
                                                      # Megatron-LM at FlagScale's gitlink (no key)

The mirror: ``--mirror`` (default ``$FSPATCH_FLAGSCALE_MIRROR`` or
``/work/.mirror/FlagOpen+FlagScale/repo``); a missing mirror skips the benchmark.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fspatch.core.flagscale import FlagScaleRepo, TreeSource, scan_source  # noqa: E402
from fspatch.git_adapter import GitRepo  # noqa: E402

FLAGSCALE = Path(os.environ.get("FSPATCH_FLAGSCALE_MIRROR", "/work/.mirror/FlagOpen+FlagScale/repo"))
MEGATRON = Path(os.environ.get("FSPATCH_MEGATRON_MIRROR", "/work/.mirror/NVIDIA+Megatron-LM/repo"))


def import_megatron(found: FlagScaleRepo, repo: GitRepo, commit: str, pin: str | None) -> None:
    """Import the Megatron-LM common layer and vendor dirs into a fresh workspace pinning Megatron at
    FlagScale's gitlink, and print each directory's status (every layer is forced onto that pin
    here: bringing each from its own base is issue 14 item 2)."""
    from fspatch.commands import backend as backend_cmd
    from fspatch.commands import import_flagscale
    from fspatch.core.workspace import Workspace, init_workspace

    link = repo.entry(repo.tree_of(commit), "third_party/Megatron-LM")
    if link is None or not MEGATRON.exists():
        print(f"no gitlink or no Megatron mirror ({MEGATRON}): import skipped")
        return
    sha = pin or link.id
    with tempfile.TemporaryDirectory(prefix="fspatch-fs-import-") as tmp:
        ws_root = Path(tmp) / "ws"
        ws_root.mkdir()
        init_workspace(ws_root)
        co = ws_root / "third_party" / "megatron"
        co.parent.mkdir(parents=True)
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(MEGATRON), str(co)], check=True)
        subprocess.run(["git", "-C", str(co), "checkout", "-q", "--detach", sha], check=True)
        ws = Workspace.load(ws_root)
        backend_cmd.run_add(ws, "megatron", url=str(MEGATRON), ref=sha)
        ws = Workspace.load(ws_root)
        ws.set_backend(dataclasses.replace(ws.backends()["megatron"], aliases=("Megatron-LM",)))
        ws.save_lock()
        ws = Workspace.load(ws_root)
        only = dataclasses.replace(
            found,
            common={k: v for k, v in found.common.items() if k == "megatron"},
            vendors=tuple(v for v in found.vendors if v.backend == "megatron"),
        )
        t0 = time.perf_counter()
        r = import_flagscale.run_scanned(ws, only)
        took = time.perf_counter() - t0
        print()
        print(f"import into a workspace pinning megatron at {sha[:9]} (no --key): {took:.1f} s")
        for c in r.common:
            print(f"common/{c.backend}: {c.patches} patches")
        print()
        print("| vendor directory | status | patch files imported | vendor patches | reason |")
        print("|---|---|---:|---:|---|")
        per = {v.source: v for v in r.vendors}
        for d in r.dirs:
            n = per[d.source].patches if d.source in per else 0
            reason = d.reason.replace("|", "\\|")[:160]
            print(f"| {d.source} | {d.status} | {len(d.imported)} | {n} | {reason} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirror", type=Path, default=FLAGSCALE)
    ap.add_argument("--commit", default="da4935ec6")
    ap.add_argument("--backend", default="Megatron-LM", help="backend directory as FlagScale spells it, or 'all'")
    ap.add_argument("--import", dest="do_import", action="store_true", help="also import the Megatron-LM dirs")
    ap.add_argument("--pin", help="with --import: pin Megatron here instead of FlagScale's gitlink")
    args = ap.parse_args(argv)
    if not args.mirror.exists():
        print(f"FlagScale mirror missing ({args.mirror}): benchmark skipped")
        return 0
    repo = GitRepo.open(args.mirror)
    commit = repo.resolve(args.commit)
    if commit is None:
        print(f"{args.commit}: not in {args.mirror}: benchmark skipped")
        return 0
    t0 = time.perf_counter()
    found = scan_source(TreeSource(repo, commit))
    took = time.perf_counter() - t0
    dirs = [v for v in found.vendors if args.backend == "all" or v.backend_spelled == args.backend]
    print(
        f"FlagScale {commit[:9]}: {len(found.vendors)} vendor directories scanned in {took:.2f} s; "
        f"showing {args.backend}"
    )
    print()
    print("| vendor directory | layout | files | patches read (plain / encrypted) | metadata | listed, not imported |")
    print("|---|---|---:|---:|---|---|")
    totals = [0, 0, 0, 0]
    for v in dirs:
        enc = len(v.encrypted)
        plain = len(v.patches) - enc
        meta = "diff.yaml" if v.meta is not None else ("none (mbox)" if v.layout == "mbox" else "missing/unusable")
        listed = "; ".join(f"{s.path}: {s.reason}" for s in v.skipped) or "-"
        if v.superseded_by:
            listed = f"(whole dir superseded by {v.superseded_by}) " + listed
        print(
            f"| {v.display} | {v.layout} | {v.files_found} | {plain} / {enc} | "
            f"{meta}, {len(v.warnings)} warnings | {listed} |"
        )
        totals[0] += v.files_found
        totals[1] += plain
        totals[2] += enc
        totals[3] += len(v.skipped)
    print(f"| **total** ({len(dirs)} dirs) | | {totals[0]} | {totals[1]} / {totals[2]} | | {totals[3]} |")
    accounted = totals[1] + totals[2] + totals[3] + sum(1 for v in dirs if v.meta is not None)
    print()
    print(f"accounted for: {accounted} of {totals[0]} files (patch read, diff.yaml read, or listed with a reason)")
    every = sum(len(v.patches) for v in found.vendors)
    every_enc = sum(len(v.encrypted) for v in found.vendors)
    print(f"all of hardware/: {every} patch files read ({every_enc} encrypted) in {len(found.vendors)} directories")
    for s in found.skipped:
        print(f"outside vendor directories: {s.path}: {s.reason}")
    warnings = [w for v in dirs for w in v.warnings]
    if warnings:
        print()
        print(f"diff.yaml warnings ({len(warnings)}):")
        for w in warnings:
            print(f"  {w}")
    print()
    if args.do_import:
        import_megatron(found, repo, commit, args.pin)
    shown = "*" if args.backend == "all" else args.backend
    print(
        f"TARGET: 14 | every file under hardware/*/{shown}/ imported or listed | {accounted}/{totals[0]} | "
        f"{'ok' if accounted == totals[0] else 'MISSED'}"
    )
    return 0 if accounted == totals[0] else 1


if __name__ == "__main__":
    sys.exit(main())
