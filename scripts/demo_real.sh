#!/usr/bin/env bash
# demo_real.sh — run fspatch on real upstream code: vLLM, Megatron-LM (megatron-core) and llama.cpp.
#
# 1. Downloads release sdists with pip into $FSPATCH_CACHE/sdists (only the missing ones; a second
#    run downloads nothing).
# 2. Imports them with scripts/import_sdist.py into $FSPATCH_CACHE/upstreams/<backend>.git, one
#    commit per release, tagged like the real upstream release (see notes/real-upstreams.md).
# 3. Copies this repo's series/ into a temporary workspace and runs, for each backend:
#      fspatch backend add <b> --url <repo> --ref <tag> --path third_party/<b>
#      fspatch apply <b>
#    then `fspatch status`.  Where fspatch cannot run yet, checks the series with `git apply`
#    on a checkout of the pinned tag instead, and says so; where an fspatch step fails, it runs
#    the same check to tell a tool bug from a series problem, and exits 1.
#
# Environment: FSPATCH_CACHE (default ~/.cache/fspatch), PYTHON (default python3),
# DEMO_BACKENDS (default "vllm megatron llama_cpp"), FSPATCH_KEEP=1 keeps the temp workspace,
# FSPATCH_TORCH_SPEC (default torch==2.13.0: vLLM's sdist needs torch to prepare its metadata).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${FSPATCH_CACHE:-$HOME/.cache/fspatch}
PYTHON=${PYTHON:-python3}
BACKENDS=${DEMO_BACKENDS:-vllm megatron llama_cpp}
TORCH_SPEC=${FSPATCH_TORCH_SPEC:-torch==2.13.0}
SDISTS=$CACHE/sdists
UPSTREAMS=$CACHE/upstreams
mkdir -p "$SDISTS" "$UPSTREAMS"

say() { printf '== %s\n' "$*"; }
die() { printf 'demo_real: error: %s\n' "$*" >&2; exit 2; }

# backend -> "pip-name version file tag [subdir]" lines, oldest first; the first one is pinned.
releases() {
    case $1 in
        vllm)
            echo "vllm 0.9.1 vllm-0.9.1.tar.gz v0.9.1"
            echo "vllm 0.9.2 vllm-0.9.2.tar.gz v0.9.2" ;;
        megatron)
            echo "megatron-core 0.12.0 megatron_core-0.12.0.tar.gz core_v0.12.0"
            echo "megatron-core 0.13.0 megatron_core-0.13.0.tar.gz core_v0.13.0" ;;
        llama_cpp)
            # llama-cpp-python 0.3.8 vendors llama.cpp 7841fc7 = release b4875; the build number
            # of 0.3.9's llama.cpp (8733e0c) is not known, so that tag names the wrapper release.
            echo "llama-cpp-python 0.3.8 llama_cpp_python-0.3.8.tar.gz b4875 vendor/llama.cpp"
            echo "llama-cpp-python 0.3.9 llama_cpp_python-0.3.9.tar.gz llama-cpp-python-v0.3.9 vendor/llama.cpp" ;;
        *) die "unknown backend '$1' (known: vllm megatron llama_cpp)" ;;
    esac
}

vllm_venv() {  # sets VLLM_PY to a python with torch, for vLLM's metadata step
    local venv=$CACHE/vllm-venv
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
        say "creating $venv ($TORCH_SPEC, needed to prepare vLLM's sdist metadata)"
        "$PYTHON" -m venv "$venv"
        "$venv/bin/python" -m pip install -q "$TORCH_SPEC" setuptools-scm packaging wheel jinja2 cmake ninja
    fi
    VLLM_PY=$venv/bin/python
}

# download NAME VERSION FILE: fetch one sdist into $SDISTS unless it is there already.
download() {
    local name=$1 version=$2 file=$3 log url
    [ -f "$SDISTS/$file" ] && return 0
    say "downloading $name $version"
    if [ "$name" != vllm ]; then
        "$PYTHON" -m pip download -q --no-deps --no-binary :all: "$name==$version" -d "$SDISTS"
    else
        # vLLM's metadata step needs torch and VLLM_TARGET_DEVICE=empty; it then reports the
        # version "X+empty" and pip discards the file, so fetch it again by its own URL.
        vllm_venv
        log=$(mktemp)
        VLLM_TARGET_DEVICE=empty "$VLLM_PY" -m pip download --no-deps --no-binary :all: \
            --no-build-isolation "vllm==$version" -d "$SDISTS" >"$log" 2>&1 || true
        if [ ! -f "$SDISTS/$file" ]; then
            url=$(grep -o "https://[^ ]*/$file" "$log" | head -n 1 || true)
            [ -n "$url" ] || { cat "$log" >&2; rm -f "$log"; die "could not download $file"; }
            VLLM_TARGET_DEVICE=empty "$VLLM_PY" -m pip download -q --no-deps --no-build-isolation \
                "vllm @ $url" -d "$SDISTS"
        fi
        rm -f "$log"
    fi
    [ -f "$SDISTS/$file" ] || die "pip did not save $file"
}

prepare() {  # prepare BACKEND: download and import every release of BACKEND
    local b=$1 name version file tag subdir
    while read -r name version file tag subdir; do
        download "$name" "$version" "$file"
        "$PYTHON" "$ROOT/scripts/import_sdist.py" "$UPSTREAMS/$b.git" "$SDISTS/$file" --tag "$tag" \
            ${subdir:+--subdir "$subdir"}
    done < <(releases "$b")
}

pinned_tag() { releases "$1" | head -n 1 | cut -d' ' -f4; }
next_tag() { releases "$1" | sed -n 2p | cut -d' ' -f4; }

check_with_git() {  # check_with_git BACKEND: apply the series with git on the pinned tag
    local b=$1 tag dir p
    tag=$(pinned_tag "$b")
    dir=$WS/git-check/$b
    rm -rf "$dir"
    git clone -q "$UPSTREAMS/$b.git" "$dir"
    git -C "$dir" checkout -q "$tag"
    while read -r p; do
        case $p in ''|'#'*) continue ;; esac
        git -C "$dir" apply --index "$ROOT/series/$b/$p" || { echo "$b: $p does not apply"; return 1; }
        echo "$b: applied $p (git apply)"
    done < "$ROOT/series/$b/series"
}

for b in $BACKENDS; do releases "$b" >/dev/null; done  # unknown names stop here
for b in $BACKENDS; do
    say "upstream $b"
    prepare "$b"
done

WS=$(mktemp -d "${TMPDIR:-/tmp}/fspatch-demo-real.XXXXXX")
if [ "${FSPATCH_KEEP:-0}" = 1 ]; then
    say "workspace kept in $WS"
else
    trap 'rm -rf "$WS"' EXIT
fi

failed=0
if command -v fspatch >/dev/null 2>&1 && fspatch --version >/dev/null 2>&1 \
        && fspatch init "$WS" >/dev/null; then
    say "workspace $WS"
    for b in $BACKENDS; do
        rm -rf "${WS:?}/series/$b"
        mkdir -p "$WS/series"
        cp -R "$ROOT/series/$b" "$WS/series/$b"
        say "fspatch backend add $b"
        if fspatch -C "$WS" backend add "$b" --url "$UPSTREAMS/$b.git" --ref "$(pinned_tag "$b")" \
                --path "third_party/$b" && say "fspatch apply $b" && fspatch -C "$WS" apply "$b"; then
            continue
        fi
        failed=1
        say "fspatch failed on $b: checking its series with git apply, to tell tool from series"
        check_with_git "$b" || true
    done
    say "fspatch status"
    fspatch -C "$WS" status || failed=1
    say "fspatch check (schemas, series, apply, markers, canonical form)"
    fspatch -C "$WS" check || failed=1
    # The upstream bump, as a CI bot runs it: every layer replayed, one report, exit 1 on conflicts
    # (real ones exist: upstream rewrote lines our megatron and llama.cpp patches touch).
    for b in $BACKENDS; do
        say "fspatch pull-upstream $b $(next_tag "$b") --no-stop"
        rc=0
        fspatch -C "$WS" pull-upstream "$b" "$(next_tag "$b")" --no-stop || rc=$?
        [ "$rc" -le 1 ] || failed=1
    done
else
    say "fspatch is not runnable here: checking the series with git apply instead"
    for b in $BACKENDS; do
        check_with_git "$b" || failed=1
    done
fi

if [ "$failed" != 0 ]; then
    echo "demo_real: some steps failed (see above)" >&2
    exit 1
fi
say "done"
