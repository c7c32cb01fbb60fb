"""Benchmark (issue 14): FlagScale's Megatron-LM vendor layers, each from its own base, brought to the pin.

Not in ``make test`` nor timed tests.  On the local mirrors (nothing is fetched):

* ``--flagscale`` (default ``$FSPATCH_FLAGSCALE_MIRROR`` or ``/work/.mirror/FlagOpen+FlagScale/repo``,
  bare; read at ``--at``, default ``main``, through :class:`fspatch.core.flagscale.TreeSource`)
* ``--megatron`` (default ``$FSPATCH_MEGATRON_MIRROR`` or ``/work/.mirror/NVIDIA+Megatron-LM/repo``)

1. A workspace pins Megatron-LM at FlagScale's gitlink ``third_party/Megatron-LM``.  Each plain-text
   vendor layer of ``hardware/*/Megatron-LM`` is imported alone (timed: split at its own base with the
   common layer of its own FlagScale commit, replayed to the pin); then all of them together (the
   real import: exit 0, or 1 with conflicts pending).
2. Round trip at the layer's own base: a workspace pinned at its ``backends_commit`` imports the
   common layer of its FlagScale commit and the layer, exports it with ``--format flagscale``;
   ``git apply --cached`` of that export on the pristine ``backends_commit`` must give the tree
   ``git apply --cached`` of FlagScale's own patches gives there (tree ids compared).
3. At the pin: the export of each brought-forward clean layer, ``git apply``-ed on the pristine pin,
   must give fspatch's own tree (pin + common + vendor).

    python bench/bench_flagscale.py [--at REV] [--only Cambricon_MLU]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fspatch.commands import export as export_cmd  # noqa: E402
from fspatch.commands import import_flagscale  # noqa: E402
from fspatch.core.export import FilesReader, build_stack  # noqa: E402
from fspatch.core.flagscale import FlagScaleRepo, TreeSource, VendorDir, scan_source  # noqa: E402
from fspatch.core.workspace import LayerRef, Workspace  # noqa: E402
from fspatch.errors import FspatchError  # noqa: E402
from fspatch.git_adapter import GitRepo  # noqa: E402

MEGATRON = Path(os.environ.get("FSPATCH_MEGATRON_MIRROR", "/work/.mirror/NVIDIA+Megatron-LM/repo"))
FLAGSCALE = Path(os.environ.get("FSPATCH_FLAGSCALE_MIRROR", "/work/.mirror/FlagOpen+FlagScale/repo"))
BACKEND = "megatron"


def log(msg: str) -> None:
    print(f"[bench_flagscale] {msg}", file=sys.stderr, flush=True)


def env() -> dict[str, str]:
    e = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
    e.update(
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.org",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.org",
    )
    return e


def sh(cwd: Path, *args: str, extra: dict[str, str] | None = None) -> str:
    out = subprocess.run(list(args), cwd=cwd, env={**env(), **(extra or {})}, capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {out.stderr.decode(errors='replace')[-1500:]}")
    return out.stdout.decode("utf-8", "replace")


def fspatch(*args: str) -> None:
    from click.testing import CliRunner

    from fspatch.cli import main_group

    r = CliRunner().invoke(main_group, list(args))
    if r.exit_code != 0:
        raise RuntimeError(f"fspatch {' '.join(args)}: {r.output[-1500:]}")


def workspace(base: Path, pin: str) -> Workspace:
    """A workspace pinning Megatron-LM at ``pin``: a shared clone of the mirror, a git repository itself."""
    ws = base / f"ws-{pin[:12]}"
    if ws.exists():
        shutil.rmtree(ws)
    fspatch("init", str(ws))
    co = ws / "third_party" / BACKEND
    co.parent.mkdir(parents=True, exist_ok=True)
    sh(base, "git", "clone", "-q", "--shared", "--no-checkout", str(MEGATRON), str(co))
    sh(co, "git", "checkout", "-q", "--detach", pin)
    fspatch("-q", "-C", str(ws), "backend", "add", BACKEND, "--url", str(MEGATRON), "--ref", pin)
    (ws / ".gitignore").write_text("third_party/\n")
    sh(ws, "git", "init", "-q")
    commit_ws(ws)
    return Workspace.load(ws)


def commit_ws(ws: Path) -> None:
    sh(ws, "git", "add", "-A")
    sh(ws, "git", "commit", "-q", "--allow-empty", "-m", "bench")


def applied_tree(co: Path, base: str, patches: list[Path]) -> str:
    """``git apply --cached`` of every patch (FlagScale's unpatch, in a scratch index) on pristine ``base``."""
    with tempfile.TemporaryDirectory() as tmp:
        idx = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        sh(co, "git", "read-tree", base, extra=idx)
        for p in patches:
            sh(co, "git", "apply", "--cached", "--whitespace=nowarn", str(p), extra=idx)
        return sh(co, "git", "write-tree", extra=idx).strip()


def write_original(vd: VendorDir, dest: Path) -> list[Path]:
    out = []
    for pf in vd.patches:
        p = dest / pf.path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(pf.data)
        out.append(p)
    return sorted(out)


def only(src: FlagScaleRepo, vd: VendorDir | None, common_from: FlagScaleRepo | None = None) -> FlagScaleRepo:
    c = common_from or src
    return replace(
        src,
        common={BACKEND: c.common[BACKEND]} if BACKEND in c.common else {},
        vendors=(vd,) if vd is not None else tuple(v for v in src.vendors if v.backend == BACKEND),
        history=None,
        skipped=(),
    )


def reset_layers(ws: Workspace) -> None:
    for d in (ws.root / "series" / BACKEND, ws.root / "vendors"):
        if d.exists():
            shutil.rmtree(d)
    (ws.root / "series" / BACKEND).mkdir(parents=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--at", default="main", help="FlagScale revision to read (default: main)")
    ap.add_argument("--only", action="append", default=[], help="only this device dir (repeatable)")
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    if not (FLAGSCALE / "HEAD").is_file() or not (MEGATRON / "HEAD").is_file():
        print(f"skipped: no FlagScale / Megatron-LM mirror at {FLAGSCALE} / {MEGATRON}")
        return
    fs = GitRepo.open(FLAGSCALE)
    at = fs.resolve(a.at)
    assert at is not None, a.at
    gitlink = fs.entry(fs.tree_of(at), "third_party/Megatron-LM")
    assert gitlink is not None
    pin = gitlink.id
    base = a.workdir or Path(tempfile.mkdtemp(prefix="bench-flagscale-"))
    base.mkdir(parents=True, exist_ok=True)
    log(f"FlagScale {at[:9]}, Megatron-LM pinned at its gitlink {pin[:12]}; work in {base}")
    ws = workspace(base, pin)
    src = scan_source(TreeSource(fs, at), ws.aliases())
    layers = [v for v in src.vendors if v.backend == BACKEND and v.patches and not v.encrypted]
    layers = [v for v in layers if not a.only or v.device_type in a.only]
    skipped = [v for v in src.vendors if v.backend == BACKEND and v.encrypted]
    rows = []
    for vd in layers:
        reset_layers(ws)
        t0 = time.perf_counter()
        try:
            r = import_flagscale.run_scanned(ws, only(src, vd), force=True, strict=False, fs_repo=fs)
        except FspatchError as exc:
            rows.append((vd, None, time.perf_counter() - t0, str(exc)))
            continue
        dt = time.perf_counter() - t0
        f = r.vendors[0].forward if r.vendors else None
        why = "" if r.vendors else next((d.reason for d in r.dirs if d.reason), "not imported")
        rows.append((vd, f, dt, why))
    # the real import: all layers together
    reset_layers(ws)
    t0 = time.perf_counter()
    together = import_flagscale.run_scanned(ws, only(src, None), force=True, fs_repo=fs)
    t_all = time.perf_counter() - t0
    commit_ws(ws.root)
    # at the pin: export of each clean brought-forward layer == fspatch's own tree
    at_pin: dict[str, str] = {}
    co = ws.root / "third_party" / BACKEND
    repo = GitRepo.open(co)
    out = base / "export-pin"
    pend = {x.vendor for x in together.vendors if x.forward is not None and x.forward.conflicts}
    for v in together.vendors:
        if v.vendor in pend:
            at_pin[v.source] = "pending"
            continue
        export_cmd.run_flagscale(ws, BACKEND, out=out, vendor=v.vendor)
        meta = ws.layer_meta(LayerRef(BACKEND, v.vendor))
        spelled = meta.get("flagscale", {}).get("backend", "Megatron-LM")
        device = meta.get("flagscale", {}).get("device_type", v.vendor)
        folder = out / "hardware" / device / spelled
        got = applied_tree(co, pin, sorted(folder.rglob("*.patch")))
        want = repo.tree_of(build_stack(repo, FilesReader(ws), BACKEND, v.vendor).top)
        at_pin[v.source] = "equal" if got == want else "DIFFERS"
    # round trip at each layer's own base
    trips: dict[str, str] = {}
    base_ws: dict[str, Workspace] = {}
    for vd, _f, _dt, _why in rows:
        meta = vd.meta
        bc = meta.backends_commit.get(vd.backend_spelled) if meta is not None else None
        fc = meta.commit if meta is not None else None
        if not bc or not fc or fs.resolve(fc) is None:
            trips[vd.display] = "n/a (no backends_commit / commit)"
            continue
        try:
            w = base_ws.get(bc) or workspace(base, bc)
            base_ws[bc] = w
            reset_layers(w)
            src_fc = scan_source(TreeSource(fs, fs.resolve(fc) or fc), w.aliases())
            r = import_flagscale.run_scanned(w, only(src, vd, src_fc), force=True, strict=True, fs_repo=fs)
            commit_ws(w.root)
            dest = base / f"export-base-{vd.device_type}"
            export_cmd.run_flagscale(w, BACKEND, out=dest, vendor=r.vendors[0].vendor)
            w_co = w.root / "third_party" / BACKEND
            mine = sorted((dest / "hardware" / vd.device_type / vd.backend_spelled).rglob("*.patch"))
            orig = write_original(vd, base / f"orig-{vd.device_type}")
            t_mine = applied_tree(w_co, bc, mine)
            t_orig = applied_tree(w_co, bc, orig)
            trips[vd.display] = "equal" if t_mine == t_orig else "DIFFERS"
        except (FspatchError, RuntimeError) as exc:
            trips[vd.display] = f"n/a ({str(exc).splitlines()[0][:150]})"
    # the table
    print(f"FlagScale {at[:9]}, Megatron-LM pin {pin[:12]} (FlagScale's gitlink)\n")
    print("| layer | layout | found at (FlagScale) | upstream | brought to | clean | conflicts | time | "
          "round trip at base | export at pin |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for vd, f, dt, why in rows:
        if f is None:
            print(f"| {vd.device_type} | {vd.layout} | failed: {why[:120]} | | | | | {dt:.1f} s | "
                  f"{trips.get(vd.display, '')} | |")
            continue
        up = f.upstream[:9] + ("" if f.upstream == f.backends_commit else f" (split on; bc {f.backends_commit[:9]})")
        print(f"| {vd.device_type} | {vd.layout} | {f.found_at[:9]} | {up} | {f.brought_to[:9]} | {f.clean} | "
              f"{f.conflicts} | {dt:.1f} s | {trips.get(vd.display, '')} | {at_pin.get(vd.display, '')} |")
    for vd in skipped:
        print(f"| {vd.device_type} | encrypted | not a plain-text layer (opaque without --key) | | | | | | | |")
    print()
    imported = sum(1 for _vd, f, _dt, _why in rows if f is not None)
    equal = sum(1 for v in trips.values() if v == "equal")
    ok = "ok" if imported == len(rows) else "MISSED"
    print(f"TARGET: issue 14 | plain-text Megatron-LM vendor layers imported from their own base and brought "
          f"to the pin (clean or pending) | {imported}/{len(rows)} | {ok}")
    ok = "ok" if equal == len(rows) else "MISSED"
    print(f"TARGET: issue 14 | FlagScale export git-applied on the pristine backends_commit equals FlagScale's "
          f"own tree | {equal}/{len(rows)} equal | {ok}")
    code = 1 if together.pending else 0
    n_conf = sum(f.conflicts for v in together.vendors if (f := v.forward) is not None)
    print(f"all layers together: {t_all:.1f} s, exit {code}, {n_conf} conflicting patches pending "
          f"({', '.join(together.pending) or 'none'})")
    for vd, f, _dt, _why in rows:
        if f is not None:
            for c in f.regions[:8]:
                print(f"  {vd.device_type}: {c.patch}: {c.file} {c.region} {c.culprit[:80]}")
            if len(f.regions) > 8:
                print(f"  {vd.device_type}: … {len(f.regions) - 8} more")
            for n in f.notes:
                print(f"  {vd.device_type}: note: {n}")


if __name__ == "__main__":
    main()
