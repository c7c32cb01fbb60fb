"""Markers: comment syntaxes, grammar, every check rule, and ``--mark`` wrapping.

Each test names the invariant it pins.  Sources are small but realistic (a vLLM
layer, a torch C++ op, a CUDA kernel and its header) plus one file of each other
comment syntax (CMake, YAML, Markdown, HTML, Lua, SQL, shell).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fspatch.core.markers import (
    C_LIKE,
    DEFAULT_SYNTAXES,
    HASH,
    LUA,
    RULES,
    SQL,
    XML_LIKE,
    CommentSyntax,
    Marker,
    MarkerConfig,
    _diff,
    canonical_marker,
    check_file,
    parse_markers,
    syntax_for,
    wrap_file,
)
from fspatch.core.report import Finding
from fspatch.errors import InputError

CFG = MarkerConfig()
PATCH = "series/vllm/0002-hook.patch"

PY_SRC = b"""\
import torch
from torch import nn


class RowParallelLinear(nn.Module):
    \"\"\"Linear layer with row parallelism.\"\"\"

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.output_size = output_size
        self.weight = nn.Parameter(torch.empty(output_size, input_size))

    def forward(self, input_):
        output = torch.matmul(input_, self.weight.t())
        if self.reduce_results:
            output = tensor_model_parallel_all_reduce(output)
        return output
"""

CPP_SRC = b"""\
#include <torch/all.h>
#include <ATen/cuda/CUDAContext.h>

namespace vllm {

void rms_norm(torch::Tensor& out, torch::Tensor& input, torch::Tensor& weight,
              double epsilon) {
  TORCH_CHECK(out.is_contiguous());
  int hidden_size = input.size(-1);
  int num_tokens = input.numel() / hidden_size;
  dim3 grid(num_tokens);
  dim3 block(std::min(hidden_size, 1024));
  launch_rms_norm(out, input, weight, epsilon, grid, block);
}

}  // namespace vllm
"""

H_SRC = b"""\
#pragma once

#include <torch/all.h>

namespace vllm {

void rms_norm(torch::Tensor& out, torch::Tensor& input, torch::Tensor& weight,
              double epsilon);

void silu_and_mul(torch::Tensor& out, torch::Tensor& input);

}  // namespace vllm
"""

CU_SRC = b"""\
#include <cuda_runtime.h>

template <typename scalar_t>
__global__ void silu_and_mul_kernel(scalar_t* __restrict__ out,
                                    const scalar_t* __restrict__ input,
                                    const int d) {
  const int64_t token_idx = blockIdx.x;
  for (int64_t idx = threadIdx.x; idx < d; idx += blockDim.x) {
    const scalar_t x = input[token_idx * 2 * d + idx];
    const scalar_t y = input[token_idx * 2 * d + d + idx];
    out[token_idx * d + idx] = silu(x) * y;
  }
}
"""

CMAKE_SRC = b"""\
cmake_minimum_required(VERSION 3.26)
project(vllm_extensions LANGUAGES CXX)

set(VLLM_EXT_SRC
  "csrc/cache_kernels.cu"
  "csrc/layernorm_kernels.cu")

if(VLLM_GPU_LANG STREQUAL "CUDA")
  list(APPEND VLLM_EXT_SRC "csrc/custom_all_reduce.cu")
endif()
"""

YAML_SRC = b"""\
model: meta-llama/Llama-3-8B
serve:
  tensor_parallel_size: 8
  max_model_len: 8192
  gpu_memory_utilization: 0.9
"""

MD_SRC = b"""\
# vLLM

Easy, fast, and cheap LLM serving for everyone.

## Getting started

Install vLLM with `pip install vllm`.
"""

HTML_SRC = b"""\
<html>
  <body>
    <h1>vLLM</h1>
    <p>Easy, fast, and cheap LLM serving.</p>
  </body>
</html>
"""

LUA_SRC = b"""\
local M = {}

function M.setup(opts)
  M.opts = opts or {}
  return M
end

return M
"""

SQL_SRC = b"""\
CREATE TABLE requests (
  id INTEGER PRIMARY KEY,
  prompt TEXT NOT NULL,
  created_at TIMESTAMP
);
"""

SH_SRC = b"""\
#!/usr/bin/env bash
set -euo pipefail

python -m pip install -r requirements-cuda.txt
python setup.py develop
"""


@dataclass(frozen=True)
class Lang:
    """One sample file: where to insert a line, what to insert, and the code's indent there."""

    path: str
    src: bytes
    at: int  # 0-based line index the new line goes before
    new: bytes  # without indentation
    indent: bytes

    @property
    def syntax(self) -> CommentSyntax:
        syntax = syntax_for(self.path, CFG)
        assert syntax is not None
        return syntax

    def lines(self) -> list[bytes]:
        return self.src.split(b"\n")

    def with_lines(self, new_lines: list[bytes]) -> bytes:
        lines = self.lines()
        lines[self.at : self.at] = new_lines
        return b"\n".join(lines)

    def marker(self, kind: str, label: str | None = None) -> bytes:
        return canonical_marker(kind, self.syntax, CFG, indent=self.indent, label=label, eol=b"")  # type: ignore[arg-type]

    def delete_line(self, index: int, replacement: list[bytes] | None = None) -> bytes:
        lines = self.lines()
        lines[index : index + 1] = replacement or []
        return b"\n".join(lines)


LANGS = {
    "python": Lang(
        "vllm/model_executor/layers/linear.py", PY_SRC, 15, b"output = flagscale_scale(output)", b"        "
    ),
    "cpp": Lang("csrc/layernorm.cpp", CPP_SRC, 12, b"maybe_use_vendor_kernel(out, input);", b"  "),
    "header": Lang("csrc/ops.h", H_SRC, 10, b"void vendor_init();", b""),
    "cuda": Lang("csrc/activation_kernels.cu", CU_SRC, 10, b"out[token_idx * d + idx] *= scale;", b"    "),
    "cmake": Lang("CMakeLists.txt", CMAKE_SRC, 9, b'list(APPEND VLLM_EXT_SRC "csrc/mlu_ops.cpp")', b"  "),
    "yaml": Lang("configs/serve.yaml", YAML_SRC, 5, b"device: mlu", b"  "),
    "markdown": Lang("README.md", MD_SRC, 7, b"Install the MLU build with `pip install vllm-mlu`.", b""),
    "html": Lang("docs/index.html", HTML_SRC, 4, b"<p>With FlagScale vendor backends.</p>", b"    "),
    "lua": Lang("plugins/setup.lua", LUA_SRC, 4, b"M.vendor = 'mlu'", b"  "),
    "sql": Lang("db/schema.sql", SQL_SRC, 4, b"device TEXT,", b"  "),
    "shell": Lang("tools/install.sh", SH_SRC, 4, b"python -m pip install -r requirements-mlu.txt", b""),
}
CORE = ["python", "cpp", "header", "cuda"]


def check(lang: Lang, after: bytes, before: bytes | None = None, **kw: object) -> list[Finding]:
    return check_file(
        lang.path,
        lang.src if before is None else before,
        after,
        upstream_has_file=True,
        config=CFG,
        patch=PATCH,
        **kw,  # type: ignore[arg-type]
    )


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


# --------------------------------------------------------------------------- syntax table


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("vllm/attention/layer.py", HASH),
        ("csrc/ops.cpp", C_LIKE),
        ("csrc/ops.cc", C_LIKE),
        ("csrc/ops.cxx", C_LIKE),
        ("csrc/ops.c", C_LIKE),
        ("csrc/ops.h", C_LIKE),
        ("csrc/ops.hpp", C_LIKE),
        ("csrc/ops.hh", C_LIKE),
        ("csrc/attention/attention_kernels.cu", C_LIKE),
        ("csrc/attention/dtype_float16.cuh", C_LIKE),
        ("CMakeLists.txt", HASH),
        ("csrc/CMakeLists.txt", HASH),
        ("cmake/utils.cmake", HASH),
        ("configs/a.yaml", HASH),
        ("configs/a.yml", HASH),
        ("pyproject.toml", HASH),
        ("Makefile", HASH),
        ("docker/Dockerfile", HASH),
        ("Dockerfile.rocm", HASH),
        ("requirements-cuda.txt", HASH),
        ("requirements.txt", HASH),
        ("tools/build.sh", HASH),
        ("README.md", XML_LIKE),
        ("docs/index.html", XML_LIKE),
        ("plugins/setup.lua", LUA),
        ("db/schema.sql", SQL),
    ],
)
def test_syntax_table_covers_the_listed_languages(path: str, expected: CommentSyntax) -> None:
    """Every language the issue lists resolves to its comment syntax."""
    assert syntax_for(path, CFG) == expected


@pytest.mark.parametrize("path", ["vllm/config.json", "LICENSE", "docs/notes.txt", "weights.bin"])
def test_unknown_types_are_not_guessed(path: str) -> None:
    """A file type not in the table has no syntax (reported, never guessed)."""
    assert syntax_for(path, CFG) is None


def test_settings_extend_and_override_the_table() -> None:
    """settings.markers adds globs/extensions, overrides, removes (null), sets tag and exemption."""
    cfg = MarkerConfig.from_settings(
        {
            "markers": {
                "tag": "ACME PATCH",
                "exempt_new_files": False,
                "syntaxes": {
                    ".json5": {"line": "//"},
                    "*.inc": {"line": "//", "block": ["/*", "*/"]},
                    "docs/*.txt": {"line": "#"},
                    ".md": None,
                    ".sql": {"block": ["/*", "*/"]},
                },
            },
            "other": {"ignored": True},
        }
    )
    assert cfg.tag == "ACME PATCH" and cfg.exempt_new_files is False
    assert syntax_for("a/b.json5", cfg) == CommentSyntax(line="//")
    assert syntax_for("csrc/x.inc", cfg) == C_LIKE
    assert syntax_for("docs/notes.txt", cfg) == HASH
    assert syntax_for("other/notes.txt", cfg) is None
    assert syntax_for("README.md", cfg) is None
    assert syntax_for("db/q.sql", cfg) == CommentSyntax(block=("/*", "*/"))
    assert syntax_for("a.py", cfg) == HASH
    # The markers section itself is accepted as well, and no section means defaults.
    assert MarkerConfig.from_settings({"tag": "ACME PATCH"}).tag == "ACME PATCH"
    assert MarkerConfig.from_settings({"backends": {}}) == MarkerConfig()
    assert MarkerConfig.from_settings(None) == MarkerConfig()
    assert dict(MarkerConfig().syntaxes) == dict(DEFAULT_SYNTAXES)


@pytest.mark.parametrize(
    "markers",
    [
        {"tagg": "X"},
        {"tag": ""},
        {"tag": "BAD [TAG]"},
        {"tag": 3},
        {"exempt_new_files": "yes"},
        {"syntaxes": [".py"]},
        {"syntaxes": {".x": {}}},
        {"syntaxes": {".x": {"line": ""}}},
        {"syntaxes": {".x": {"block": ["/*"]}}},
        {"syntaxes": {".x": {"line": "#", "colour": "red"}}},
        "not a mapping",
    ],
)
def test_bad_settings_are_input_errors(markers: object) -> None:
    """A malformed settings.markers is an InputError naming the key (exit code 2)."""
    with pytest.raises(InputError, match=r"settings\.markers"):
        MarkerConfig.from_settings({"markers": markers})


# --------------------------------------------------------------------------- grammar


def kinds(text: bytes, path: str, cfg: MarkerConfig = CFG) -> list[tuple[str, int, str | None, bool]]:
    syntax = syntax_for(path, cfg)
    assert syntax is not None
    return [(m.kind, m.line, m.label, m.legacy) for m in parse_markers(text.split(b"\n"), syntax, cfg)]


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("a.py", b"# --- FLAGSCALE MODIFICATION BEG ---", [("beg", 1, None, False)]),
        ("a.py", b"    # --- FLAGSCALE MODIFICATION END ---\r", [("end", 1, None, False)]),
        ("a.py", b"#---FLAGSCALE MODIFICATION BEG---", [("beg", 1, None, False)]),
        ("a.py", b"#   -----  flagscale   modification  begin  -----  ", [("beg", 1, None, False)]),
        ("a.py", b"# --- FLAGSCALE MODIFICATION BEG [cambricon_mlu] ---", [("beg", 1, "cambricon_mlu", False)]),
        ("a.py", b"x = f(y)  # --- FLAGSCALE MODIFICATION ---", [("single", 1, None, False)]),
        ("a.py", b"x = '#'  # --- FLAGSCALE MODIFICATION [metax] ---", [("single", 1, "metax", False)]),
        ("a.py", b"######### FlagScale Begin #########", [("beg", 1, None, True)]),
        ("a.py", b"    #########  flagscale  END  ###", [("end", 1, None, True)]),
        ("a.cpp", b"  // --- FLAGSCALE MODIFICATION BEG ---", [("beg", 1, None, False)]),
        ("a.cpp", b"  /* --- FLAGSCALE MODIFICATION END --- */", [("end", 1, None, False)]),
        ("a.cu", b"  x = 1;  // --- FLAGSCALE MODIFICATION ---", [("single", 1, None, False)]),
        ("a.cu", b"  x = 1;  /* --- FLAGSCALE MODIFICATION --- */", [("single", 1, None, False)]),
        ("a.h", b"// ######### FlagScale Begin #########", [("beg", 1, None, True)]),
        ("a.h", b"///////// FlagScale End /////////", [("end", 1, None, True)]),
        ("a.h", b"#define X 1 /* --- FLAGSCALE MODIFICATION BEG --- */ \\", [("beg", 1, None, False)]),
        ("a.md", b"<!-- --- FLAGSCALE MODIFICATION BEG --- -->", [("beg", 1, None, False)]),
        ("a.html", b"  <p>x</p> <!-- --- FLAGSCALE MODIFICATION --- -->", [("single", 1, None, False)]),
        ("a.lua", b"-- --- FLAGSCALE MODIFICATION BEG ---", [("beg", 1, None, False)]),
        ("a.sql", b"id INT, -- --- FLAGSCALE MODIFICATION ---", [("single", 1, None, False)]),
        ("a.sql", b"/* --- FLAGSCALE MODIFICATION END --- */", [("end", 1, None, False)]),
        ("CMakeLists.txt", b"  # --- FLAGSCALE MODIFICATION END ---", [("end", 1, None, False)]),
        ("a.yaml", b"# ######### FlagScale End #########", [("end", 1, None, True)]),
        # Not markers: text that merely mentions the tag.
        ("a.py", b'PATTERN = "# --- FLAGSCALE MODIFICATION BEG ---"', []),
        ("a.py", b"# FLAGSCALE MODIFICATIONS are described in docs/", []),
        ("a.py", b"# FlagScale rocks", []),
        ("a.py", b"# FlagScale Beginning of time", []),
        ("a.cpp", b"# --- FLAGSCALE MODIFICATION BEG ---", []),
        ("a.md", b"# --- FLAGSCALE MODIFICATION BEG ---", []),
    ],
)
def test_grammar_reads_every_form(path: str, text: bytes, expected: list[tuple[str, int, str | None, bool]]) -> None:
    """Canonical (flexible spacing/dashes/case, labels), single-line, legacy; in every syntax."""
    assert kinds(text, path) == expected


def test_line_numbers_count_newlines_only() -> None:
    """Form feeds and other separators that str.splitlines() honours do not shift lines."""
    text = (
        b"int a;\f\nint b;\x0b\x1c\n// --- FLAGSCALE MODIFICATION BEG ---\nx\n// --- FLAGSCALE MODIFICATION END ---\n"
    )
    assert kinds(text, "k.cu") == [("beg", 3, None, False), ("end", 5, None, False)]


def test_configured_tag_word() -> None:
    """The tag word comes from the workspace; the legacy FlagScale style is still read."""
    cfg = MarkerConfig(tag="ACME PATCH")
    text = (
        b"# --- ACME PATCH BEG ---\n"
        b"# --- FLAGSCALE MODIFICATION END ---\n"
        b"#### FlagScale End ####\n"
        b"x  # -- acme patch --\n"
    )
    assert kinds(text, "a.py", cfg) == [("beg", 1, None, False), ("end", 3, None, True), ("single", 4, None, False)]
    syntax = syntax_for("a.py", cfg)
    assert syntax is not None
    assert canonical_marker("end", syntax, cfg) == b"# --- ACME PATCH END ---\n"


def test_canonical_marker_forms() -> None:
    """New markers are written in one canonical form, line comments first, blocks if needed."""
    assert canonical_marker("beg", HASH, CFG) == b"# --- FLAGSCALE MODIFICATION BEG ---\n"
    assert (
        canonical_marker("end", C_LIKE, CFG, indent=b"  ", eol=b"\r\n")
        == b"  // --- FLAGSCALE MODIFICATION END ---\r\n"
    )
    assert (
        canonical_marker("beg", C_LIKE, CFG, label="cambricon_mlu", eol=b"")
        == b"// --- FLAGSCALE MODIFICATION BEG [cambricon_mlu] ---"
    )
    assert canonical_marker("beg", XML_LIKE, CFG, eol=b"") == b"<!-- --- FLAGSCALE MODIFICATION BEG --- -->"
    assert canonical_marker("single", LUA, CFG, eol=b"") == b"-- --- FLAGSCALE MODIFICATION ---"
    with pytest.raises(InputError):
        canonical_marker("beg", HASH, CFG, label="bad]label")


@pytest.mark.parametrize("name", sorted(LANGS))
def test_canonical_markers_parse_back(name: str) -> None:
    """What fspatch writes, fspatch reads back with the same kind, label and indent."""
    lang = LANGS[name]
    lines = [lang.marker("beg", "vendor_x"), lang.marker("end"), b"code " + lang.marker("single").lstrip()]
    got = parse_markers(lines, lang.syntax, CFG)
    assert [(m.kind, m.label, m.indent) for m in got] == [
        ("beg", "vendor_x", lang.indent),
        ("end", None, lang.indent),
        ("single", None, b""),
    ]


# --------------------------------------------------------------------------- rules, every syntax


@pytest.mark.parametrize("name", sorted(LANGS))
def test_unmarked_insertion_is_reported_at_its_line(name: str) -> None:
    """unmarked-change: an added line outside any region, with its line in the patched file."""
    lang = LANGS[name]
    findings = check(lang, lang.with_lines([lang.indent + lang.new]))
    assert [(f.rule, f.line, f.file, f.patch) for f in findings] == [("unmarked-change", lang.at + 1, lang.path, PATCH)]


@pytest.mark.parametrize("name", sorted(LANGS))
def test_fenced_insertion_passes(name: str) -> None:
    """A BEG/END pair around the added code satisfies the check, labelled or not."""
    lang = LANGS[name]
    assert check(lang, lang.with_lines([lang.marker("beg"), lang.indent + lang.new, lang.marker("end")])) == []
    assert (
        check(lang, lang.with_lines([lang.marker("beg", "mlu"), lang.indent + lang.new, lang.marker("end", "mlu")]))
        == []
    )


@pytest.mark.parametrize("name", sorted(LANGS))
def test_single_line_form_passes(name: str) -> None:
    """The trailing single-line marker fences exactly its own line."""
    lang = LANGS[name]
    single = lang.marker("single").lstrip()
    assert check(lang, lang.with_lines([lang.indent + lang.new + b"  " + single])) == []
    two = check(lang, lang.with_lines([lang.indent + lang.new + b"  " + single, lang.indent + lang.new + b"2"]))
    assert [(f.rule, f.line) for f in two] == [("unmarked-change", lang.at + 2)]


@pytest.mark.parametrize("name", sorted(LANGS))
def test_pure_deletion_needs_a_marker_pair(name: str) -> None:
    """unmarked-deletion unless an (empty) BEG/END pair stays at the place of the removed line."""
    lang = LANGS[name]
    index = lang.at - 1
    assert lang.lines()[index].strip()
    bare = check(lang, lang.delete_line(index))
    assert [(f.rule, f.line) for f in bare] == [("unmarked-deletion", index + 1)]
    fenced = lang.delete_line(index, [lang.marker("beg"), lang.marker("end")])
    assert check(lang, fenced) == []


@pytest.mark.parametrize("name", sorted(LANGS))
def test_wrap_fences_at_the_code_indent_and_passes(name: str) -> None:
    """--mark wraps the change at the code's indentation; the result passes; twice is once."""
    lang = LANGS[name]
    after = lang.with_lines([lang.indent + lang.new])
    wrapped = wrap_file(lang.path, lang.src, after, config=CFG)
    assert wrapped == lang.with_lines([lang.marker("beg"), lang.indent + lang.new, lang.marker("end")])
    assert check(lang, wrapped) == []
    assert wrap_file(lang.path, lang.src, wrapped, config=CFG) == wrapped


@pytest.mark.parametrize("name", CORE)
def test_unbalanced_markers(name: str) -> None:
    """unbalanced-marker: a BEG never closed, and an END without a BEG."""
    lang = LANGS[name]
    unclosed = check(lang, lang.with_lines([lang.marker("beg"), lang.indent + lang.new]))
    assert [(f.rule, f.line) for f in unclosed] == [("unbalanced-marker", lang.at + 1)]
    assert "never closed" in unclosed[0].message
    stray = check(lang, lang.with_lines([lang.indent + lang.new, lang.marker("end")]))
    assert sorted((f.rule, f.line) for f in stray) == [
        ("unbalanced-marker", lang.at + 2),
        ("unmarked-change", lang.at + 1),
    ]


@pytest.mark.parametrize("name", CORE)
def test_nested_markers(name: str) -> None:
    """nested-marker: a BEG inside an open region."""
    lang = LANGS[name]
    after = lang.with_lines(
        [lang.marker("beg"), lang.marker("beg"), lang.indent + lang.new, lang.marker("end"), lang.marker("end")]
    )
    assert [(f.rule, f.line) for f in check(lang, after)] == [("nested-marker", lang.at + 2)]


@pytest.mark.parametrize("name", CORE)
def test_legacy_style_is_a_region(name: str) -> None:
    """The legacy '######### FlagScale Begin/End #########' pair fences changes too."""
    lang = LANGS[name]
    opener = lang.syntax.line or ""
    beg = lang.indent + opener.encode() + b" ######### FlagScale Begin #########"
    end = lang.indent + opener.encode() + b" ######### FlagScale End #########"
    assert check(lang, lang.with_lines([beg, lang.indent + lang.new, end])) == []
    # Mixed styles pair up as well (real trees have both side by side).
    assert check(lang, lang.with_lines([beg, lang.indent + lang.new, lang.marker("end")])) == []


@pytest.mark.parametrize("name", CORE)
def test_deletion_inside_or_next_to_a_region_passes(name: str) -> None:
    """A pair 'at the place' may hold a comment, enclose the point, or follow it past blank lines."""
    lang = LANGS[name]
    comment = lang.indent + (lang.syntax.line or "").encode() + b" removed: upstream fallback path"
    assert check(lang, lang.delete_line(lang.at - 1, [lang.marker("beg"), comment, lang.marker("end")])) == []
    replaced = lang.delete_line(lang.at - 1, [lang.marker("beg"), lang.indent + lang.new, lang.marker("end")])
    assert check(lang, replaced) == []
    # A pair enclosing the point: the line is deleted from inside a region of this patch.
    fenced = lang.with_lines(
        [lang.marker("beg"), lang.indent + lang.new, lang.indent + lang.new + b"2", lang.marker("end")]
    )
    lines = fenced.split(b"\n")
    del lines[lang.at + 2]
    assert check(lang, b"\n".join(lines), before=fenced) == []


@pytest.mark.parametrize("name", CORE)
def test_removed_lower_marker(name: str) -> None:
    """removed-lower-marker: deleting or altering a marker line of the parent tree."""
    lang = LANGS[name]
    lower = lang.with_lines([lang.marker("beg"), lang.indent + lang.new, lang.marker("end")])
    lines = lower.split(b"\n")
    end_index = lang.at + 2
    deleted = b"\n".join(lines[:end_index] + lines[end_index + 1 :])
    found = check(lang, deleted, before=lower)
    assert ("removed-lower-marker", end_index + 1) in [(f.rule, f.line) for f in found]
    assert ("unbalanced-marker", lang.at + 1) in [(f.rule, f.line) for f in found]  # the lower BEG is now open
    relabelled = list(lines)
    relabelled[lang.at] = lang.marker("beg", "other_vendor")
    found = check(lang, b"\n".join(relabelled), before=lower)
    assert [(f.rule, f.line) for f in found] == [("removed-lower-marker", lang.at + 1)]
    assert "alters" in found[0].message
    # Adding code inside a lower region is fine.
    inside = list(lines)
    inside.insert(lang.at + 2, lang.indent + lang.new + b"2")
    assert check(lang, b"\n".join(inside), before=lower) == []


def test_lower_markers_argument_protects_more_lines() -> None:
    """lower_markers names lines of the parent tree that must stay (e.g. from a lower layer's map)."""
    lang = LANGS["python"]
    protected = Marker(kind="single", line=lang.at + 1)
    after = lang.delete_line(lang.at, [lang.marker("beg"), lang.marker("end")])
    found = check(lang, after, lower_markers=[protected])
    assert [(f.rule, f.line) for f in found] == [("removed-lower-marker", lang.at + 1)]
    assert "lower layer" in found[0].message


def test_single_line_marker_of_lower_patch_is_protected() -> None:
    """Rewriting a line that a lower patch marked with the single-line form breaks its marker."""
    lang = LANGS["cuda"]
    single = lang.marker("single").lstrip()
    lower = lang.with_lines([lang.indent + lang.new + b"  " + single])
    lines = lower.split(b"\n")
    lines[lang.at] = lang.indent + lang.new + b" // tweaked"
    found = check(lang, b"\n".join(lines), before=lower)
    assert sorted(rules(found)) == ["removed-lower-marker", "unmarked-change"]


def test_imbalance_already_in_the_parent_is_not_this_patchs() -> None:
    """A lower patch's unclosed BEG is reported once, by that patch, not by every later one."""
    lang = LANGS["python"]
    lower = lang.with_lines([lang.marker("beg"), lang.indent + lang.new])
    assert rules(check(lang, lower)) == ["unbalanced-marker"]
    lines = lower.split(b"\n")
    lines.insert(3, b"import os")
    later = b"\n".join(lines)
    assert rules(check(lang, later, before=lower)) == ["unmarked-change"]


def test_blank_lines_need_no_markers() -> None:
    """Adding or removing whitespace-only lines changes no behaviour: no finding."""
    lang = LANGS["python"]
    assert check(lang, lang.with_lines([b"", b"    "])) == []
    assert check(lang, lang.delete_line(3)) == []  # line 4 of PY_SRC is blank


def test_replacing_code_by_blank_lines_is_a_deletion() -> None:
    """A replacement by blank lines removes code: it needs a marker pair like a deletion."""
    lang = LANGS["cpp"]
    assert rules(check(lang, lang.delete_line(lang.at - 1, [b""]))) == ["unmarked-deletion"]


def test_new_files_are_exempt_by_default() -> None:
    """A file absent upstream is the layer's own: no markers needed, unless configured."""
    lang = LANGS["cpp"]
    assert check_file("csrc/mlu/ops.cpp", None, CPP_SRC, upstream_has_file=False, config=CFG) == []
    strict = MarkerConfig(exempt_new_files=False)
    found = check_file("csrc/mlu/ops.cpp", None, CPP_SRC, upstream_has_file=False, config=strict)
    assert rules(found) == ["unmarked-change"] and found[0].line == 1
    assert wrap_file(lang.path, None, CPP_SRC, config=CFG) == CPP_SRC


def test_whole_file_deletion_and_binaries_report_nothing() -> None:
    """Deleting a whole upstream file cannot carry markers; binary files are skipped."""
    assert check_file("vllm/a.py", PY_SRC, None, upstream_has_file=True, config=CFG) == []
    png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
    assert check_file("docs/logo.png", png, png + b"x", upstream_has_file=True, config=CFG) == []
    assert check_file("vllm/a.py", PY_SRC, b"\0" + PY_SRC, upstream_has_file=True, config=CFG) == []


def test_unknown_file_type_is_reported_once() -> None:
    """unknown-file-type: one finding at the first changed line, not a guess at the syntax."""
    before = b'{\n  "a": 1,\n  "b": 2\n}\n'
    after = b'{\n  "a": 1,\n  "c": 3,\n  "b": 2,\n  "d": 4\n}\n'
    found = check_file("vllm/config.json", before, after, upstream_has_file=True, config=CFG, patch=PATCH)
    assert [(f.rule, f.line) for f in found] == [("unknown-file-type", 3)]
    assert check_file("vllm/config.json", None, after, upstream_has_file=False, config=CFG) == []
    assert wrap_file("vllm/config.json", before, after, config=CFG) == after


def test_crlf_file_is_checked_and_wrapped_with_crlf_markers() -> None:
    """CRLF files keep CRLF: markers are recognised with \\r and written with \\r\\n."""
    before = CPP_SRC.replace(b"\n", b"\r\n")
    lines = before.split(b"\n")
    lines.insert(12, b"  maybe_use_vendor_kernel(out, input);\r")
    after = b"\n".join(lines)
    assert rules(check_file("csrc/a.cpp", before, after, upstream_has_file=True, config=CFG)) == ["unmarked-change"]
    wrapped = wrap_file("csrc/a.cpp", before, after, config=CFG)
    assert b"  // --- FLAGSCALE MODIFICATION BEG ---\r\n  maybe_use_vendor_kernel(out, input);\r\n" in wrapped
    assert b"  // --- FLAGSCALE MODIFICATION END ---\r\n" in wrapped
    assert wrapped.count(b"\n") == wrapped.count(b"\r\n")
    assert check_file("csrc/a.cpp", before, wrapped, upstream_has_file=True, config=CFG) == []


def test_rule_ids_are_stable() -> None:
    """Rule ids are an interface (CI filters, SARIF): they do not change."""
    assert sorted(RULES) == sorted(
        [
            "unmarked-change",
            "unmarked-deletion",
            "unbalanced-marker",
            "nested-marker",
            "removed-lower-marker",
            "unknown-file-type",
        ]
    )


def test_findings_of_one_run_are_grouped_and_sorted() -> None:
    """Neighbouring unmarked lines (blank lines between) make one finding with a line range."""
    lang = LANGS["python"]
    after = lang.with_lines([lang.indent + b"a = 1", b"", lang.indent + b"b = 2", lang.indent + b"c = 3"])
    found = check(lang, after)
    assert [(f.rule, f.line, f.end_line) for f in found] == [("unmarked-change", lang.at + 1, lang.at + 4)]
    assert "3 added or changed lines" in found[0].message


# --------------------------------------------------------------------------- wrapping


def test_wrap_inside_a_python_method() -> None:
    """Markers take the indentation of the least-indented wrapped line of a method body."""
    after = PY_SRC.replace(
        b"        if self.reduce_results:\n",
        b"        if self.use_vendor:\n            output = vendor_linear(input_)\n        if self.reduce_results:\n",
    )
    wrapped = wrap_file("vllm/linear.py", PY_SRC, after, config=CFG, label="cambricon_mlu")
    assert (
        b"        output = torch.matmul(input_, self.weight.t())\n"
        b"        # --- FLAGSCALE MODIFICATION BEG [cambricon_mlu] ---\n"
        b"        if self.use_vendor:\n"
        b"            output = vendor_linear(input_)\n"
        b"        # --- FLAGSCALE MODIFICATION END [cambricon_mlu] ---\n"
        b"        if self.reduce_results:\n"
    ) in wrapped
    compile(wrapped, "linear.py", "exec")
    assert check_file("vllm/linear.py", PY_SRC, wrapped, upstream_has_file=True, config=CFG) == []


def test_wrap_inside_a_cpp_function_body_merges_neighbours() -> None:
    """Runs separated only by blank lines share one pair; separated by code, they get two."""
    lines = CPP_SRC.split(b"\n")
    lines[8:8] = [b"  at::cuda::OptionalCUDAGuard guard(input.device());", b"", b"  check_vendor(input);"]
    lines.insert(15, b"  record_vendor_event();")
    after = b"\n".join(lines)
    wrapped = wrap_file("csrc/a.cpp", CPP_SRC, after, config=CFG)
    expected_head = (
        b"  TORCH_CHECK(out.is_contiguous());\n"
        b"  // --- FLAGSCALE MODIFICATION BEG ---\n"
        b"  at::cuda::OptionalCUDAGuard guard(input.device());\n"
        b"\n"
        b"  check_vendor(input);\n"
        b"  // --- FLAGSCALE MODIFICATION END ---\n"
    )
    assert expected_head in wrapped
    assert (
        b"  // --- FLAGSCALE MODIFICATION BEG ---\n  record_vendor_event();\n  // --- FLAGSCALE MODIFICATION END ---\n"
        in wrapped
    )
    assert wrapped.count(b"MODIFICATION BEG") == 2
    assert check_file("csrc/a.cpp", CPP_SRC, wrapped, upstream_has_file=True, config=CFG) == []


def test_wrap_leaves_existing_regions_alone() -> None:
    """Already fenced code keeps its markers untouched; only the unfenced part is wrapped."""
    lang = LANGS["cuda"]
    after = lang.with_lines([lang.marker("beg"), lang.indent + lang.new, lang.marker("end"), lang.indent + b"extra();"])
    wrapped = wrap_file(lang.path, lang.src, after, config=CFG)
    assert wrapped == lang.with_lines(
        [
            lang.marker("beg"),
            lang.indent + lang.new,
            lang.marker("end"),
            lang.marker("beg"),
            lang.indent + b"extra();",
            lang.marker("end"),
        ]
    )
    assert wrap_file(
        lang.path, lang.src, lang.with_lines([lang.marker("beg"), lang.new, lang.marker("end")]), config=CFG
    ) == (lang.with_lines([lang.marker("beg"), lang.new, lang.marker("end")]))


def test_wrap_never_leaves_an_empty_pair_at_a_deletion() -> None:
    """A pure deletion gets a pair holding a 'removed N upstream lines' comment, never an empty pair."""
    lang = LANGS["python"]
    after = lang.delete_line(lang.at + 1)  # "output = tensor_model_parallel_all_reduce(output)"
    wrapped = wrap_file(lang.path, lang.src, after, config=CFG)
    assert (
        b"        if self.reduce_results:\n"
        b"            # --- FLAGSCALE MODIFICATION BEG ---\n"
        b"            # removed 1 upstream line here\n"
        b"            # --- FLAGSCALE MODIFICATION END ---\n"
        b"        return output\n"
    ) in wrapped
    assert check(lang, wrapped) == []


def test_wrap_never_splits_a_backslash_continuation() -> None:
    """A change inside a C macro widens the region to the whole macro (comments would end it)."""
    before = b"#define CHECK(x) \\\n  do { \\\n    assert(x); \\\n  } while (0)\n\nint f();\n"
    after = before.replace(b"    assert(x); \\\n", b"    assert(x); \\\n    vendor_check(x); \\\n")
    wrapped = wrap_file("csrc/check.h", before, after, config=CFG)
    assert wrapped == (
        b"// --- FLAGSCALE MODIFICATION BEG ---\n"
        + after.split(b"\n\n")[0]
        + b"\n// --- FLAGSCALE MODIFICATION END ---\n\nint f();\n"
    )
    assert check_file("csrc/check.h", before, wrapped, upstream_has_file=True, config=CFG) == []


def test_wrap_keeps_a_missing_final_newline() -> None:
    """A file without a final newline stays without one after wrapping (LF and CRLF)."""
    before = b"a = 1\nb = 2"
    after = b"a = 1\nb = 2\nc = 3"
    wrapped = wrap_file("x.py", before, after, config=CFG)
    assert wrapped == b"a = 1\nb = 2\n# --- FLAGSCALE MODIFICATION BEG ---\nc = 3\n# --- FLAGSCALE MODIFICATION END ---"
    assert check_file("x.py", before, wrapped, upstream_has_file=True, config=CFG) == []
    # CRLF: "b = 2" gains its line end in this patch, so it is a changed line too.
    before = b"a = 1\r\nb = 2"
    after = b"a = 1\r\nb = 2\r\nc = 3"
    wrapped = wrap_file("x.py", before, after, config=CFG)
    assert wrapped == (
        b"a = 1\r\n# --- FLAGSCALE MODIFICATION BEG ---\r\nb = 2\r\nc = 3\r\n# --- FLAGSCALE MODIFICATION END ---"
    )
    assert check_file("x.py", before, wrapped, upstream_has_file=True, config=CFG) == []
    assert wrap_file("x.py", before, wrapped, config=CFG) == wrapped


# --------------------------------------------------------------------------- properties

_PY_POOL = [
    b"x = compute(y)",
    b"    return vendor_op(x)",
    b"        self.cache[key] = value",
    b"",
    b"    ",
    b"    if flag:",
    b"total = a + \\",
    b"    b",
    b"    # comment about the change",
    b"import os",
]
_CPP_POOL = [
    b"  int idx = blockIdx.x;",
    b"    out[i] = in[i] * scale;",
    b"  }",
    b"",
    b"#define VENDOR(x) \\",
    b"  (x)",
    b"  // note",
    b"namespace vendor {",
    b"    launch<<<grid, block>>>(out, in);",
]


@st.composite
def edits(draw: st.DrawFn, src: bytes, pool: list[bytes], protect: frozenset[int]) -> bytes:
    """Random insertions, deletions and replacements that leave protected lines alone."""
    lines = src.split(b"\n")
    keep = [True] * len(lines)  # lines that are still upstream's and may be touched
    for index in protect:
        keep[index] = False
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        new = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
        if kind == "insert":
            lines[at:at] = new
            keep[at:at] = [True] * len(new)
        elif keep[at] and at < len(lines) - 1:
            if kind == "delete":
                del lines[at]
                del keep[at]
            else:
                lines[at : at + 1] = new
                keep[at : at + 1] = [True] * len(new)
    return b"\n".join(lines)


def _lower_layer(src: bytes, syntax: CommentSyntax, at: int) -> tuple[bytes, frozenset[int]]:
    lines = src.split(b"\n")
    lines[at:at] = [
        canonical_marker("beg", syntax, CFG, eol=b""),
        b"lower_layer_call()",
        canonical_marker("end", syntax, CFG, eol=b""),
    ]
    return b"\n".join(lines), frozenset({at, at + 2})


_PY_LOWER = _lower_layer(PY_SRC, HASH, 14)
_CPP_LOWER = _lower_layer(CPP_SRC, C_LIKE, 9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_wrap_is_idempotent_and_passes_on_random_python_edits(data: st.DataObject) -> None:
    """For any edit of a Python file (with a lower region): wrap passes the check, twice is once."""
    for before, protect in ((PY_SRC, frozenset()), _PY_LOWER):
        after = data.draw(edits(before, _PY_POOL, protect))
        once = wrap_file("vllm/layer.py", before, after, config=CFG)
        assert check_file("vllm/layer.py", before, once, upstream_has_file=True, config=CFG) == []
        assert wrap_file("vllm/layer.py", before, once, config=CFG) == once


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_wrap_is_idempotent_and_passes_on_random_cpp_edits(data: st.DataObject) -> None:
    """For any edit of a C++/CUDA file (CRLF too): wrap passes the check, twice is once."""
    for path, (before, protect) in (
        ("csrc/layernorm.cpp", (CPP_SRC, frozenset[int]())),
        ("csrc/layernorm.cu", _CPP_LOWER),
        ("csrc/layernorm.cuh", (CPP_SRC.replace(b"\n", b"\r\n"), frozenset[int]())),
    ):
        after = data.draw(edits(before, _CPP_POOL, protect))
        once = wrap_file(path, before, after, config=CFG)
        assert check_file(path, before, once, upstream_has_file=True, config=CFG) == []
        assert wrap_file(path, before, once, config=CFG) == once


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(st.sampled_from([b"a", b"b", b"c", b"", b"}", b"x"]), max_size=60),
    b=st.lists(st.sampled_from([b"a", b"b", b"c", b"", b"}", b"y"]), max_size=60),
)
def test_line_diff_is_a_valid_edit_script(a: list[bytes], b: list[bytes]) -> None:
    """The fast diff (byte prefix/suffix, anchors, SequenceMatcher) always rebuilds the new side."""
    old, new = b"\n".join(a), b"\n".join(b)
    la, lb = old.split(b"\n"), new.split(b"\n")
    ops = _diff(old, new, la, lb)
    i = j = 0
    for tag, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j)
        if tag == "equal":
            assert la[i1:i2] == lb[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(la), len(lb))


def test_line_diff_on_large_files_with_repetitive_lines() -> None:
    """Long files, scattered edits and brace-heavy text still give a minimal, valid script."""
    body = [b"  }", b"", b"  return x;", b"  int y = %d;"]
    a = [body[k % 4] % k if b"%" in body[k % 4] else body[k % 4] for k in range(6000)]
    b = list(a)
    b[100:100] = [b"  new_one();"]
    del b[3000]
    b[5800] = b"  changed();"
    old, new = b"\n".join(a), b"\n".join(b)
    ops = [op for op in _diff(old, new, old.split(b"\n"), new.split(b"\n")) if op[0] != "equal"]
    # b's indexes are a's shifted by the insertion, then back by the deletion.
    assert ops == [
        ("insert", 100, 100, 100, 101),
        ("delete", 2999, 3000, 3000, 3000),
        ("replace", 5800, 5801, 5800, 5801),
    ]


def test_benchmark_script_runs() -> None:
    """bench/bench_markers.py keeps working (a tiny run; the figure itself is not asserted)."""
    path = Path(__file__).resolve().parent.parent / "bench" / "bench_markers.py"
    spec = importlib.util.spec_from_file_location("bench_markers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_markers"] = module
    try:
        spec.loader.exec_module(module)
        result = module.run(files=60, patches=10, seed=1)
    finally:
        del sys.modules["bench_markers"]
    assert result.files == 60 and result.patches == 10 and result.file_changes >= 10
