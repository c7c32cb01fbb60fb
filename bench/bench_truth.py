"""Truth-set benchmark (issue 17): fspatch's resolution ladder against Debian maintainers' own work.

Debian maintainers carry quilt series (``debian/patches``) and refresh them by hand at every
upstream release.  For each package, every pair of consecutive *upstream* versions among the
source versions of bookworm, trixie and sid is one bump: the older series is replayed onto the
newer upstream with git's 3-way merge, and the newer series -- the maintainers' refresh -- is
the truth.

Per patch present in both series (matched by file name), in isolation, like every merge-tool
evaluation on real merges:
  * ancestor = old upstream + old series up to the patch's parent, theirs = the same + the patch
    (old patched), ours = new upstream + the maintainers' new series up to the patch's parent;
  * git's tree merge (libgit2 ``merge_trees``, what ``pull-upstream`` runs) decides clean or
    conflicting; the conflicting files are read as diff3 regions;
  * the truth of a region is what the maintainers' refreshed patch gives there
    (``new series up to and including the patch``), located by the region's unchanged
    neighbours (``conflict_regions.resolved_regions``); a region whose neighbours the
    maintainers changed has no known truth;
  * fspatch's ladder (``--resolve safe``: recorded, carried, structured, relocated) is run on each region:
    *equal* = resolved and identical to the truth, *differ* = resolved otherwise,
    *unverified* = resolved where the truth is unknown.
Patches the maintainers *dropped* (in the old series, not in the new one) are replayed too,
and counted apart and together with the kept ones: for a Debian bump they are most of git's
conflicts (upstream took the fix).  ours = new upstream + the new series up to where the
patch stood; the truth of a region is upstream's side itself -- but only in a file no later
patch of the new series touches (a renamed or folded patch would carry the change later;
there the truth is unknown and a resolution counts *unverified*, never *equal*).  A dropped
patch whose whole change reverse-applies (the replay's ``already upstream``) would count as
resolved; none does on this data.
Then the recorded-resolution pass: every region with a known truth is recorded (as ``continue``
would after a person resolved it) and the same bump is replayed with ``--resolve recorded``;
the rate is the share of those regions resolved again, identically.

Data (never committed), cached under ``$FSPATCH_CACHE/debian-truth`` (default
``~/.cache/fspatch``): ``apt-get source --download-only PKG=VERSION`` for every source version
``apt-cache showsrc`` lists (a ``deb-src`` list for bookworm, trixie and sid is written to
``/etc/apt/sources.list.d/fspatch-truth-src.sources`` first if missing, then ``apt-get
update``); versions the mirror does not serve are skipped.  Trees are imported once into
``work/<pkg>.git`` (bare, pygit2) and their ids cached.

    python bench/bench_truth.py                     # the default package set
    python bench/bench_truth.py --packages curl openssh --verbose
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fspatch.core.conflict_regions import parse_diff3, resolved_regions  # noqa: E402
from fspatch.core.culprit import reverse_applies  # noqa: E402
from fspatch.core.ladder import RECORDED, SAFE, Ladder  # noqa: E402
from fspatch.core.patch import parse_patch  # noqa: E402
from fspatch.core.resolutions import ResolutionStore, record_for  # noqa: E402
from fspatch.core.stack import apply_files  # noqa: E402
from fspatch.errors import FspatchError  # noqa: E402
from fspatch.git_adapter import MODE_EXEC, MODE_FILE, MODE_LINK, Entry, GitRepo  # noqa: E402

PACKAGES = [
    "openssh",
    "curl",
    "openssl",
    "systemd",
    "grub2",
    "bash",
    "cups",
    "file",
    "lighttpd",
    "postfix",
    "shadow",
    "util-linux",
    "wget",
    "tar",
    "procps",
    "e2fsprogs",
    "less",
    "python-pip",
    "python-django",
    "setuptools",
    "pylint",
]
SOURCES = Path("/etc/apt/sources.list.d/fspatch-truth-src.sources")
LABELS = ("old upstream", "new upstream", "patch")


DROPPED_ROWS: list[tuple[str, Counts]] = []  # per bump: the patches the maintainers dropped
DUMP: list[Path] = []  # --dump DIR: every region written there as JSON lines (for classifying by hand)


def dump_region(label: str, path: str, reg: Any, want: Any) -> None:
    """One region's sides, the maintainers' result and fspatch's answer, as a JSON line (latin-1 text)."""
    if not DUMP:
        return

    def text(lines: Any) -> str | None:
        return None if lines is None else b"".join(lines).decode("latin-1")

    row = {
        "bump": label,
        "path": path,
        "index": reg.index,
        "start": reg.start,
        "base": text(reg.base),
        "ours": text(reg.ours),
        "theirs": text(reg.theirs),
        "truth": text(want),
        "rule": reg.rule,
        "reason": reg.reason,
        "after": text(reg.after),
    }
    with open(DUMP[0] / "regions.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def log(msg: str) -> None:
    print(f"[bench_truth] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = Path(os.environ.get("FSPATCH_CACHE") or Path.home() / ".cache" / "fspatch")
    return base / "debian-truth"


# --------------------------------------------------------------------------- downloads


def ensure_sources() -> None:
    if SOURCES.exists():
        return
    SOURCES.write_text(
        "# fspatch bench/bench_truth.py: source packages of three Debian releases (issue 17 truth set)\n"
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm trixie sid\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)


def versions_of(pkg: str) -> list[str]:
    out = subprocess.run(["apt-cache", "showsrc", pkg], capture_output=True, text=True, check=False).stdout
    found, cur = [], None
    for line in out.splitlines():
        if line.startswith("Package: "):
            cur = line.split(": ", 1)[1]
        elif line.startswith("Version: ") and cur == pkg:
            found.append(line.split(": ", 1)[1])
    return sorted(set(found))


def download(pkg: str) -> list[Path]:
    """Every fetchable source version of pkg: a directory each (cached; failures remembered)."""
    dirs = []
    for v in versions_of(pkg):
        d = cache_dir() / pkg / "v" / re.sub(r"[:~+]", "_", v)
        if not (d / ".done").exists() and not (d / ".fail").exists():
            d.mkdir(parents=True, exist_ok=True)
            got = subprocess.run(
                ["apt-get", "source", "--download-only", "-q", f"{pkg}={v}"],
                cwd=d,
                capture_output=True,
                timeout=900,
                check=False,
            )
            (d / (".done" if got.returncode == 0 else ".fail")).touch()
        if (d / ".done").exists():
            dirs.append(d)
    return dirs


# --------------------------------------------------------------------------- trees


@dataclass
class Version:
    pkg: str
    version: str
    upstream: str
    orig: Path
    debian: Path


def read_version(d: Path) -> Version | None:
    dsc = next(iter(sorted(d.glob("*.dsc"))), None)
    if dsc is None:
        return None
    text = dsc.read_text(errors="replace")
    m = re.search(r"^Version: (\S+)", text, re.M)
    fmt = re.search(r"^Format: (.+)$", text, re.M)
    if m is None or fmt is None or "quilt" not in fmt.group(1):
        return None
    v = m.group(1)
    up = v.split(":", 1)[-1].rsplit("-", 1)[0]
    orig = [p for p in d.glob("*.orig.tar.*") if not p.name.endswith(".asc")]
    deb = [p for p in d.glob("*.debian.tar.*")]
    if len(orig) != 1 or len(deb) != 1:
        return None
    return Version(d.parent.parent.name, v, up, orig[0], deb[0])


def dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0


def import_tar(repo: GitRepo, path: Path, strip_top: bool) -> str:
    """A tarball's files as a git tree (top directory stripped); symlinks and exec bits kept."""
    changes: dict[str, Entry | None] = {}
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.issym()]
        for m in members:
            name = m.name.lstrip("./")
            if strip_top:
                name = name.split("/", 1)[1] if "/" in name else ""
            if not name:
                continue
            if m.issym():
                changes[name] = Entry(repo.write_blob(m.linkname.encode()), MODE_LINK)
                continue
            fh = tar.extractfile(m)
            if fh is None:
                continue
            mode = MODE_EXEC if m.mode & 0o111 else MODE_FILE
            changes[name] = Entry(repo.write_blob(fh.read()), mode)
    return repo.update_tree(repo.empty_tree(), changes)


def series_of(repo: GitRepo, debian_tree: str) -> list[tuple[str, int, bytes]] | None:
    got = repo.read_file(debian_tree, "debian/patches/series")
    if got is None:
        return None
    out = []
    for raw in got[0].decode("utf-8", "replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        strip = 1
        for opt in parts[1:]:
            if opt.startswith("-p") and opt[2:].isdigit():
                strip = int(opt[2:])
        body = repo.read_file(debian_tree, f"debian/patches/{parts[0]}")
        if body is None:
            continue
        out.append((parts[0], strip, body[0]))
    return out


def build_stack(repo: GitRepo, tree: str, series: list[tuple[str, int, bytes]]) -> tuple[list[str], list[str]]:
    """Trees after each patch (index 0 = upstream) and the names applied, until one fails."""
    trees = [tree]
    names = []
    for name, strip, body in series:
        try:
            patch = parse_patch(body, name, strip)
            tree = apply_files(repo, tree, patch.files)
        except FspatchError:
            break
        trees.append(tree)
        names.append(name)
    return trees, names


# --------------------------------------------------------------------------- measuring


@dataclass
class Counts:
    patches: int = 0  # patches replayed (in both series, applying on both sides)
    clean: int = 0
    conflict_patches: int = 0
    conflict_files: int = 0
    regions: int = 0
    truth_known: int = 0
    resolved: int = 0
    equal: int = 0
    differ: int = 0
    unverified: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    recorded: int = 0
    replayed_equal: int = 0
    seconds: float = 0.0

    def add(self, o: Counts) -> None:
        for k, v in vars(o).items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    self.by_rule[kk] = self.by_rule.get(kk, 0) + vv
            else:
                setattr(self, k, getattr(self, k) + v)


def measure_bump(
    repo: GitRepo,
    old: Version,
    new: Version,
    trees: dict[str, str],
    store_dir: Path,
    verbose: bool,
    dropped: Counts | None = None,
) -> Counts:
    c = Counts()
    t0 = time.perf_counter()
    old_series = series_of(repo, trees[str(old.debian)]) or []
    new_series = series_of(repo, trees[str(new.debian)]) or []
    old_trees, old_names = build_stack(repo, trees[str(old.orig)], old_series)
    new_trees, new_names = build_stack(repo, trees[str(new.orig)], new_series)
    new_at = {n: i for i, n in enumerate(new_names)}
    store = ResolutionStore(store_dir, "resolutions")
    ladder = Ladder(SAFE, store)
    pending: Pending = []
    last = 0  # position in the new series after the last kept patch seen
    for i, name in enumerate(old_names):
        j = new_at.get(name)
        anc, theirs = old_trees[i], old_trees[i + 1]
        if j is None:
            if dropped is not None:
                label = f"{old.pkg} DROPPED {name}"
                measure_dropped(repo, ladder, dropped, label, anc, theirs, new_trees[last], new_trees[-1])
            continue
        last = j + 1
        ours, truth = new_trees[j], new_trees[j + 1]
        c.patches += 1
        res = repo.merge_trees(anc, ours, theirs)
        if res.tree is not None:
            c.clean += 1
            continue
        c.conflict_patches += 1
        upstreamed = already_upstream(repo, anc, ours, theirs, name)
        for path in res.conflicts:
            a = repo.read_file(anc, path)
            o = repo.read_file(ours, path)
            t = repo.read_file(theirs, path)
            if a is None or o is None or t is None:
                continue  # add/delete conflicts: not regions of text
            tr = repo.read_file(truth, path)
            if upstreamed:  # the replay would drop it as already upstream: every region is upstream's side
                got = repo.merge_texts(path, a[0], o[0], t[0], LABELS)
                merged = parse_diff3(got[1], LABELS) if got is not None and not got[0] else None
                if merged is not None:
                    c.conflict_files += 1
                    count_upstreamed(c, merged, resolved_regions(merged, tr[0]) if tr else [None] * len(merged.regions))
                continue
            compare_file(repo, ladder, c, pending, f"{old.pkg} {name}", path, a[0], o[0], t[0], tr, verbose)
    recorded_pass(store_dir, store, pending, c)
    c.seconds = time.perf_counter() - t0
    return c


def measure_dropped(
    repo: GitRepo, ladder: Ladder, c: Counts, label: str, anc: str, theirs: str, ours: str, final: str
) -> None:
    """A patch the maintainers dropped: replayed like the others; the truth of its regions is upstream's side.

    ours = new upstream + the maintainers' new series up to where the patch stood (after the
    last patch before it that they kept).  They carry nothing of the patch there, so a region's
    truth is ours -- but only in a file no later patch of the new series touches (the final
    tree reads the same as ours): a patch renamed or folded into another would carry the
    change later, and then the truth is unknown.  The replay's own ``already upstream`` test
    (quilt's reverse-apply, on the whole patch) is counted first: when it holds, every region
    of the patch is resolved as upstream's side, as ``pull-upstream`` reports it.
    """
    c.patches += 1
    res = repo.merge_trees(anc, ours, theirs)
    if res.tree is not None:
        c.clean += 1
        return
    c.conflict_patches += 1
    upstreamed = already_upstream(repo, anc, ours, theirs, label)
    for path in res.conflicts:
        a = repo.read_file(anc, path)
        o = repo.read_file(ours, path)
        t = repo.read_file(theirs, path)
        if a is None or o is None or t is None:
            continue
        fin = repo.read_file(final, path)
        known = fin is not None and fin[0] == o[0]
        got = repo.merge_texts(path, a[0], o[0], t[0], LABELS)
        merged = parse_diff3(got[1], LABELS) if got is not None and not got[0] else None
        if merged is None:
            continue
        # The truth of each region is upstream's side itself (no alignment needed), where known.
        truths: list[Any] = [r.ours if known else None for r in merged.regions]
        if upstreamed:
            c.conflict_files += 1
            count_upstreamed(c, merged, truths)
            continue
        compare_file(repo, ladder, c, [], label, path, a[0], o[0], t[0], o if known else None, False, truths)


def already_upstream(repo: GitRepo, anc: str, ours: str, theirs: str, label: str) -> bool:
    """The replay's whole-patch test (quilt's reverse-apply onto ours): ``pull-upstream`` says upstreamed."""
    try:
        return reverse_applies(repo, ours, parse_patch(repo.diff_trees(anc, theirs), label).files, {})
    except FspatchError:
        return False


def count_upstreamed(c: Counts, merged: Any, truths: list[Any]) -> None:
    """Every region of a patch the replay finds already upstream: resolved as upstream's side."""
    for reg, want in zip(merged.regions, truths, strict=True):
        c.regions += 1
        c.resolved += 1
        c.by_rule["already upstream"] = c.by_rule.get("already upstream", 0) + 1
        if want is None:
            c.unverified += 1
            continue
        c.truth_known += 1
        c.equal += want == reg.ours
        c.differ += want != reg.ours


Pending = list[tuple[str, Any, list[Any], tuple[bytes, bytes, bytes, bytes]]]


def compare_file(
    repo: GitRepo,
    ladder: Ladder,
    c: Counts,
    pending: Pending,
    label: str,
    path: str,
    a: bytes,
    o: bytes,
    t: bytes,
    tr: tuple[bytes, int] | None,
    verbose: bool,
    known: list[Any] | None = None,
) -> None:
    """One conflicting file: git's regions, the ladder's answers, compared with the truth file."""
    got = repo.merge_texts(path, a, o, t, LABELS)
    if got is None or got[0]:
        return
    merged = parse_diff3(got[1], LABELS)
    if merged is None:
        return
    c.conflict_files += 1
    if known is not None:
        truths = known
    else:
        truths = resolved_regions(merged, tr[0]) if tr is not None else [None] * len(merged.regions)
    fr = ladder.resolve_file(path, a, o, t, got[1], LABELS)
    assert fr is not None
    for reg, want in zip(fr.regions, truths, strict=True):
        dump_region(label, path, reg, want)
        c.regions += 1
        if want is not None:
            c.truth_known += 1
        if reg.rule is None:
            if verbose and not reg.base and want is not None and want != reg.ours:
                log(f"LEFT {label} {path} region {reg.index}: {reg.reason}")
            continue
        c.resolved += 1
        c.by_rule[reg.rule] = c.by_rule.get(reg.rule, 0) + 1
        if want is None:
            c.unverified += 1
        elif reg.after == want:
            c.equal += 1
        else:
            c.differ += 1
            if verbose:
                log(f"DIFFER {label} {path} region {reg.index} ({reg.rule}: {reg.reason})")
                log("  ours: " + repr(b"".join(reg.ours)[:300]))
                log("  theirs: " + repr(b"".join(reg.theirs)[:300]))
                log("  fspatch: " + repr(b"".join(reg.after or ())[:300]))
                log("  maintainers: " + repr(b"".join(want)[:300]))
    pending.append((path, merged, truths, (a, o, t, got[1])))


def recorded_pass(store_dir: Path, store: ResolutionStore, pending: Pending, c: Counts) -> None:
    """Record every region whose truth is known (as continue would), then replay the same conflicts."""
    for path, merged, truths, _texts in pending:
        for reg, want in zip(merged.regions, truths, strict=True):
            if want is not None:
                rec = record_for(path, reg, want, recorded="2026-12-02T00:00:00Z", author="bench", patch="", context="")
                store.save(rec)
                c.recorded += 1
    replay = Ladder(RECORDED, ResolutionStore(store_dir, "resolutions"))
    for path, _merged, truths, (a_, o_, t_, d3) in pending:
        again = replay.resolve_file(path, a_, o_, t_, d3, LABELS)
        assert again is not None
        for reg, want in zip(again.regions, truths, strict=True):
            if want is not None and reg.rule == RECORDED and reg.after == want:
                c.replayed_equal += 1


# --------------------------------------------------------------------------- FlagScale's own bumps

FLAGSCALE = Path(os.environ.get("FSPATCH_FLAGSCALE_MIRROR", "/work/.mirror/FlagOpen+FlagScale/repo"))
MEGATRON = Path(os.environ.get("FSPATCH_MEGATRON_MIRROR", "/work/.mirror/NVIDIA+Megatron-LM/repo"))
FS_PATCHES = "flagscale/backends/Megatron-LM/"
FS_PIN = "third_party/Megatron-LM"


def _git(gitdir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], capture_output=True, check=True).stdout


def _apply_one(repo: GitRepo, path: str, data: bytes | None, patch_text: bytes) -> bytes | None:
    """One FlagScale per-file patch applied to one upstream file (None: it does not apply)."""
    tree = repo.update_tree(repo.empty_tree(), {path: Entry(repo.write_blob(data), MODE_FILE)} if data else {})
    try:
        new = apply_files(repo, tree, parse_patch(patch_text, path).files)
    except FspatchError:
        return None
    got = repo.read_file(new, path)
    return got[0] if got is not None else None


def run_flagscale(verbose: bool) -> list[tuple[str, Counts]]:
    """FlagScale's Megatron-LM bumps: per-file patches before and after each pin move (the issue's data).

    Every first-parent FlagScale commit that moves the ``third_party/Megatron-LM`` pin is one bump;
    each ``flagscale/backends/Megatron-LM/<path>.patch`` present on both sides is replayed:
    base = the file at the old pin, theirs = base + the old patch, ours = the file at the new pin,
    truth = ours + the patch as the maintainers refreshed it in that commit.  Read-only on the
    two local mirrors (``FSPATCH_FLAGSCALE_MIRROR``, ``FSPATCH_MEGATRON_MIRROR``); objects are
    written to a scratch repository in the cache.
    """
    if not (FLAGSCALE / "HEAD").exists() or not (MEGATRON / "HEAD").exists():
        log("FlagScale / Megatron-LM mirrors not found: FlagScale bumps skipped")
        return []
    work = cache_dir() / "work"
    work.mkdir(parents=True, exist_ok=True)
    gitdir = work / "flagscale-megatron.git"
    repo = GitRepo.open(gitdir) if gitdir.exists() else GitRepo.init(gitdir)
    bumps = _git(FLAGSCALE, "log", "--first-parent", "--format=%H", "HEAD", "--", FS_PIN).decode().split()
    out = []
    for commit in reversed(bumps):

        def pin(rev: str) -> str | None:
            line = _git(FLAGSCALE, "ls-tree", rev, FS_PIN).decode().split()
            return line[2] if len(line) >= 3 else None

        try:
            old_pin, new_pin = pin(f"{commit}^"), pin(commit)
        except subprocess.CalledProcessError:
            continue
        if old_pin is None or new_pin is None:
            continue
        if subprocess.run(
            ["git", f"--git-dir={MEGATRON}", "cat-file", "-e", f"{old_pin}^{{commit}}"], check=False
        ).returncode:
            continue
        names = _git(FLAGSCALE, "ls-tree", "-r", "--name-only", f"{commit}^", "--", FS_PATCHES).decode().splitlines()
        c = Counts()
        t0 = time.perf_counter()
        store_dir = Path(tempfile.mkdtemp())
        store = ResolutionStore(store_dir, "resolutions")
        ladder = Ladder(SAFE, store)
        pending: Pending = []
        for name in names:
            if not name.endswith(".patch"):
                continue
            path = name[len(FS_PATCHES) : -len(".patch")]
            try:
                old_patch = _git(FLAGSCALE, "show", f"{commit}^:{name}")
                new_patch = _git(FLAGSCALE, "show", f"{commit}:{name}")
                base = _git(MEGATRON, "show", f"{old_pin}:{path}")
                ours = _git(MEGATRON, "show", f"{new_pin}:{path}")
            except subprocess.CalledProcessError:
                continue  # a new file, or one upstream deleted, or a patch dropped: no text regions
            theirs = _apply_one(repo, path, base, old_patch)
            truth = _apply_one(repo, path, ours, new_patch)
            if theirs is None or truth is None:
                continue
            c.patches += 1
            got = repo.merge_texts(path, base, ours, theirs, LABELS)
            if got is None or got[0]:
                c.clean += 1
                continue
            c.conflict_patches += 1
            tree = repo.update_tree(repo.empty_tree(), {path: Entry(repo.write_blob(ours), MODE_FILE)})
            try:
                upstreamed = reverse_applies(repo, tree, parse_patch(old_patch, path).files, {})
            except FspatchError:
                upstreamed = False
            if upstreamed:  # the replay would say already upstream: every region is upstream's side
                merged = parse_diff3(got[1], LABELS)
                if merged is not None:
                    c.conflict_files += 1
                    count_upstreamed(c, merged, resolved_regions(merged, truth))
                continue
            compare_file(repo, ladder, c, pending, "flagscale", path, base, ours, theirs, (truth, MODE_FILE), verbose)
        recorded_pass(store_dir, store, pending, c)
        c.seconds = time.perf_counter() - t0
        label = f"FlagScale Megatron-LM {old_pin[:9]} -> {new_pin[:9]}"
        log(
            f"{label}: {c.patches} file patches, {c.conflict_patches} conflicting, {c.regions} regions, "
            f"resolved {c.resolved} (equal {c.equal}, differ {c.differ}, unverified {c.unverified}) {c.by_rule}"
        )
        if c.patches:
            out.append((label, c))
    return out


def run_package(pkg: str, verbose: bool) -> list[tuple[str, Counts]]:
    dirs = download(pkg)
    versions = [v for v in (read_version(d) for d in dirs) if v is not None]
    # One version per upstream release: the newest Debian revision of each.
    by_up: dict[str, Version] = {}
    for v in versions:
        cur = by_up.get(v.upstream)
        if cur is None or dpkg_lt(cur.version, v.version):
            by_up[v.upstream] = v
    chain = sorted(by_up.values(), key=lambda v: v.version)
    import functools

    chain.sort(key=functools.cmp_to_key(lambda a, b: -1 if dpkg_lt(a.version, b.version) else 1))
    if len(chain) < 2:
        return []
    work = cache_dir() / "work"
    work.mkdir(parents=True, exist_ok=True)
    gitdir = work / f"{pkg}.git"
    repo = GitRepo.open(gitdir) if gitdir.exists() else GitRepo.init(gitdir)
    ids_file = work / f"{pkg}.trees.json"
    ids: dict[str, str] = json.loads(ids_file.read_text()) if ids_file.exists() else {}
    for v in chain:
        for tar, strip in ((v.orig, True), (v.debian, False)):
            if str(tar) not in ids:
                log(f"importing {tar.name}")
                ids[str(tar)] = import_tar(repo, tar, strip)
    ids_file.write_text(json.dumps(ids, indent=1))
    out = []
    for old, new in zip(chain, chain[1:], strict=False):
        dropped = Counts()
        with tempfile.TemporaryDirectory() as tmp:
            c = measure_bump(repo, old, new, ids, Path(tmp), verbose, dropped)
        out.append((f"{pkg} {old.upstream} -> {new.upstream}", c))
        DROPPED_ROWS.append((f"{pkg} {old.upstream} -> {new.upstream}", dropped))
        log(
            f"{pkg} {old.upstream} -> {new.upstream}: {c.patches} patches, {c.conflict_patches} conflicting, "
            f"{c.regions} regions, resolved {c.resolved} (equal {c.equal}, differ {c.differ}, "
            f"unverified {c.unverified}) {c.by_rule} in {c.seconds:.1f}s"
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--packages", nargs="*", default=PACKAGES)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--no-flagscale", action="store_true", help="Skip FlagScale's own Megatron-LM bumps.")
    ap.add_argument("--dump", type=Path, help="Write every region (sides, truth, answer) to DIR/regions.jsonl.")
    args = ap.parse_args()
    if args.dump is not None:
        args.dump.mkdir(parents=True, exist_ok=True)
        (args.dump / "regions.jsonl").write_text("")
        DUMP.append(args.dump)
    ensure_sources()
    rows: list[tuple[str, Counts]] = []
    for pkg in args.packages:
        try:
            rows.extend(run_package(pkg, args.verbose))
        except (OSError, subprocess.SubprocessError, FspatchError) as exc:
            log(f"{pkg}: skipped ({exc})")
    fs_rows = [] if args.no_flagscale else run_flagscale(args.verbose)
    total = Counts()
    print(
        "| bump | patches | conflicting patches | files | git's regions | truth known "
        "| resolved | equal | differ | unverified | rules |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, c in rows:
        total.add(c)
        if c.conflict_patches == 0:
            continue
        rules = ", ".join(f"{k} {v}" for k, v in sorted(c.by_rule.items()))
        print(
            f"| {label} | {c.patches} | {c.conflict_patches} | {c.conflict_files} | {c.regions} | {c.truth_known} | "
            f"{c.resolved} | {c.equal} | {c.differ} | {c.unverified} | {rules} |"
        )
    pkgs = {label.split()[0] for label, c in rows if c.regions}
    share = 100.0 * total.equal / total.regions if total.regions else 0.0
    rate = 100.0 * total.replayed_equal / total.recorded if total.recorded else 0.0
    print()
    print(
        f"{len(pkgs)} packages with conflicts, {sum(1 for _, c in rows if c.regions)} bumps: {total.patches} patches "
        f"replayed, {total.conflict_patches} conflicting, {total.regions} regions ({total.truth_known} with a known "
        f"truth); fspatch resolved {total.resolved}: {total.equal} as the maintainers did, {total.differ} differently, "
        f"{total.unverified} unverified; rules {total.by_rule}"
    )
    ok = share >= 25.0 and total.differ == 0 and len(pkgs) >= 8
    print(
        f"TARGET: issue 17 | Debian truth set ({len(pkgs)} packages): git's conflict regions resolved as the "
        f"maintainers did >= 25 %, 0 differently | {share:.1f} % ({total.equal}/{total.regions}), "
        f"{total.differ} differently | {'ok' if ok else 'MISSED'}"
    )
    print(
        f"TARGET: issue 17 | Debian truth set: recorded resolutions replayed on a repeat of the same bump = 100 % | "
        f"{rate:.1f} % ({total.replayed_equal}/{total.recorded}) | "
        f"{'ok' if rate == 100.0 and total.recorded else 'MISSED'}"
    )
    dr = Counts()
    print()
    print("Patches the maintainers dropped (truth = upstream's side where no later patch touches the file):")
    print()
    print(
        "| bump | dropped patches | conflicting | files | git's regions | truth known "
        "| resolved | equal | differ | unverified | rules |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, c in DROPPED_ROWS:
        dr.add(c)
        if c.conflict_patches == 0:
            continue
        rules = ", ".join(f"{k} {v}" for k, v in sorted(c.by_rule.items()))
        print(
            f"| {label} | {c.patches} | {c.conflict_patches} | {c.conflict_files} | {c.regions} | {c.truth_known} | "
            f"{c.resolved} | {c.equal} | {c.differ} | {c.unverified} | {rules} |"
        )
    both = dr.regions + total.regions
    wrong = dr.differ + total.differ
    bshare = 100.0 * (dr.equal + total.equal) / both if both else 0.0
    print()
    print(
        f"dropped patches: {dr.patches} replayed, {dr.conflict_patches} conflicting, {dr.regions} regions "
        f"({dr.truth_known} with a known truth); fspatch resolved {dr.resolved}: {dr.equal} as the maintainers did, "
        f"{dr.differ} differently, {dr.unverified} unverified; rules {dr.by_rule}"
    )
    print(
        f"TARGET: issue 17 | Debian truth set, kept and dropped patches together: regions resolved as the maintainers "
        f"did >= 25 %, 0 differently | {bshare:.1f} % ({dr.equal + total.equal}/{both}), "
        f"{wrong} differently, {dr.unverified + total.unverified} unverified | "
        f"{'ok' if bshare >= 25.0 and not wrong else 'MISSED'}"
    )
    if fs_rows:
        fs = Counts()
        print()
        for label, c in fs_rows:
            fs.add(c)
            rules = ", ".join(f"{k} {v}" for k, v in sorted(c.by_rule.items()))
            print(
                f"| {label} | {c.patches} | {c.conflict_patches} | {c.conflict_files} | {c.regions} | "
                f"{c.truth_known} | {c.resolved} | {c.equal} | {c.differ} | {c.unverified} | {rules} |"
            )
        fshare = 100.0 * fs.equal / fs.regions if fs.regions else 0.0
        frate = 100.0 * fs.replayed_equal / fs.recorded if fs.recorded else 0.0
        fok = fshare >= 25.0 and fs.differ == 0
        print(
            f"TARGET: issue 17 | FlagScale's Megatron-LM bumps ({len(fs_rows)} with per-file patches): "
            f"conflict regions resolved as the maintainers did >= 25 %, 0 differently | "
            f"{fshare:.1f} % ({fs.equal}/{fs.regions}), "
            f"{fs.differ} differently, {fs.unverified} unverified | {'ok' if fok else 'MISSED'}"
        )
        print(
            f"TARGET: issue 17 | FlagScale bumps: recorded resolutions replayed on a repeat = 100 % | "
            f"{frate:.1f} % ({fs.replayed_equal}/{fs.recorded}) | "
            f"{'ok' if frate == 100.0 and fs.recorded else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
