"""Findings and their renderings: text, JSON, JUnit XML, SARIF 2.1.0.

Why one module: ``check`` (markers), and later conflict reports, all produce the
same kind of value — "this rule is broken at this line of this file, by this
patch" — and CI systems want the same value in several formats.  Renderers
return ``str``/``bytes`` and never print (DESIGN §3: only ``fspatch.cli`` talks to the
terminal).  Every renderer sorts its input and writes no timestamps, host names
or durations, so the same findings always give byte-identical reports (golden
files, review bots that diff reports).

Text form, one finding a line, a compiler diagnostic an editor can jump to::

    <workspace file>:<line>: <rule>: <message>
    series/vllm/0002-x.patch:31: unmarked-change: vllm/a.py:12: 3 added or changed lines ...
    series/vllm/series:4: series-orphan: ...

The location is always a file of the workspace (tracked, reachable from a CI annotation or an
editor), never the git-ignored backend checkout: for a finding about a line of a patched
backend file it is the patch file, at the patch line that shows it (``patch_line``, see
``core/locate.py``), and the message starts with the backend file and line.  A finding with no
line of its own (an orphan patch file) points at line 1, never 0.  A severity other than
``error`` is written after the rule in parentheses (``unmarked-change (warning): ...``), so the
rule id is always the third colon-separated field.  Messages are kept on one line.

JUnit has one test case per finding (named by its location and rule, grouped by ``case`` in the
classname) and one passing test case per checked case without findings.  SARIF results point at
the same workspace location (``uriBaseId`` ``SRCROOT``, the workspace root); the backend file
and line are in the message and in ``properties``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fspatch.core.envelope import envelope

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "fspatch"
#: Where the ``fspatch`` SARIF driver points people for documentation.
INFORMATION_URI = "https://github.com/FlagOpen/FlagScale"
#: ``uriBaseId`` of every location: the workspace root.
DEFAULT_URI_BASE_ID = "SRCROOT"

_SARIF_LEVELS = {"error": "error", "warning": "warning", "note": "note", "info": "note", "none": "none"}


@dataclass(frozen=True)
class Finding:
    """One broken rule at one line of one file, attributed to one patch.

    ``line`` is 1-based in the patched file; ``end_line`` (optional) closes a
    range of lines reported as one finding.  ``case`` groups findings for JUnit
    (e.g. ``vllm/common``); it is free text, ``""`` when unused.  ``patch_line`` is the
    line of the patch file that shows ``line`` (None: the patch's first line).
    """

    patch: str
    file: str
    line: int
    rule: str
    message: str
    severity: str = "error"
    case: str = ""
    end_line: int | None = None
    patch_line: int | None = None

    def location(self) -> tuple[str, int]:
        """Where in the workspace the finding is: the patch file and its line, else the file itself."""
        if self.patch:
            return self.patch, max(1, self.patch_line or 1)
        return self.file, max(1, self.line)

    def sort_key(self) -> tuple[str, str, int, str, str, str]:
        """Order used by every renderer: patch, file, line, rule, message, case.

        Patch paths sort by layer (``series/`` before ``vendors/``) and then by
        their ``NNNN-`` number, which is the order the stack applies them.
        """
        return (self.patch, self.file, self.line, self.rule, self.message, self.case)


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Findings in the one order every renderer uses (deterministic output)."""
    return sorted(findings, key=Finding.sort_key)


def _one_line(text: str) -> str:
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def message_of(finding: Finding) -> str:
    """The message, after the backend file and line when the location is a patch file."""
    text = _one_line(finding.message)
    return f"{finding.file}:{max(1, finding.line)}: {text}" if finding.patch else text


def format_finding(finding: Finding) -> str:
    """The text form of one finding (see the module docstring)."""
    rule = finding.rule if finding.severity == "error" else f"{finding.rule} ({finding.severity})"
    path, line = finding.location()
    return f"{path}:{line}: {rule}: {message_of(finding)}"


def render_text(findings: Sequence[Finding]) -> str:
    """One line per finding, sorted; ``""`` when there is nothing to say."""
    return "".join(format_finding(f) + "\n" for f in sorted_findings(findings))


def _finding_dict(finding: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "patch": finding.patch,
        "file": finding.file,
        "line": finding.line,
    }
    if finding.end_line is not None:
        out["end_line"] = finding.end_line
    path, line = finding.location()
    out["location"] = {"path": path, "line": line}
    out["rule"] = finding.rule
    out["severity"] = finding.severity
    out["message"] = finding.message
    if finding.case:
        out["case"] = finding.case
    return out


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_sorted_keys(v) for v in value]
    return value


def render_json(findings: Sequence[Finding], summary: Mapping[str, Any]) -> str:
    """A JSON document: ``{"format": "fspatch/check", "version", "summary", "counts", "findings"}``.

    ``summary`` is the caller's (backend, layers, patches checked, ...) with its
    keys sorted at every level; ``counts`` is computed here (total and per rule)
    so consumers need not recount; findings are sorted and their keys are in a
    fixed order.  Version 1 of this layout.
    """
    ordered = sorted_findings(findings)
    by_rule = Counter(f.rule for f in ordered)
    doc = envelope(
        "check",
        {
            "summary": _sorted_keys(summary),
            "counts": {"total": len(ordered), "by_rule": {k: by_rule[k] for k in sorted(by_rule)}},
            "findings": [_finding_dict(f) for f in ordered],
        },
    )
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(findings: Sequence[Finding], suite: str, cases: Sequence[str]) -> bytes:
    """JUnit XML: one failing ``testcase`` per finding, one passing ``testcase`` per clean case.

    A CI dashboard then counts 600 findings as 600 failed tests, each named by its location
    and rule (``series/vllm/0002-x.patch:31: unmarked-change``), with the case (``vllm/common``)
    as its ``classname``.  Every case in ``cases`` without findings is listed as one passing test
    (what was checked shows); a finding whose case is not listed keeps its own case name.
    ``tests`` counts test cases and ``failures`` counts findings.
    """
    ordered = sorted_findings(findings)
    with_findings = {f.case for f in ordered}
    clean: list[str] = []
    for name in cases:
        if name not in with_findings and name not in clean:
            clean.append(name)
    total = len(ordered) + len(clean)

    root = ET.Element("testsuites", {"name": suite, "tests": str(total), "failures": str(len(ordered)), "errors": "0"})
    suite_el = ET.SubElement(
        root,
        "testsuite",
        {"name": suite, "tests": str(total), "failures": str(len(ordered)), "errors": "0", "skipped": "0"},
    )
    for f in ordered:
        path, line = f.location()
        case_el = ET.SubElement(
            suite_el, "testcase", {"classname": f.case or suite, "name": f"{path}:{line}: {f.rule}", "file": path}
        )
        failure = ET.SubElement(case_el, "failure", {"type": f.rule, "message": message_of(f)})
        failure.text = format_finding(f)
    for name in clean:
        ET.SubElement(suite_el, "testcase", {"classname": name or suite, "name": name or suite})
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def backend_of(patch: str) -> str | None:
    """The backend a workspace patch path belongs to, or None.

    ``series/<backend>/...`` (common layer) and ``vendors/<vendor>/<backend>/...``
    (vendor layer), DESIGN §2.
    """
    parts = patch.replace("\\", "/").split("/")
    if len(parts) >= 3 and parts[0] == "series":
        return parts[1]
    if len(parts) >= 4 and parts[0] == "vendors":
        return parts[2]
    return None


def render_sarif(
    findings: Sequence[Finding],
    tool_version: str,
    rules: Mapping[str, str],
    *,
    information_uri: str = INFORMATION_URI,
) -> str:
    """A SARIF 2.1.0 log with one run, for code-review annotations.

    Each result's ``artifactLocation`` is the finding's workspace location (the patch file
    and the patch line showing the changed line, or the workspace file itself), relative to
    ``SRCROOT``, the workspace root: a tracked file, so code-scanning annotations land on the
    pull request's diff.  The backend file and line are in the message and, with the backend,
    patch and case, in ``properties``.
    Rules are ``rules`` (id → short description) plus any rule a finding uses
    that ``rules`` does not describe, sorted by id.
    """
    ordered = sorted_findings(findings)
    rule_ids = sorted(set(rules) | {f.rule for f in ordered})
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    driver_rules = [{"id": rid, "shortDescription": {"text": rules.get(rid, rid)}} for rid in rule_ids]

    results: list[dict[str, Any]] = []
    for f in ordered:
        path, line = f.location()
        region: dict[str, Any] = {"startLine": line}
        if not f.patch and f.end_line is not None and f.end_line > line:
            region["endLine"] = f.end_line
        props: dict[str, Any] = {"patch": f.patch}
        if f.patch:
            props["file"] = f.file
            props["line"] = max(1, f.line)
            backend = backend_of(f.patch)
            if backend is not None:
                props["backend"] = backend
        if f.case:
            props["case"] = f.case
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": rule_index[f.rule],
                "level": _SARIF_LEVELS.get(f.severity, "warning"),
                "message": {"text": message_of(f)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": quote(path.replace("\\", "/"), safe="/"),
                                "uriBaseId": DEFAULT_URI_BASE_ID,
                            },
                            "region": region,
                        }
                    }
                ],
                "properties": props,
            }
        )

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": tool_version,
                "informationUri": information_uri,
                "rules": driver_rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    log = {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
