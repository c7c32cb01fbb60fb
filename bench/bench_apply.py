"""Benchmark: apply a 200-patch series to 2,000-, 20,000- and 80,000-file trees (and 160 for issue 3).

Issue 8's generated scale: the same 200-patch series on trees of 2,000, 20,000 and 80,000
files, fspatch vs ``quilt push -a`` vs a ``git apply --index`` + ``git commit`` loop (the cost
must follow the changed files, not the tree size), and fspatch alone with 10, 100 and 1,000
patches on the 20,000-file tree.

Issue 3's targets, on 80,000 files and 160 patches (the first 160 patches of the same series:
the generated patch stream does not depend on its length), measured for fspatch on 2,000 and
80,000 files and quilt on 80,000 files:
  * ``fspatch apply`` in at most 1.0 s and at most 0.35x the time of ``quilt push -a``;
  * 80,000 files within 1.5x of 2,000 files (the cost follows the patches, not the tree).

What is timed (whole-process wall time of a subprocess, median of --runs runs):
  * fspatch  ``fspatch -C WS apply NAME``: builds every patch commit in memory and
    checks out the top.  Between runs ``fspatch pop -a`` (untimed) puts the
    checkout back on the upstream commit.  The first run writes new objects; later
    runs find the blobs and commits already in the object store (same ids).
  * quilt    ``quilt push -a`` in a plain copy of the upstream tree (QUILT_PATCHES=patches);
    ``quilt pop -a`` (untimed) between runs.
  * git      one ``sh`` loop of ``git apply --index P && git commit -q -m P`` over the
    series in a clone; ``git reset -q --hard v1`` (untimed) between runs.
The git loop runs --git-runs times (default 3: it is the slow one), and any tool whose
runs add up to more than 60 s stops after 3 runs, to keep ``make bench`` within ~20
minutes; the table shows the count.  Peak RSS is the largest maximum resident size of the
timed process over the runs (GNU ``time -f %M``, else ``os.wait4``; for the git loop and
quilt it covers their children too).  Each result is checked: the
fspatch and git checkouts must end on the tree git computes for the series
(``gen_tree.Series.expected_tree_after``).

Data (upstream repos, patches, workspaces, copies) lives under ``$FSPATCH_BENCH_DIR``
(default ``/tmp/fspatch-bench``) and is reused between runs.

    python bench/bench_apply.py                      # the full benchmark (~8 min on 2 cores)
    python bench/bench_apply.py --sizes 2000 --runs 3 --no-scaling
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_tree  # noqa: E402

BACKEND = "up"
SERIES_LEN = 200  # issue 8: the same series on every tree, all three tools
ISSUE3_LEN = 160  # issue 3's figures: fspatch on 2k and 80k, quilt on 80k
SCALING = (10, 100, 1000)  # fspatch alone on the 20k tree


def fspatch_cmd() -> list[str]:
    """The installed ``fspatch``, its package byte-compiled first.

    Why compile: an editable install leaves no ``.pyc`` files, and with
    ``PYTHONDONTWRITEBYTECODE`` set (as some shells and CI images do) every timed run would
    compile fspatch's modules from source -- a cost an installed wheel never pays.
    """
    _byte_compile()
    exe = Path(sys.executable).parent / "fspatch"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "fspatch"]


_COMPILED: list[bool] = []


def _byte_compile() -> None:
    """Write the fspatch package's ``.pyc`` files once per benchmark process (as pip does for a wheel)."""
    if _COMPILED:
        return
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("fspatch")
    if spec is not None and spec.submodule_search_locations:
        for where in spec.submodule_search_locations:
            compileall.compile_dir(where, quiet=1)
    _COMPILED.append(True)


@dataclass
class Measure:
    tree: int
    patches: int
    tool: str
    times: list[float] = field(default_factory=list)
    rss_kb: int = 0
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")


def log(msg: str) -> None:
    print(f"[bench_apply] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.decode(errors='replace')[-2000:]}")
    return out


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def timed(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one subprocess; raises if its exit code is not in `ok`.

    The RSS comes from GNU time (``/usr/bin/time -f %M``) when it is there: a child forked
    straight from this Python inherits its resident size as ``ru_maxrss`` (Linux records the
    parent's high-water mark at exec), so ``os.wait4`` here would report at least this process's
    size.  GNU time forks the command from its own ~2 MiB.  Without it, ``os.wait4`` is used.
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile(prefix="fspatch-rss-") as rss_file:
        full = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file.name, *cmd] if GNU_TIME else cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(full, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode not in ok:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err.read().decode(errors='replace')[-2000:]}")
        rss = usage.ru_maxrss
        if GNU_TIME:
            text = Path(rss_file.name).read_text().split()
            rss = int(text[-1]) if text and text[-1].isdigit() else rss
    return dt, rss


BUDGET = 60.0  # seconds per measurement: slow tools stop after MIN_RUNS runs past it
MIN_RUNS = 3


def enough(m: Measure, runs: int) -> bool:
    """Stop at `runs` runs, or earlier (but not before MIN_RUNS) once the budget is spent."""
    return len(m.times) >= runs or (len(m.times) >= MIN_RUNS and sum(m.times) > BUDGET)


def write_series(dst: Path, series: gen_tree.Series, n: int) -> None:
    """dst/ holds exactly the first n patches of the series and a quilt `series` file."""
    dst.mkdir(parents=True, exist_ok=True)
    names = series.patch_names[:n]
    keep = set(names) | {"series"}
    for p in dst.iterdir():
        if p.name not in keep:
            p.unlink()
    for name in names:
        target = dst / name
        if not target.exists():
            shutil.copyfile(series.patches_dir / name, target)
    (dst / "series").write_text("".join(x + "\n" for x in names))


# --------------------------------------------------------------------------- fspatch


class FspatchWS:
    def __init__(self, series: gen_tree.Series) -> None:
        self.series = series
        self.root = gen_tree.bench_dir() / f"ws-f{series.tree.files}-s{series.tree.seed}-g{gen_tree.GEN_VERSION}"
        self.checkout = self.root / "third_party" / BACKEND
        self.n: int | None = None

    def fs(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([*fspatch_cmd(), "-C", str(self.root), *args], check=check)

    def head_tree(self) -> str:
        return gen_tree.git(self.checkout, "rev-parse", "HEAD^{tree}").decode().strip()

    def setup(self) -> None:
        """Made once per tree (kept between benchmark runs); left with nothing applied."""
        upstream_tree = gen_tree.git(self.series.upstream, "rev-parse", f"{gen_tree.TAG}^{{tree}}").decode().strip()
        if self.checkout.exists():
            self.fs("pop", "-a", check=False)
            if self.head_tree() == upstream_tree and not self.dirty():
                return
            log(f"{self.root}: not clean, made again")
        shutil.rmtree(self.root, ignore_errors=True)
        t0 = time.perf_counter()
        run([*fspatch_cmd(), "init", str(self.root)])
        self.fs("backend", "add", BACKEND, "--url", str(self.series.upstream), "--ref", gen_tree.TAG)
        (self.root / "series" / BACKEND).mkdir(parents=True, exist_ok=True)
        log(f"workspace for {self.series.tree.files} files made in {time.perf_counter() - t0:.1f}s")

    def dirty(self) -> bool:
        return bool(gen_tree.git(self.checkout, "status", "--porcelain", "--untracked-files=no").strip())

    def use(self, n: int) -> None:
        self.fs("pop", "-a", check=False)
        write_series(self.root / "series" / BACKEND, self.series, n)
        self.n = n

    def measure(self, runs: int) -> Measure:
        assert self.n is not None
        m = Measure(self.series.tree.files, self.n, "fspatch")
        while not enough(m, runs):
            self.fs("pop", "-a", check=False)
            dt, rss = timed([*fspatch_cmd(), "-q", "-C", str(self.root), "apply", BACKEND])
            m.times.append(dt)
            m.rss_kb = max(m.rss_kb, rss)
        got, want = self.head_tree(), self.series.expected_tree_after(self.n)
        if got != want:
            raise RuntimeError(f"fspatch apply gave tree {got}, git gives {want}")
        self.fs("pop", "-a", check=False)
        return m


# --------------------------------------------------------------------------- quilt


def ensure_quilt() -> str | None:
    """quilt's version, installing the Debian package if missing; None if unavailable."""
    if shutil.which("quilt") is None:
        log("quilt missing: apt-get install -y quilt")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if run(["apt-get", "install", "-y", "quilt"], env=env, check=False).returncode != 0:
            run(["apt-get", "update"], env=env, check=False)
            run(["apt-get", "install", "-y", "quilt"], env=env, check=False)
    if shutil.which("quilt") is None:
        return None
    return run(["quilt", "--version"]).stdout.decode().strip()


def plain_copy(series: gen_tree.Series, kind: str) -> Path:
    """A plain (non-git) copy of the upstream tree at v1, made once per tree."""
    d = gen_tree.bench_dir() / f"{kind}-f{series.tree.files}-s{series.tree.seed}-g{gen_tree.GEN_VERSION}"
    stamp = d / ".fspatch-bench-copy"
    if not stamp.exists():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        t0 = time.perf_counter()
        arch = subprocess.Popen(["git", "-C", str(series.upstream), "archive", gen_tree.TAG], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(d)], stdin=arch.stdout, check=True)
        if arch.wait() != 0:
            raise RuntimeError("git archive failed")
        stamp.write_text("")
        log(f"plain copy of {series.tree.files} files in {time.perf_counter() - t0:.1f}s")
    return d


class Quilt:
    def __init__(self, series: gen_tree.Series) -> None:
        self.series = series
        self.dir = plain_copy(series, "quilt")
        self.env = dict(os.environ, QUILT_PATCHES="patches")
        self.n: int | None = None

    def q(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["quilt", *args], cwd=self.dir, env=self.env, check=check)

    def use(self, n: int) -> None:
        self.q("pop", "-a", "-q", check=False)  # exit 2 when nothing is applied
        write_series(self.dir / "patches", self.series, n)
        self.n = n

    def measure(self, runs: int) -> Measure:
        assert self.n is not None
        m = Measure(self.series.tree.files, self.n, "quilt")
        while not enough(m, runs):
            self.q("pop", "-a", "-q", check=False)
            dt, rss = timed(["quilt", "push", "-a", "-q"], cwd=self.dir, env=self.env)
            m.times.append(dt)
            m.rss_kb = max(m.rss_kb, rss)
        applied = self.q("applied").stdout.decode().split()
        if len(applied) != self.n:
            raise RuntimeError(f"quilt applied {len(applied)} of {self.n} patches")
        self.q("pop", "-a", "-q", check=False)
        return m


# --------------------------------------------------------------------------- git apply + commit loop

_LOOP = 'while read -r p; do git apply --index "$PD/$p" && git commit -q -m "$p" || exit 1; done < "$PD/series"'


class GitLoop:
    def __init__(self, series: gen_tree.Series) -> None:
        self.series = series
        self.dir = gen_tree.bench_dir() / f"git-f{series.tree.files}-s{series.tree.seed}-g{gen_tree.GEN_VERSION}"
        self.patches = self.dir.parent / (self.dir.name + "-patches")
        self.env = gen_tree.git_env()
        self.n: int | None = None
        self.runs = 3
        if not (self.dir / ".git").exists():
            shutil.rmtree(self.dir, ignore_errors=True)
            t0 = time.perf_counter()
            run(["git", "clone", "-q", "--no-checkout", str(series.upstream), str(self.dir)])
            gen_tree.git(self.dir, "checkout", "-q", "--detach", gen_tree.TAG)
            log(f"git clone of {series.tree.files} files in {time.perf_counter() - t0:.1f}s")

    def reset(self) -> None:
        gen_tree.git(self.dir, "reset", "-q", "--hard", gen_tree.TAG)

    def use(self, n: int) -> None:
        write_series(self.patches, self.series, n)
        self.n = n

    def measure(self, runs: int) -> Measure:
        assert self.n is not None
        runs = min(runs, self.runs)
        m = Measure(self.series.tree.files, self.n, "git")
        env = dict(self.env, PD=str(self.patches))
        while not enough(m, runs):
            self.reset()
            dt, rss = timed(["sh", "-c", _LOOP], cwd=self.dir, env=env)
            m.times.append(dt)
            m.rss_kb = max(m.rss_kb, rss)
        got = gen_tree.git(self.dir, "rev-parse", "HEAD^{tree}").decode().strip()
        if got != self.series.expected_tree_after(self.n):
            raise RuntimeError(f"git loop gave tree {got}")
        self.reset()
        return m


# --------------------------------------------------------------------------- report


def fmt_table(ms: list[Measure]) -> str:
    rows = [("files", "patches", "tool", "median s", "min s", "max s", "runs", "peak RSS MiB")]
    for m in ms:
        if m.times:
            rows.append((
                f"{m.tree:,}", f"{m.patches:,}", m.tool, f"{m.median:.3f}", f"{min(m.times):.3f}",
                f"{max(m.times):.3f}", str(len(m.times)), f"{m.rss_kb / 1024:.0f}",
            ))
        else:
            rows.append((f"{m.tree:,}", f"{m.patches:,}", m.tool, "-", "-", "-", "0", m.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.rjust(w) if i in (0, 1, 3, 4, 5, 6, 7) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def find(ms: list[Measure], tree: int, patches: int, tool: str) -> Measure | None:
    for m in ms:
        if (m.tree, m.patches, m.tool) == (tree, patches, tool) and m.times:
            return m
    return None


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def target(issue: str, what: str, figure: str, ok: bool | None) -> str:
    """A line bench/run.py collects into BENCHMARKS.md's summary table."""
    return f"TARGET: {issue} | {what} | {figure} | {'figure' if ok is None else verdict(ok)}"


def summary(ms: list[Measure], sizes: list[int]) -> str:
    out = []
    for n in sizes:
        f, q, g = (find(ms, n, SERIES_LEN, t) for t in ("fspatch", "quilt", "git"))
        if f and q:
            out.append(f"{n:>7,} files, {SERIES_LEN} patches: fspatch/quilt = {f.median / q.median:.2f}x")
        if f and g:
            out.append(f"{n:>7,} files, {SERIES_LEN} patches: fspatch/git   = {f.median / g.median:.2f}x")
    small, big = find(ms, min(sizes), SERIES_LEN, "fspatch"), find(ms, max(sizes), SERIES_LEN, "fspatch")
    if small and big and small is not big:
        out.append(f"fspatch({max(sizes):,}) / fspatch({min(sizes):,}), {SERIES_LEN} patches = {big.median / small.median:.2f}x")
    out.append("")
    # Issue 8: the generated scale, as figures (the issue sets no number; the 1.5x bound is issue 3's).
    f2, f20, f80 = (find(ms, n, SERIES_LEN, "fspatch") for n in (2_000, 20_000, 80_000))
    if f2 and f20 and f80:
        r = f80.median / f2.median
        out.append(target("issue 8", f"apply {SERIES_LEN} patches on 2k / 20k / 80k files (cost follows changed files: 80k within 1.5x of 2k)",
                          f"{f2.median:.3f} / {f20.median:.3f} / {f80.median:.3f} s; 80k/2k = {r:.2f}x", r <= 1.5))
    for tool in ("quilt", "git"):
        o = [find(ms, n, SERIES_LEN, tool) for n in (2_000, 20_000, 80_000)]
        fs = [f2, f20, f80]
        if all(o) and all(fs):
            out.append(target("issue 8", f"apply {SERIES_LEN} patches on 2k / 20k / 80k files, fspatch vs {tool}",
                              " / ".join(f"{a.median / b.median:.2f}x" for a, b in zip(fs, o)), None))  # type: ignore[union-attr]
    sc = [find(ms, 20_000, n, "fspatch") for n in (10, 100, 1000)]
    if all(sc):
        out.append(target("issue 8", "apply 10 / 100 / 1,000 patches on 20k files",
                          " / ".join(f"{m.median:.3f} s" for m in sc), None))  # type: ignore[union-attr]
    big_rss = max((m.rss_kb for m in ms if m.tool == "fspatch"), default=0)
    if big_rss:
        out.append(target("issue 8", "peak RSS of fspatch apply (largest of this benchmark)", f"{big_rss / 1024:.0f} MiB", None))
    # Issue 3's targets, on the first 160 patches.
    f80, q80, f2 = find(ms, 80_000, ISSUE3_LEN, "fspatch"), find(ms, 80_000, ISSUE3_LEN, "quilt"), find(ms, 2_000, ISSUE3_LEN, "fspatch")
    if f80:
        out.append(target("issue 3", "apply 160 patches on 80k files <= 1.0 s", f"{f80.median:.3f} s", f80.median <= 1.0))
    if f80 and q80:
        r = f80.median / q80.median
        out.append(target("issue 3", "apply 160 patches on 80k files <= 0.35x quilt push -a",
                          f"{r:.2f}x ({f80.median:.3f} s vs {q80.median:.3f} s)", r <= 0.35))
    if f80 and f2:
        r = f80.median / f2.median
        out.append(target("issue 3", "apply 160 patches: 80k files within 1.5x of 2k files",
                          f"{r:.2f}x ({f80.median:.3f} s vs {f2.median:.3f} s)", r <= 1.5))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="2000,20000,80000", help="tree sizes, comma separated")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tools", default="fspatch,quilt,git")
    ap.add_argument("--git-runs", type=int, default=3, help="runs of the (slow) git loop")
    ap.add_argument("--no-scaling", action="store_true", help="skip fspatch on 10/100/1,000 patches (20k tree)")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",") if s]
    tools = a.tools.split(",")
    quilt_version = ensure_quilt() if "quilt" in tools else None
    if "quilt" in tools and quilt_version is None:
        log("quilt unavailable: skipped")
    print(f"fspatch: {' '.join(fspatch_cmd())}; quilt: {quilt_version or '-'}; "
          f"{run(['git', '--version']).stdout.decode().strip()}; runs: {a.runs} (median), git loop {a.git_runs}")
    ms: list[Measure] = []
    t_start = time.perf_counter()
    for size in sizes:
        scaling = size == 20_000 and not a.no_scaling and "fspatch" in tools
        series = gen_tree.generate(size, max(SCALING) if scaling else SERIES_LEN, a.seed)
        plan: list = []  # (tool, patches)
        if "fspatch" in tools:
            w = FspatchWS(series)
            w.setup()
            plan.append((w, SERIES_LEN))
            if size in (2_000, 80_000):
                plan.append((w, ISSUE3_LEN))
            if scaling:
                plan += [(w, n) for n in SCALING]
        if "quilt" in tools and quilt_version:
            qt = Quilt(series)
            plan.append((qt, SERIES_LEN))
            if size == 80_000:
                plan.append((qt, ISSUE3_LEN))
        if "git" in tools:
            gl = GitLoop(series)
            gl.runs = a.git_runs
            plan.append((gl, SERIES_LEN))
        for t, n in plan:
            t.use(n)
            log(f"{size:,} files, {n} patches: {type(t).__name__} ...")
            try:
                ms.append(t.measure(a.runs))
            except RuntimeError as exc:
                log(f"FAILED: {exc}")
                ms.append(Measure(size, n, type(t).__name__.lower(), note="failed"))
            log(f"  median {ms[-1].median:.3f}s")
    print()
    print(fmt_table(ms))
    print()
    print(summary(ms, sizes))
    print(f"\n(benchmark took {time.perf_counter() - t_start:.0f}s including data preparation)")
    return 0 if all(m.times for m in ms) else 1


if __name__ == "__main__":
    sys.exit(main())
