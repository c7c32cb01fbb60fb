"""Reports: text, JSON, JUnit XML and SARIF 2.1.0 renderings of findings.

The SARIF output is validated against the official OASIS SARIF 2.1.0 JSON
Schema shipped in ``tests/data/sarif-schema-2.1.0.json`` (errata 01, the file
published by the OASIS SARIF TC as ``Schemata/sarif-schema-2.1.0.json``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fspatch.core.locate import PatchLines
from fspatch.core.markers import RULES, MarkerConfig, check_file
from fspatch.core.patch import parse_patch
from fspatch.core.report import (
    Finding,
    backend_of,
    format_finding,
    render_json,
    render_junit,
    render_sarif,
    render_text,
)

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

FINDINGS = [
    Finding(
        "vendors/cambricon/vllm/0001-mlu.patch",
        "vllm/worker/worker.py",
        40,
        "unmarked-deletion",
        "2 upstream lines deleted here",
        case="vllm/cambricon",
        patch_line=21,
    ),
    Finding(
        "series/vllm/0002-x.patch",
        "vllm/a.py",
        12,
        "unmarked-change",
        "3 added or changed lines (lines 12-14) outside modification markers",
        case="vllm/common",
        end_line=14,
        patch_line=31,
    ),
    Finding(
        "series/vllm/0002-x.patch",
        "csrc/ops.cu",
        7,
        "nested-marker",
        "BEG marker inside the region opened at line 3",
        case="vllm/common",
        patch_line=58,
    ),
    Finding(
        "series/megatron/0001-y.patch",
        "megatron/core/my file.py",
        1,
        "unbalanced-marker",
        "END marker\nwithout a matching BEG",
        case="megatron/common",
    ),
]


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_shipped_schema_is_the_official_sarif_2_1_0() -> None:
    """The test data is OASIS's schema, not a home-made one."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    assert {"run", "result", "physicalLocation", "region", "reportingDescriptor"} <= set(schema["definitions"])


# --------------------------------------------------------------------------- text


def test_text_form_is_patch_then_compiler_style_location() -> None:
    """'<patch file>:<patch line>: <rule>: <file>:<line>: <message>', sorted, one a line, on one line."""
    assert render_text(FINDINGS).splitlines() == [
        "series/megatron/0001-y.patch:1: unbalanced-marker: megatron/core/my file.py:1: "
        "END marker without a matching BEG",
        "series/vllm/0002-x.patch:58: nested-marker: csrc/ops.cu:7: BEG marker inside the region opened at line 3",
        "series/vllm/0002-x.patch:31: unmarked-change: vllm/a.py:12: "
        "3 added or changed lines (lines 12-14) outside modification markers",
        "vendors/cambricon/vllm/0001-mlu.patch:21: unmarked-deletion: vllm/worker/worker.py:40: "
        "2 upstream lines deleted here",
    ]
    assert render_text(FINDINGS).endswith("deleted here\n")


def test_text_form_without_patch_and_with_other_severity() -> None:
    """No patch: plain 'file:line: rule: message' (line 0 shown as 1); a non-error severity follows the rule."""
    assert format_finding(Finding("", "a.py", 3, "unmarked-change", "m")) == "a.py:3: unmarked-change: m"
    assert format_finding(Finding("", "series/x/0009-orphan.patch", 0, "series-orphan", "m")) == (
        "series/x/0009-orphan.patch:1: series-orphan: m"
    )
    assert format_finding(Finding("p.patch", "a.py", 3, "unmarked-change", "m", severity="warning")) == (
        "p.patch:1: unmarked-change (warning): a.py:3: m"
    )
    assert render_text([]) == ""


# --------------------------------------------------------------------------- json


def test_json_is_sorted_stable_and_counts() -> None:
    """Sorted findings, fixed key order, sorted summary keys, counts per rule; input order is irrelevant."""
    out = render_json(FINDINGS, {"backend": "vllm", "patches": 3, "layers": {"vendor": "cambricon", "common": True}})
    assert out == render_json(
        list(reversed(FINDINGS)), {"patches": 3, "layers": {"common": True, "vendor": "cambricon"}, "backend": "vllm"}
    )
    doc = json.loads(out)
    assert list(doc) == ["format", "version", "summary", "counts", "findings"]
    assert (doc["format"], doc["version"]) == ("fspatch/check", 1)
    assert list(doc["summary"]) == ["backend", "layers", "patches"]
    assert list(doc["summary"]["layers"]) == ["common", "vendor"]
    assert doc["counts"] == {
        "total": 4,
        "by_rule": {"nested-marker": 1, "unbalanced-marker": 1, "unmarked-change": 1, "unmarked-deletion": 1},
    }
    first = doc["findings"][2]
    assert list(first) == ["patch", "file", "line", "end_line", "location", "rule", "severity", "message", "case"]
    assert first["line"] == 12 and first["end_line"] == 14
    assert first["location"] == {"path": "series/vllm/0002-x.patch", "line": 31}
    assert [f["file"] for f in doc["findings"]] == [
        "megatron/core/my file.py",
        "csrc/ops.cu",
        "vllm/a.py",
        "vllm/worker/worker.py",
    ]


# --------------------------------------------------------------------------- junit


def test_junit_has_one_test_case_per_finding_and_lists_clean_cases() -> None:
    """One failing testcase per finding (named by location and rule), one passing per clean case, right counts."""
    cases = ["vllm/common", "vllm/cambricon", "vllm/metax", "megatron/common"]
    xml = render_junit(FINDINGS, "fspatch check", cases)
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("tests") == "5" and suite.get("failures") == "4" and suite.get("errors") == "0"
    names = [(tc.get("classname"), tc.get("name")) for tc in suite.findall("testcase")]
    assert names == [
        ("megatron/common", "series/megatron/0001-y.patch:1: unbalanced-marker"),
        ("vllm/common", "series/vllm/0002-x.patch:58: nested-marker"),
        ("vllm/common", "series/vllm/0002-x.patch:31: unmarked-change"),
        ("vllm/cambricon", "vendors/cambricon/vllm/0001-mlu.patch:21: unmarked-deletion"),
        ("vllm/metax", "vllm/metax"),
    ]
    testcases = suite.findall("testcase")
    assert [len(tc.findall("failure")) for tc in testcases] == [1, 1, 1, 1, 0]
    failure = testcases[1].findall("failure")[0]
    assert failure.get("type") == "nested-marker"
    assert failure.text == (
        "series/vllm/0002-x.patch:58: nested-marker: csrc/ops.cu:7: BEG marker inside the region opened at line 3"
    )
    assert testcases[1].get("file") == "series/vllm/0002-x.patch"
    assert xml == render_junit(list(reversed(FINDINGS)), "fspatch check", cases)


def test_junit_counts_600_findings_as_600_failed_tests() -> None:
    """Many findings in one layer are as many failed tests, not one (issue 16)."""
    many = [Finding("series/v/0001-a.patch", "a.py", i, "unmarked-change", "m", case="v/common") for i in range(1, 601)]
    suite = ET.fromstring(render_junit(many, "fspatch check", ["v/common"])).find("testsuite")
    assert suite is not None and suite.get("tests") == "600" and suite.get("failures") == "600"
    assert len(suite.findall("testcase")) == 600


def test_junit_keeps_findings_of_unlisted_cases() -> None:
    """A finding whose case was not listed still gets its test case; the empty case is named after the suite."""
    findings = [
        Finding("p", "a.py", 1, "unmarked-change", "m"),
        Finding("p", "b.py", 1, "unmarked-change", "m", case="x"),
    ]
    root = ET.fromstring(render_junit(findings, "markers", []))
    suite = root.find("testsuite")
    assert suite is not None
    assert [tc.get("classname") for tc in suite.findall("testcase")] == ["markers", "x"]
    assert suite.get("tests") == "2" and suite.get("failures") == "2"
    empty = ET.fromstring(render_junit([], "markers", ["vllm/common"]))
    assert empty.find("testsuite/testcase") is not None and empty.find("testsuite/testcase/failure") is None


# --------------------------------------------------------------------------- sarif


def test_sarif_validates_against_the_official_schema() -> None:
    """The SARIF log is valid SARIF 2.1.0 (so code-review systems accept it)."""
    sarif_validator().validate(json.loads(render_sarif(FINDINGS, "0.1.0", RULES)))
    sarif_validator().validate(json.loads(render_sarif([], "0.1.0", RULES)))


def test_sarif_points_at_tracked_patch_files_and_names_the_backend_file() -> None:
    """Results carry ruleId/ruleIndex, level, a SRCROOT location in the patch file, the backend file in message/properties."""
    log = json.loads(render_sarif(FINDINGS, "0.1.0", RULES))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (
        driver["name"] == "fspatch" and driver["version"] == "0.1.0" and driver["informationUri"].startswith("https://")
    )
    assert [r["id"] for r in driver["rules"]] == sorted(RULES)
    assert all(r["shortDescription"]["text"] == RULES[r["id"]] for r in driver["rules"])
    by_file: dict[str, Any] = {r["properties"]["file"]: r for r in run["results"]}
    change = by_file["vllm/a.py"]
    assert change["ruleId"] == "unmarked-change"
    assert driver["rules"][change["ruleIndex"]]["id"] == "unmarked-change"
    assert change["level"] == "error"
    loc = change["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "series/vllm/0002-x.patch", "uriBaseId": "SRCROOT"}
    assert loc["region"] == {"startLine": 31}
    assert change["properties"] == {
        "patch": "series/vllm/0002-x.patch",
        "file": "vllm/a.py",
        "line": 12,
        "backend": "vllm",
        "case": "vllm/common",
    }
    assert change["message"]["text"].startswith("vllm/a.py:12: 3 added or changed lines")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert not any(u.startswith("third_party") or u.startswith("vllm/") for u in uris)
    assert "originalUriBaseIds" not in run


def test_sarif_is_deterministic_and_lists_undescribed_rules() -> None:
    """Same findings, any order: same bytes; a rule used but not described is still declared."""
    extra = [*FINDINGS, Finding("", "x.py", 2, "custom-rule", "m", severity="warning")]
    out = render_sarif(extra, "0.1.0", RULES)
    assert out == render_sarif(list(reversed(extra)), "0.1.0", RULES)
    log = json.loads(out)
    sarif_validator().validate(log)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert {"id": "custom-rule", "shortDescription": {"text": "custom-rule"}} in rules
    custom = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "custom-rule")
    assert custom["level"] == "warning"
    assert custom["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "SRCROOT"


def test_check_findings_render_to_valid_sarif() -> None:
    """End to end: findings of a real check become a valid, annotatable SARIF log."""
    before = b"def f(x):\n    a = 1\n    return a\n"
    after = b"def f(x):\n    a = 1\n    b = 2\n    return a + b\n"
    findings = check_file(
        "vllm/f.py", before, after, upstream_has_file=True, config=MarkerConfig(), patch="series/vllm/0001-b.patch"
    )
    assert [f.rule for f in findings] == ["unmarked-change"]
    data = (
        b"From: A <a@example.org>\nSubject: [PATCH] b\n\n---\n"
        b"diff --git a/vllm/f.py b/vllm/f.py\n--- a/vllm/f.py\n+++ b/vllm/f.py\n"
        b"@@ -1,3 +1,4 @@\n def f(x):\n     a = 1\n-    return a\n+    b = 2\n+    return a + b\n"
    )
    lines = PatchLines(data, parse_patch(data))
    findings = [replace(f, patch_line=lines.locate(f.file, f.line)) for f in findings]
    assert data.split(b"\n")[findings[0].patch_line - 1] == b"+    b = 2"  # type: ignore[operator]
    log = json.loads(render_sarif(findings, "0.1.0", RULES))
    sarif_validator().validate(log)
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 12}
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "series/vllm/0001-b.patch"


@pytest.mark.parametrize(
    ("patch", "backend"),
    [
        ("series/vllm/0001-a.patch", "vllm"),
        ("vendors/cambricon/vllm/0001-a.patch", "vllm"),
        ("vendors/cambricon/vllm", None),
        ("0001-a.patch", None),
        ("", None),
    ],
)
def test_backend_of_patch_paths(patch: str, backend: str | None) -> None:
    """The backend is read from the layer layout of DESIGN §2."""
    assert backend_of(patch) == backend
