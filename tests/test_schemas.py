"""The packaged JSON Schemas: well-formed, documented, in sync with the workspace copies, and
strict with errors that name the file and the line of the offending key or value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fspatch.core import schema as schema_mod
from fspatch.core.schema import (
    SCHEMA_NAMES,
    iter_errors,
    load_schema,
    schema_text,
    validate,
)
from fspatch.core.yamlio import parse_yaml
from fspatch.errors import InputError

REPO = Path(__file__).resolve().parents[1]
C1 = "0123456789abcdef0123456789abcdef01234567"
C2 = "89abcdef0123456789abcdef0123456789abcdef"
FP = "f" * 64

GOOD: dict[str, str] = {
    "lock": f"""\
# pinned upstreams
format: 1
backends:
  vllm:
    url: https://github.com/vllm-project/vllm.git  # primary
    mirrors:
    - git@gitee.com:mirrors/vllm.git
    - file:///srv/mirror/vllm.git
    ref: v0.8.5
    commit: {C1}
    path: third_party/vllm
    version: 0.8.5
  megatron:
    url: ../Megatron-LM
    ref: core_r0.12.0
    commit: {C2}
    path: third_party/Megatron-LM
  llama_cpp:
    url: ssh://git@github.com/ggml-org/llama.cpp
    ref: refs/tags/b5000
    commit: {C1}
    path: third_party/llama.cpp
settings:
  markers:
    tag: FLAGSCALE MODIFICATION
    exempt_new_files: true
    syntaxes:
      '*.cu': {{line: '//'}}
      .cuh:
        block: ['/*', '*/']
""",
    "pending": """\
format: 1
operation: pull-upstream
backend: vllm
old: {ref: v0.8.0, commit: 0123456789abcdef0123456789abcdef01234567}
new: {ref: v0.9.0, commit: 89abcdef0123456789abcdef0123456789abcdef}
drop_upstreamed: false
layers:
  - label: common
    series:
      - {name: 0001-a.patch, strip: 1, status: conflict,
         sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
outcomes: []
""",
    "vendor": """\
name: cambricon
device_type: Cambricon_MLU
contact: Jane Doe <jane@example.com>
description: MLU370 and MLU590 support.
""",
    "layer": f"""\
tasks: [train, inference]
models:
- Qwen3-8B
- DeepSeek-R1
base:
  upstream_commit: {C1}
  common_fingerprint: {FP}
""",
    "diff": f"""\
backends_commit:
  vllm: {C1}
  megatron: {C2}
backends_version:
  vllm: 0.8.5
  megatron: '0.12'
commit: {C2}
contact: jane@example.com
device_type: Metax_C550
models:
- Qwen3-8B
task:
- inference
- post_train
""",
    "history": f"""\
cambricon:
  train:
  - backends: [megatron]
    commits: [{C1}, {C2}]
  inference:
  - backends: [vllm, megatron]
    commits:
    - {C2}
metax: {{}}
""",
}

DIFF_OK = GOOD["diff"]

# (schema, yaml text, expected line, a fragment of the message)
BAD: list[tuple[str, str, int, str]] = [
    ("diff", DIFF_OK.replace("- post_train", "- serving"), 14, "'serving' is not one of"),
    ("diff", DIFF_OK.replace(f"vllm: {C1}", "vllm: 0123abc"), 2, "40 lowercase hex"),
    ("diff", DIFF_OK.replace("vllm: 0.8.5", "vllm: '0.8.5 '"), 5, "blanks"),
    ("diff", DIFF_OK.replace(f"commit: {C2}", f"commit: {C2.upper()}"), 7, "40 lowercase hex"),
    (
        "diff",
        DIFF_OK.replace("contact: jane@example.com\n", ""),
        1,
        "missing required key 'contact'",
    ),
    ("diff", DIFF_OK + "extra: 1\n", 15, "unexpected key 'extra'"),
    (
        "diff",
        DIFF_OK.replace("task:\n- inference\n- post_train\n", "task: []\n"),
        12,
        "must not be empty",
    ),
    ("diff", DIFF_OK.replace("  megatron: '0.12'", "  megatron: 0.12"), 6, "quote it"),
    ("diff", DIFF_OK.replace(f"  megatron: {C2}", f"  Megatron-LM: {C2}"), 3, "key 'Megatron-LM'"),
    ("lock", GOOD["lock"].replace("format: 1", "format: 2"), 2, "must be 1"),
    ("lock", GOOD["lock"].replace("url: ../Megatron-LM", "url: --upload-pack=x"), 14, "'-'"),
    ("lock", GOOD["lock"].replace("url: ../Megatron-LM", "url: 'ext::sh -c x'"), 14, "ext::"),
    ("lock", GOOD["lock"].replace("path: third_party/vllm", "path: ../vllm"), 11, "inside"),
    ("lock", GOOD["lock"].replace("path: third_party/vllm", "path: /opt/vllm"), 11, "inside"),
    ("lock", GOOD["lock"].replace(f"    commit: {C2}\n", ""), 13, "missing required key 'commit'"),
    ("lock", GOOD["lock"].replace("  megatron:", "  Megatron:"), 13, "key 'Megatron'"),
    (
        "lock",
        GOOD["lock"].replace("    ref: v0.8.5\n", "    ref: v0.8.5\n    tag: x\n"),
        10,
        "'tag'",
    ),
    ("lock", GOOD["lock"].replace("{line: '//'}", "{line: '//', block: [a, b]}"), 28, "only one"),
    (
        "lock",
        GOOD["lock"].replace("exempt_new_files: true", "exempt_new_files: 'yes'"),
        26,
        "true or false",
    ),
    ("vendor", GOOD["vendor"].replace("Cambricon_MLU", "Cambricon MLU"), 2, "letters, digits"),
    ("vendor", "device_type: X\n", 1, "missing required key 'name'"),
    ("layer", GOOD["layer"].replace("[train, inference]", "[train, train]"), 1, "unique"),
    ("layer", GOOD["layer"].replace(FP, FP[:-1]), 7, "SHA-256"),
    ("history", GOOD["history"].replace("  train:", "  training:"), 2, "key 'training'"),
    ("history", GOOD["history"].replace(f"[{C1}, {C2}]", "[abc]"), 4, "40 lowercase hex"),
]


def _walk_properties(node: Any, where: str, out: list[str]) -> None:
    """Collect every schema location under a ``properties`` map that lacks a description."""
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            if "description" not in value:
                out.append(f"{where}.properties.{key}")
        for key, value in node.items():
            _walk_properties(value, f"{where}.{key}", out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk_properties(value, f"{where}[{index}]", out)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_packaged_schema_is_valid_draft_2020_12_with_id_title_description(name: str) -> None:
    """Each shipped schema is a valid 2020-12 schema carrying $id, title and description."""
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://fspatch.dev/schemas/{name}.schema.json"
    assert schema["title"] and schema["description"]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_has_a_description(name: str) -> None:
    """Editors show descriptions on hover: no property may go without one."""
    missing: list[str] = []
    _walk_properties(load_schema(name), name, missing)
    assert missing == []


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_workspace_schema_copies_match_packaged_schemas(name: str) -> None:
    """The repo's own schemas/ copies never drift from the ones in the wheel."""
    packaged = (REPO / "fspatch" / "schemas" / f"{name}.schema.json").read_bytes()
    assert (REPO / "schemas" / f"{name}.schema.json").read_bytes() == packaged
    assert schema_text(name).encode("utf-8") == packaged


def test_no_stray_schema_files() -> None:
    """Every schema file on disk is one SCHEMA_NAMES knows (so init copies all of them)."""
    for folder in (REPO / "fspatch" / "schemas", REPO / "schemas"):
        names = sorted(p.name for p in folder.glob("*.json"))
        assert names == sorted(f"{n}.schema.json" for n in SCHEMA_NAMES)


def test_every_pattern_is_explained_in_words() -> None:
    """A pattern error reads as a rule, not a regex: each schema pattern has its phrase."""
    patterns: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in SCHEMA_NAMES:
        walk(json.loads(schema_text(name)))
    assert patterns <= set(schema_mod._PATTERN_WORDS)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_realistic_good_example_is_accepted(name: str) -> None:
    """A realistic file of each kind validates cleanly."""
    data = parse_yaml(GOOD[name], f"{name}.yaml", name)
    assert iter_errors(data, name) == []


@pytest.mark.parametrize(("name", "text", "line", "fragment"), BAD)
def test_bad_example_is_rejected_at_its_line(
    name: str, text: str, line: int, fragment: str
) -> None:
    """Each violation is one InputError naming the file and the line of the bad key or value."""
    display = "diff.yaml" if name == "diff" else f"{name}.yaml"
    with pytest.raises(InputError) as info:
        parse_yaml(text, display, name)
    message = str(info.value)
    assert message.startswith(f"{display}:{line}: "), message
    assert fragment in message, message


def test_iter_errors_reports_all_sorted_by_line_and_validate_raises_the_first() -> None:
    """check reports every error in file order; loading stops at the first one."""
    text = (
        DIFF_OK.replace("- post_train", "- serving")
        .replace(f"vllm: {C1}", "vllm: abc1234")
        .replace("vllm: 0.8.5", "vllm: '0.8.5 '")
    )
    data = parse_yaml(text, "diff.yaml")
    errors = iter_errors(data, "diff")
    assert [line for line, _ in errors] == [2, 5, 14]
    with pytest.raises(InputError) as info:
        validate(data, "diff", "vendors/x/vllm/diff.yaml")
    assert str(info.value).startswith("vendors/x/vllm/diff.yaml:2: backends_commit.vllm: ")
    assert "(and 2 more)" in str(info.value)


def test_plain_data_validates_without_line_info() -> None:
    """Data built in memory (no ruamel line info) still validates, reporting no line."""
    errors = iter_errors({"name": "x", "device_type": "bad type"}, "vendor")
    assert len(errors) == 1 and errors[0][0] is None and "device_type" in errors[0][1]


def test_unknown_schema_name_is_a_programming_error() -> None:
    """Asking for a schema that is not shipped fails loudly, never validates nothing."""
    with pytest.raises(ValueError):
        load_schema("nope")
