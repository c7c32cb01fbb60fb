"""Benchmark: a real Debian quilt series on its real upstream tree: fspatch vs quilt vs a git loop.

Issue 8's first item.  By default the package is ``linux`` (Debian's kernel: ~165 patches
on ~79,000 files); ``--package python3.11`` (or any source package in 3.0 (quilt) format)
works the same way.

Data (never committed), under ``$FSPATCH_BENCH_DIR/debian`` (default
``/tmp/fspatch-bench/debian``), every step cached:
  1. ``apt-get source --download-only PKG`` (a ``deb-src`` list is written to
     ``/etc/apt/sources.list.d/fspatch-debsrc.list`` first, only if the machine has none,
     copied from its ``deb`` sources; then ``apt-get update``).  When the candidate version
     cannot be fetched (a mirror without the security pool, say) ``PKG/<codename>`` is tried.
  2. The orig tarball is imported, as it is (``.gitignore`` files do not drop anything), as one
     commit of a bare repo ``upstream.git`` tagged ``upstream/<version>`` (``git fast-import``
     fed from Python's ``tarfile``).
  3. Three copies of the upstream: an fspatch workspace (``series/<pkg>/`` = ``debian/patches``
     and its series file), a plain tree for quilt (``patches/`` = ``debian/patches``), a git
     clone for the ``git apply --index`` + ``git commit`` loop.

Then the series is probed: ``quilt push -a`` first; a patch quilt itself refuses is dropped for
every tool and reported.  Then fspatch: a patch fspatch refuses that quilt applied is reported
with fspatch's own message (patch, file, hunk) and dropped for every tool, so the three tools
time the same series (quilt runs GNU patch with fuzz, fspatch never fuzzes).  Same for the
git loop.

What is timed: whole-process wall time, median of --runs (default 5; a tool whose runs add up
to more than 60 s stops after 3), peak RSS by ``os.wait4``:
  * fspatch ``fspatch -q -C WS apply PKG`` (``fspatch pop -a`` between runs, untimed);
  * quilt   ``quilt push -a -q`` (``quilt pop -a`` between runs, untimed);
  * git     one ``sh`` loop of ``git apply --index -pN P && git commit -q -m P``
            (``git reset --hard`` between runs, untimed).
The end trees are compared: fspatch's stack top tree and the git loop's HEAD tree must be the
same id; quilt's files (without ``.pc`` and ``patches``) are hashed into a scratch index
(``git add -A -f``, ``git write-tree``) and must give that id too.

    python bench/bench_debian.py                       # linux, 5 runs
    python bench/bench_debian.py --package python3.11 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_tree  # noqa: E402
from bench_apply import Measure, enough, ensure_quilt, fmt_table, fspatch_cmd, run, timed  # noqa: E402

DEBSRC_LIST = Path("/etc/apt/sources.list.d/fspatch-debsrc.list")
DOWNLOAD_TIMEOUT = 600  # seconds: past this, fall back to the next package
DATE = 1_700_000_000
IDENT = b"Debian Upstream <upstream@debian.invalid> %d +0000\n" % DATE


def log(msg: str) -> None:
    print(f"[bench_debian] {msg}", file=sys.stderr, flush=True)


def data_dir() -> Path:
    return gen_tree.bench_dir() / "debian"


# --------------------------------------------------------------------------- apt


def _has_deb_src() -> bool:
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        if not f.is_file() or f.suffix not in (".list", ".sources", ""):
            continue
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        if f.suffix == ".sources":
            if re.search(r"^Types:.*\bdeb-src\b", text, re.M):
                return True
        elif re.search(r"^\s*deb-src\s", text, re.M):
            return True
    return False


def _deb_lines() -> list[str]:
    """The machine's ``deb`` sources as one-line ``deb-src`` entries (one suite each)."""
    out: list[str] = []
    main = Path("/etc/apt/sources.list")
    if main.is_file():
        for line in main.read_text(errors="replace").splitlines():
            if re.match(r"\s*deb\s", line):
                out.append(re.sub(r"^\s*deb\s", "deb-src ", line))
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*")):
        if f.suffix == ".list":
            for line in f.read_text(errors="replace").splitlines():
                if re.match(r"\s*deb\s", line) and "debian.org" in line:
                    out.append(re.sub(r"^\s*deb\s", "deb-src ", line))
        elif f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", f.read_text(errors="replace")):
                fields = dict(
                    (k.strip(), v.strip())
                    for k, v in (ln.split(":", 1) for ln in stanza.splitlines() if ":" in ln and not ln.startswith("#"))
                )
                if "deb" not in fields.get("Types", "").split() or "debian.org" not in fields.get("URIs", ""):
                    continue
                opt = f"[signed-by={fields['Signed-By']}] " if fields.get("Signed-By", "").startswith("/") else ""
                for uri in fields.get("URIs", "").split():
                    for suite in fields.get("Suites", "").split():
                        out.append(f"deb-src {opt}{uri} {suite} {fields.get('Components', 'main')}")
    return out


def ensure_sources(pkg: str) -> None:
    """Make sure apt knows PKG's source package: a deb-src list if none, then apt-get update."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _has_deb_src():
        lines = _deb_lines()
        if not lines:
            raise RuntimeError("no deb-src and no Debian deb source to copy one from")
        DEBSRC_LIST.write_text(
            "# written by fspatch bench/bench_debian.py: source packages for the Debian series benchmark\n"
            + "".join(x + "\n" for x in lines)
        )
        log(f"wrote {DEBSRC_LIST} ({len(lines)} lines)")
        run(["apt-get", "update", "-q"], env=env, check=False)
    if not run(["apt-cache", "showsrc", pkg], check=False).stdout.strip():
        run(["apt-get", "update", "-q"], env=env, check=False)


def _dsc_fields(dsc: Path) -> tuple[str, list[str]]:
    text = dsc.read_text(errors="replace")
    version = re.search(r"^Version:\s*(\S+)", text, re.M).group(1)  # type: ignore[union-attr]
    files = re.search(r"^Files:\s*\n((?:[ \t].*\n?)+)", text, re.M)
    names = [ln.split()[-1] for ln in files.group(1).splitlines() if ln.strip()] if files else []
    return version, names


def download(pkg: str) -> dict:
    """``apt-get source --download-only PKG`` into data_dir()/PKG, once; returns its meta."""
    dest = data_dir() / pkg
    done = dest / "download.json"
    if done.exists():
        return json.loads(done.read_text())
    dest.mkdir(parents=True, exist_ok=True)
    ensure_sources(pkg)
    codename = ""
    try:
        codename = re.search(r"^VERSION_CODENAME=(\S+)", Path("/etc/os-release").read_text(), re.M).group(1)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    t0 = time.perf_counter()
    for spec in [pkg] + ([f"{pkg}/{codename}"] if codename else []):
        for f in dest.glob("*.dsc"):
            f.unlink()
        log(f"apt-get source --download-only {spec} ...")
        try:
            out = subprocess.run(["apt-get", "source", "--download-only", spec], cwd=dest, capture_output=True,
                                 timeout=DOWNLOAD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"apt-get source {spec} took more than {DOWNLOAD_TIMEOUT}s") from None
        dscs = sorted(dest.glob("*.dsc"))
        if out.returncode == 0 and dscs:
            break
        log(f"  failed: {out.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    else:
        raise RuntimeError(f"apt-get source {pkg} failed")
    version, names = _dsc_fields(dscs[0])
    origs = [n for n in names if re.search(r"\.orig\.tar\.", n)]
    components = [n for n in names if re.search(r"\.orig-[^.]+\.tar\.", n)]
    debs = [n for n in names if re.search(r"\.debian\.tar\.", n)]
    if len(origs) != 1 or len(debs) != 1:
        raise RuntimeError(f"{dscs[0].name}: not a 3.0 (quilt) source with one orig tarball ({names})")
    size = sum((dest / n).stat().st_size for n in names)
    meta = {"package": pkg, "version": version, "dsc": dscs[0].name, "orig": origs[0], "debian": debs[0],
            "components": components, "bytes": size, "seconds": round(time.perf_counter() - t0, 1)}
    done.write_text(json.dumps(meta, indent=1))
    log(f"downloaded {pkg} {version}: {size / 1e6:.0f} MB in {meta['seconds']}s")
    return meta


# --------------------------------------------------------------------------- upstream repo


def import_orig(dest: Path, meta: dict) -> tuple[Path, str, int]:
    """The orig tarball as one commit of dest/upstream.git tagged upstream/<version>: (repo, tag, files)."""
    repo = dest / "upstream.git"
    upstream_version = meta["version"].split(":", 1)[-1].rsplit("-", 1)[0]
    tag = f"upstream/{upstream_version}"
    done = dest / "import.json"
    if done.exists() and json.loads(done.read_text()).get("orig") == meta["orig"]:
        return repo, tag, json.loads(done.read_text())["files"]
    shutil.rmtree(repo, ignore_errors=True)
    t0 = time.perf_counter()
    gen_tree.git(dest, "init", "-q", "--bare", str(repo))
    gen_tree.git(repo, "config", "gc.auto", "0")
    s = gen_tree._Stream(repo)
    marks: dict[str, tuple[str, int]] = {}  # path -> (mode, mark)
    mark = 0
    with tarfile.open(dest / meta["orig"], "r|*") as tar:
        for m in tar:
            parts = m.name.split("/", 1)
            if len(parts) < 2 or not parts[1]:
                continue
            path = parts[1].rstrip("/")
            if m.isreg():
                data = tar.extractfile(m).read()  # type: ignore[union-attr]
                mode = "100755" if m.mode & 0o111 else "100644"
            elif m.issym():
                data, mode = m.linkname.encode(), "120000"
            elif m.islnk():
                target = m.linkname.split("/", 1)[-1]
                if target in marks:
                    marks[path] = marks[target]
                continue
            else:
                continue
            mark += 1
            s.write(b"blob\nmark :%d\n" % mark)
            s.data(data)
            marks[path] = (mode, mark)
    s.write(b"commit refs/heads/upstream\nmark :%d\nauthor %scommitter %s" % (mark + 1, IDENT, IDENT))
    s.data(f"Import {meta['orig']}\n".encode())
    for path, (mode, mk) in sorted(marks.items()):
        s.write(b"M %s :%d %s\n" % (mode.encode(), mk, path.encode()))
    s.write(b"\nreset refs/tags/" + tag.encode() + b"\nfrom :%d\n\n" % (mark + 1))
    s.close()
    gen_tree.git(repo, "symbolic-ref", "HEAD", "refs/heads/upstream")
    done.write_text(json.dumps({"orig": meta["orig"], "files": len(marks), "tag": tag}))
    log(f"imported {meta['orig']}: {len(marks):,} files in {time.perf_counter() - t0:.1f}s")
    return repo, tag, len(marks)


def extract_debian(dest: Path, meta: dict) -> Path:
    """debian/ of the package (its patches and series); returns the patches directory."""
    out = dest / "debian-src"
    stamp = out / ".done"
    if not stamp.exists() or stamp.read_text() != meta["debian"]:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        with tarfile.open(dest / meta["debian"]) as tar:
            tar.extractall(out, filter="data")
        stamp.write_text(meta["debian"])
    patches = out / "debian" / "patches"
    if not (patches / "series").is_file():
        raise RuntimeError(f"{meta['debian']}: no debian/patches/series")
    return patches


def read_series(patches: Path) -> list[tuple[str, int]]:
    """(name, strip level) of each patch of debian/patches/series (``debian.series`` if present)."""
    f = patches / "debian.series" if (patches / "debian.series").is_file() else patches / "series"
    out = []
    for line in f.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if not line:
            continue
        name, *opts = line.split()
        strip = 1
        for o in opts:
            m = re.fullmatch(r"-p(\d+)", o)
            if not m:
                raise RuntimeError(f"series option {o!r} for {name} not handled")
            strip = int(m.group(1))
        out.append((name, strip))
    return out


def series_text(series: list[tuple[str, int]]) -> str:
    return "".join(n + ("" if s == 1 else f" -p{s}") + "\n" for n, s in series)


def copy_patches(src: Path, dst: Path, series: list[tuple[str, int]]) -> None:
    """dst/ = the series' patch files (sub-directories kept) and a series file listing `series`."""
    for name, _ in series:
        t = dst / name
        if not t.exists():
            t.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / name, t)
    (dst / "series").write_text(series_text(series))


# --------------------------------------------------------------------------- the three tools


class Fspatch:
    tool = "fspatch"

    def __init__(self, dest: Path, backend: str, repo: Path, tag: str, patches: Path) -> None:
        self.root, self.backend, self.patches = dest / "ws", backend, patches
        self.checkout = self.root / "third_party" / backend
        if not (self.root / ".made").exists():
            shutil.rmtree(self.root, ignore_errors=True)
            t0 = time.perf_counter()
            run([*fspatch_cmd(), "init", str(self.root)])
            run([*fspatch_cmd(), "-C", str(self.root), "backend", "add", backend, "--url", str(repo), "--ref", tag])
            (self.root / ".made").write_text("")
            log(f"fspatch workspace made in {time.perf_counter() - t0:.1f}s")
        self.reset()

    def reset(self) -> None:
        run([*fspatch_cmd(), "-q", "-C", str(self.root), "pop", "-a"], check=False)

    def use(self, series: list[tuple[str, int]]) -> None:
        self.reset()
        copy_patches(self.patches, self.root / "series" / self.backend, series)

    def cmd(self) -> tuple[list[str], Path | None, dict | None]:
        return [*fspatch_cmd(), "-q", "-C", str(self.root), "apply", self.backend], None, None

    def probe(self) -> tuple[bool, str]:
        self.reset()
        out = run([*fspatch_cmd(), "-C", str(self.root), "apply", self.backend], check=False)
        return out.returncode == 0, (out.stdout + out.stderr).decode(errors="replace")

    def locate(self, series: list[tuple[str, int]]) -> str | None:
        """The patch an apply failure is about, when the message names none: push one at a time."""
        self.reset()
        for name, _ in series:
            out = run([*fspatch_cmd(), "-q", "-C", str(self.root), "push", "-b", self.backend], check=False)
            if out.returncode != 0:
                self.reset()
                return name
        self.reset()
        return None

    def tree(self) -> str:
        return gen_tree.git(self.checkout, "rev-parse", "HEAD^{tree}").decode().strip()


class Quilt:
    tool = "quilt"

    def __init__(self, dest: Path, repo: Path, tag: str, patches: Path) -> None:
        self.dir, self.patches = dest / "quilt", patches
        self.env = dict(os.environ, QUILT_PATCHES="patches", QUILT_PC=".pc")
        stamp = self.dir / ".fspatch-bench-copy"
        if not stamp.exists() or stamp.read_text() != tag:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True)
            t0 = time.perf_counter()
            arch = subprocess.Popen(["git", "-C", str(repo), "archive", tag], stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", str(self.dir)], stdin=arch.stdout, check=True)
            if arch.wait() != 0:
                raise RuntimeError("git archive failed")
            stamp.write_text(tag)
            log(f"plain copy for quilt in {time.perf_counter() - t0:.1f}s")
        self.reset()

    def q(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["quilt", *args], cwd=self.dir, env=self.env, check=check)

    def reset(self) -> None:
        if (self.dir / ".pc").exists():
            self.q("pop", "-a", "-q", check=False)

    def use(self, series: list[tuple[str, int]]) -> None:
        self.reset()
        (self.dir / "patches").mkdir(exist_ok=True)
        copy_patches(self.patches, self.dir / "patches", series)

    def cmd(self) -> tuple[list[str], Path | None, dict | None]:
        return ["quilt", "push", "-a", "-q"], self.dir, self.env

    def probe(self) -> tuple[bool, str, str | None]:
        """Push everything; (ok, output, name of the patch quilt stopped on)."""
        self.reset()
        out = self.q("push", "-a", check=False)
        text = (out.stdout + out.stderr).decode(errors="replace")
        if out.returncode == 0:
            return True, text, None
        top = self.q("top", check=False).stdout.decode().strip()
        nxt = self.q("next", check=False).stdout.decode().strip()
        return False, text, (nxt or top).removeprefix("patches/")

    def tree(self, git_dir: Path) -> str:
        """quilt's files, hashed into a scratch index of git_dir's repo (objects may be written)."""
        index = self.dir.parent / "quilt-check.index"
        index.unlink(missing_ok=True)
        env = dict(gen_tree.git_env(), GIT_INDEX_FILE=str(index), GIT_DIR=str(git_dir), GIT_WORK_TREE=str(self.dir))
        subprocess.run(["git", "add", "-A", "-f", "--", ".", ":(exclude).pc", ":(exclude)patches",
                        ":(exclude).fspatch-bench-copy"], cwd=self.dir, env=env, check=True, capture_output=True)
        out = subprocess.run(["git", "write-tree"], cwd=self.dir, env=env, check=True, capture_output=True)
        index.unlink(missing_ok=True)
        return out.stdout.decode().strip()


_LOOP = ('while read -r p s; do git apply --index "$s" "$PD/$p" && git commit -q --no-verify -m "$p" '
         '|| { echo "FAILED $p" >&2; exit 1; }; done < "$PD/series.git"')


class GitLoop:
    tool = "git"

    def __init__(self, dest: Path, repo: Path, tag: str, patches: Path) -> None:
        self.dir, self.pd, self.tag, self.patches = dest / "git", dest / "git-patches", tag, patches
        self.env = dict(gen_tree.git_env(), PD=str(self.pd))
        if not (self.dir / ".git").exists():
            t0 = time.perf_counter()
            run(["git", "clone", "-q", "--no-checkout", str(repo), str(self.dir)])
            gen_tree.git(self.dir, "checkout", "-q", "--detach", tag)
            log(f"git clone in {time.perf_counter() - t0:.1f}s")
        self.reset()

    def reset(self) -> None:
        gen_tree.git(self.dir, "reset", "-q", "--hard", self.tag)

    def use(self, series: list[tuple[str, int]]) -> None:
        self.reset()
        self.pd.mkdir(exist_ok=True)
        copy_patches(self.patches, self.pd, series)
        (self.pd / "series.git").write_text("".join(f"{n} -p{s}\n" for n, s in series))

    def cmd(self) -> tuple[list[str], Path | None, dict | None]:
        return ["sh", "-c", _LOOP], self.dir, self.env

    def probe(self) -> tuple[bool, str, str | None, tuple[float, int] | None]:
        """One timed run of the loop: (ok, output, patch it stopped on, (seconds, RSS KiB) when ok).

        A successful probe is the first timed run: the loop is slow on a big tree."""
        self.reset()
        cmd, cwd, env = self.cmd()
        try:
            return True, "", None, timed(cmd, cwd=cwd, env=env)
        except RuntimeError as exc:
            text = str(exc)
        m = re.search(r"FAILED (\S+)", text)
        return False, text, m.group(1) if m else None, None

    def tree(self) -> str:
        return gen_tree.git(self.dir, "rev-parse", "HEAD^{tree}").decode().strip()


def measure(t, runs: int, files: int, patches: int, first: tuple[float, int] | None = None) -> Measure:
    m = Measure(files, patches, t.tool)
    if first:
        m.times.append(first[0])
        m.rss_kb = first[1]
        log(f"  {t.tool} run 1 (the probe): {first[0]:.3f}s")
    while not enough(m, runs):
        t.reset()
        cmd, cwd, env = t.cmd()
        dt, rss = timed(cmd, cwd=cwd, env=env)
        m.times.append(dt)
        m.rss_kb = max(m.rss_kb, rss)
        log(f"  {t.tool} run {len(m.times)}: {dt:.3f}s")
    return m


def _first_failure(text: str, series: list[tuple[str, int]]) -> str | None:
    """The series patch named in fspatch's failure message."""
    names = [n for n, _ in series]
    hits = [(text.find(n), n) for n in names if n in text]
    return min(hits)[1] if hits else None


# --------------------------------------------------------------------------- main


def bench(pkg: str, runs: int, tools: list[str]) -> int:
    t_start = time.perf_counter()
    meta = download(pkg)
    dest = data_dir() / pkg
    repo, tag, files = import_orig(dest, meta)
    patches = extract_debian(dest, meta)
    full = read_series(patches)
    backend = re.sub(r"[^a-z0-9_]", "_", pkg.lower())
    print(f"package: {pkg} {meta['version']} ({meta['dsc']}; {meta['bytes'] / 1e6:.0f} MB of source archives)")
    print(f"upstream tree: {meta['orig']} -> {files:,} files (one commit, tag {tag})")
    print(f"series: debian/patches/series, {len(full)} patches"
          f"{'; strip levels ' + str(sorted({s for _, s in full})) if any(s != 1 for _, s in full) else ', all -p1'}")
    if meta["components"]:
        print(f"note: orig component tarballs not imported: {', '.join(meta['components'])}")
    quilt_version = ensure_quilt() if "quilt" in tools else None

    # Probe: quilt first (what Debian's own tooling accepts), then fspatch, then git.
    series = list(full)
    dropped: list[tuple[str, str, str]] = []  # (patch, tool that refused it, message)
    q = Quilt(dest, repo, tag, patches) if quilt_version else None
    if q:
        for _ in range(len(full)):
            q.use(series)
            ok, text, bad = q.probe()
            if ok:
                break
            if bad is None or bad not in [n for n, _ in series]:
                raise RuntimeError(f"quilt push -a failed and the patch is unknown:\n{text[-2000:]}")
            dropped.append((bad, "quilt", text.strip().splitlines()[-3:] and " / ".join(text.strip().splitlines()[-3:])))
            series = [x for x in series if x[0] != bad]
            log(f"quilt refuses {bad}: dropped")
    f = Fspatch(dest, backend, repo, tag, patches) if "fspatch" in tools else None
    if f:
        for _ in range(len(full)):
            f.use(series)
            ok, text = f.probe()
            if ok:
                break
            bad = _first_failure(text, series) or f.locate(series)
            if bad is None:
                raise RuntimeError(f"fspatch apply failed:\n{text[-3000:]}")
            dropped.append((bad, "fspatch", text.strip()))
            series = [x for x in series if x[0] != bad]
            log(f"fspatch refuses {bad}: dropped")
    g = GitLoop(dest, repo, tag, patches) if "git" in tools else None
    git_first = None
    if g:
        for _ in range(len(full)):
            g.use(series)
            ok, text, bad, git_first = g.probe()
            if ok:
                break
            if bad is None:
                raise RuntimeError(f"git loop failed:\n{text[-3000:]}")
            dropped.append((bad, "git", text.strip()))
            series = [x for x in series if x[0] != bad]
            log(f"git apply refuses {bad}: dropped")
    if len(series) != len(full):
        # Everyone must time the same series: redo the probes that ran on a longer one.
        if q:
            q.use(series)
            ok, text, _ = q.probe()
            if not ok:
                raise RuntimeError(f"quilt fails on the reduced series:\n{text[-2000:]}")
        if f:
            f.use(series)
            if not f.probe()[0]:
                raise RuntimeError("fspatch fails on the reduced series")
    print(f"timed series: {len(series)} of {len(full)} patches")
    if dropped:
        print("patches dropped (refused by a tool; the first tool to refuse is named):")
        for name, tool, text in dropped:
            print(f"  - {name}: refused by {tool}")
            for line in text.splitlines()[-6:]:
                print(f"      {line}")
    else:
        print("no patch dropped: all three tools apply the whole series")

    # Same result from every tool (quilt's files hashed into the git clone, so `git diff` can compare).
    odb = g.dir / ".git" if g else repo
    quilt_tree = q.tree(odb) if q else None
    trees = {}
    if f:
        trees["fspatch"] = f.tree()
    if g:
        trees["git"] = g.tree()
    if quilt_tree:
        trees["quilt"] = quilt_tree
    same = len(set(trees.values())) <= 1
    print("end trees: " + ", ".join(f"{k} {v[:12]}" for k, v in trees.items())
          + ("  (identical)" if same else "  DIFFERENT"))
    if not same and g and q:
        a, b = trees["git"], trees["quilt"]
        diff = gen_tree.git(g.dir, "diff", "--stat=200", "--summary", a, b).decode(errors="replace")
        print("  git diff --stat --summary <git loop's tree> <quilt's tree>:\n" + "\n".join("    " + ln for ln in diff.splitlines()[-20:]))

    ms: list[Measure] = []
    for t in (f, q, g):
        if t is None:
            continue
        if t is not g:
            t.use(series)
        log(f"timing {t.tool} ...")
        ms.append(measure(t, runs, files, len(series), git_first if t is g else None))
        t.reset()
    print()
    print(fmt_table(ms))
    fm = next((m for m in ms if m.tool == "fspatch"), None)
    print()
    for m in ms:
        if fm and m is not fm:
            print(f"fspatch/{m.tool} = {fm.median / m.median:.2f}x")
    if fm:
        for m in ms:
            if m is not fm:
                print(f"TARGET: issue 8 | Debian {pkg} {meta['version']}: {len(series)} patches on {files:,} files, "
                      f"fspatch vs {m.tool} | {fm.median:.3f} s vs {m.median:.3f} s = {fm.median / m.median:.2f}x | figure")
    print(f"\n(benchmark took {time.perf_counter() - t_start:.0f}s including data preparation)")
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", action="append",
                    help="source package (default: linux, then python3.11 if linux cannot be fetched)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tools", default="fspatch,quilt,git")
    a = ap.parse_args(argv)
    tools = a.tools.split(",")
    for pkg in a.package or ["linux", "python3.11"]:
        try:
            download(pkg)
        except RuntimeError as exc:
            print(f"{pkg}: {exc}; trying the next package")
            continue
        return bench(pkg, a.runs, tools)
    print("no Debian source package could be fetched: skipped")
    return 1


if __name__ == "__main__":
    sys.exit(main())
