"""``make bench``: run every ``bench/bench_*.py`` and write ``BENCHMARKS.md`` at the repo root.

The peers are installed first (``quilt`` with apt-get when missing; git is assumed).
Each benchmark runs as a subprocess of this same Python; its output is streamed
as it comes and kept for the report.  A failing benchmark does not stop the
others; the run ends with the list of failures (exit 1 if any).

The report starts with a summary table: every line a benchmark prints as
``TARGET: <issue> | <what> | <figure> | ok|MISSED|figure``, plus the issues' targets that
no benchmark reported (shown as not measured).  The load average is recorded at the
start and after each benchmark: the machine may be shared, and load shows up in the figures.

    python bench/run.py                 # all benchmarks
    python bench/run.py apply markers   # only bench_apply.py and bench_markers.py
    python bench/run.py --out FILE      # write the report elsewhere
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

# The targets the issues set: (issue, start of the `what` text a benchmark reports them under).
EXPECTED = [
    ("issue 3", "apply 160 patches on 80k files <= 1.0 s"),
    ("issue 3", "apply 160 patches on 80k files <= 0.35x quilt"),
    ("issue 3", "apply 160 patches: 80k files within 1.5x of 2k"),
    ("issue 4", "check --markers on 500 patches over 5,000 files < 2 s"),
    ("issue 5", "pull-upstream of 70 patches across"),
    ("issue 5", "pull-upstream of 70 patches across"),
    ("issue 17", "Debian truth set ("),
    ("issue 17", "Debian truth set: recorded resolutions"),
    ("issue 15", "random kills: states exactly before or after"),
    ("issue 15", "concurrent verbs: one outcome"),
    ("issue 15", "push -a of a 20000-patch series in linear time"),
    ("issue 13", "pull-upstream of FlagScale's 72 Megatron-LM patches"),
    ("issue 13", "pull-upstream of 160 patches on 80k files"),
    ("issue 14", "fspatch patch on FlagScale's 72 per-file Megatron-LM patches"),
]
TARGET_RE = re.compile(r"^TARGET: ([^|]+?) \| (.+?) \| (.+?) \| (\S.*?)\s*$")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ensure_peers() -> list[str]:
    """Install quilt if missing (git is assumed); returns notes for the report."""
    notes = []
    if shutil.which("git") is None:
        notes.append("git is missing: the git loops cannot run")
    if shutil.which("quilt") is None:
        try:
            from bench_apply import ensure_quilt

            v = ensure_quilt()
        except Exception as exc:  # noqa: BLE001 - report, do not stop
            v = None
            notes.append(f"installing quilt failed: {exc}")
        notes.append(f"quilt installed by bench/run.py: {v}" if v else "quilt could not be installed: its columns are skipped")
    return notes


def _cmd(*args: str) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if out.returncode == 0 and text else "-"


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or "-"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "-"
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if m:
            ram = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        import pygit2

        pygit2_v, libgit2_v = pygit2.__version__, pygit2.LIBGIT2_VERSION
    except Exception:  # noqa: BLE001 - report what we can
        pygit2_v = libgit2_v = "-"
    try:
        from importlib.metadata import version

        fspatch_v = version("fspatch")
    except Exception:  # noqa: BLE001
        fspatch_v = "-"
    commit = _cmd("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = _cmd("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
    quilt = _cmd("quilt", "--version") if shutil.which("quilt") else "not installed"
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("RAM", ram),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("load average at start (1, 5, 15 min)", _load()),
        ("Python", platform.python_version()),
        ("fspatch", f"{fspatch_v} (commit {commit}{' + local changes' if dirty not in ('', '-') else ''})"),
        ("pygit2 / libgit2", f"{pygit2_v} / {libgit2_v}"),
        ("git", _cmd("git", "--version").removeprefix("git version ")),
        ("quilt", quilt),
    ]


def run_one(script: Path) -> tuple[int, str, float]:
    """Run a benchmark, streaming its output (stdout and stderr merged); returns (rc, output, seconds)."""
    print(f"\n=== {script.name} ===", flush=True)
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    rc = proc.wait()
    secs = time.perf_counter() - t0
    print(f"=== {script.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {secs:.0f}s ===", flush=True)
    return rc, "".join(lines), secs


def targets(results: list[tuple[Path, int, str, float, str]]) -> list[tuple[str, str, str, str, str]]:
    """(issue, what, figure, status, benchmark) of every TARGET line, then the expected ones not reported."""
    rows = []
    for script, _rc, text, _secs, _load_after in results:
        for line in text.splitlines():
            m = TARGET_RE.match(line)
            if m:
                rows.append((*m.groups(), script.stem))
    for issue, what in EXPECTED:
        have = sum(1 for r in rows if r[0] == issue and r[1].startswith(what))
        want = sum(1 for i, w in EXPECTED if i == issue and w == what)
        if have < want:
            rows.append((issue, what + " …", "-", "not measured (benchmark failed or skipped)", "-"))
    order = {"issue 3": 0, "issue 4": 1, "issue 5": 2, "issue 13": 3}
    return sorted(rows, key=lambda r: order.get(r[0], 9))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def report(results: list[tuple[Path, int, str, float, str]], info: list[tuple[str, str]], started: dt.datetime,
           notes: list[str]) -> str:
    total = sum(r[3] for r in results)
    rows = targets(results)
    status = {"ok": "ok", "MISSED": "**MISSED**", "figure": "figure (no numeric target)"}
    out = [
        "# Benchmarks",
        "",
        f"Run {started.strftime('%Y-%m-%d %H:%M %Z').strip()} by `make bench` (`bench/run.py`), "
        f"{len(results)} benchmarks in {total / 60:.1f} min. "
        "Figures are whole-process wall times (medians) on the machine below; other load on the machine "
        f"shows up in them: the load average was {info_value(info, 'load average')} at the start and "
        f"{results[-1][4] if results else '-'} at the end (1, 5, 15 min; {os.cpu_count()} cores).",
        "",
        "## Summary",
        "",
        "| issue | target | figure | status | benchmark |",
        "|---|---|---|---|---|",
        *(f"| {i} | {_cell(w)} | {_cell(f)} | {status.get(st, st)} | {b} |" for i, w, f, st, b in rows),
        "",
        *([f"- {n}" for n in notes] + [""] if notes else []),
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info),
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                                  # every bench/bench_*.py, then this file",
        "make bench VENV=/tmp/venv FSPATCH_CACHE=/work/cache   # with an existing venv and sdist cache",
        "python bench/run.py debian real             # some benchmarks only (still writes this file)",
        "python bench/bench_apply.py --help          # one benchmark alone (see bench/README.md)",
        "```",
        "",
        "Downloaded and generated data (the Debian source package and its imported tree, synthetic "
        "upstream trees, patch series, workspaces) is cached under `$FSPATCH_BENCH_DIR` (default "
        "`/tmp/fspatch-bench`); the real vLLM, megatron-core and llama.cpp releases come from "
        "`$FSPATCH_CACHE/upstreams` (`make demo-real` makes them). Nothing of it is committed.",
        "",
    ]
    for script, rc, text, secs, load_after in results:
        status = "ok" if rc == 0 else f"**FAILED** (exit {rc})"
        out += [f"## {script.stem}", "", f"`bench/{script.name}` — {status}, {secs:.0f} s; "
                f"load average after it: {load_after}.", ""]
        doc = _first_line(script)
        if doc:
            out += [doc, ""]
        out += ["```", text.rstrip("\n"), "```", ""]
    return "\n".join(out)


def info_value(info: list[tuple[str, str]], key: str) -> str:
    return next((v for k, v in info if k.startswith(key)), "-")


def _first_line(script: Path) -> str:
    m = re.match(r'\s*"""(.*?)(?:\n|""")', script.read_text(errors="replace"))
    return m.group(1).strip() if m else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help="run only these benchmarks (apply, markers, ...)")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    a = ap.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if a.only:
        wanted = {w.removeprefix("bench_").removesuffix(".py") for w in a.only}
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    if not scripts:
        print("no benchmarks found", file=sys.stderr)
        return 2
    started = dt.datetime.now().astimezone()
    notes = ensure_peers()
    info = machine()
    print("\n".join(f"{k}: {v}" for k, v in info + [("note", n) for n in notes]), flush=True)
    results = []
    for script in scripts:
        rc, text, secs = run_one(script)
        results.append((script, rc, text, secs, _load()))
    a.out.write_text(report(results, info, started, notes))
    failed = [s.name for s, rc, _, _, _ in results if rc != 0]
    total = sum(r[3] for r in results)
    print(f"\nwrote {a.out} ({len(results)} benchmarks, {total:.0f}s)")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
