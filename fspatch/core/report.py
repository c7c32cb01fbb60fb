"""Findings and their renderings: text, JSON, JUnit XML, SARIF 2.1.0.

Why one module: ``check`` (markers), and later conflict reports, all produce the
same kind of value — "this rule is broken at this line of this file, by this
patch" — and CI systems want the same value in several formats.  Renderers
return ``str``/``bytes`` and never print (DESIGN §3: only ``fspatch.cli`` talks to the
terminal).  Every renderer sorts its input and writes no timestamps, host names
or durations, so the same findings always give byte-identical reports (golden
files, review bots that diff reports).

Text form, one finding a line::

    <patch>: <file>:<line>: <rule>: <message>
    series/vllm/0002-x.patch: vllm/a.py:12: unmarked-change: 3 added or changed lines ...

``<patch>: `` is left out when the finding has no patch, so a finding about a
plain file reads like a compiler diagnostic (``file:line: rule: message``) and
editors can jump to it.  A severity other than ``error`` is written after the
rule in parentheses (``unmarked-change (warning): ...``) so that the rule id is
always the third colon-separated field.  Messages are kept on one line.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "fspatch"
#: Where the ``fspatch`` SARIF driver points people for documentation.
INFORMATION_URI = "https://github.com/FlagOpen/FlagScale"
#: ``uriBaseId`` used when a finding's patch does not name a backend.
DEFAULT_URI_BASE_ID = "SRCROOT"

_SARIF_LEVELS = {"error": "error", "warning": "warning", "note": "note", "info": "note", "none": "none"}


@dataclass(frozen=True)
class Finding:
    """One broken rule at one line of one file, attributed to one patch.

    ``line`` is 1-based in the patched file; ``end_line`` (optional) closes a
    range of lines reported as one finding.  ``case`` groups findings for JUnit
    (e.g. ``vllm/common``); it is free text, ``""`` when unused.
    """

    patch: str
    file: str
    line: int
    rule: str
    message: str
    severity: str = "error"
    case: str = ""
    end_line: int | None = None

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


def format_finding(finding: Finding) -> str:
    """The text form of one finding (see the module docstring)."""
    rule = finding.rule if finding.severity == "error" else f"{finding.rule} ({finding.severity})"
    where = f"{finding.file}:{finding.line}: {rule}: {_one_line(finding.message)}"
    return f"{finding.patch}: {where}" if finding.patch else where


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
    """A JSON document: ``{"version", "summary", "counts", "findings"}``.

    ``summary`` is the caller's (backend, layers, patches checked, ...) with its
    keys sorted at every level; ``counts`` is computed here (total and per rule)
    so consumers need not recount; findings are sorted and their keys are in a
    fixed order.  Version 1 of this layout.
    """
    ordered = sorted_findings(findings)
    by_rule = Counter(f.rule for f in ordered)
    doc: dict[str, Any] = {
        "version": 1,
        "summary": _sorted_keys(summary),
        "counts": {"total": len(ordered), "by_rule": {k: by_rule[k] for k in sorted(by_rule)}},
        "findings": [_finding_dict(f) for f in ordered],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(findings: Sequence[Finding], suite: str, cases: Sequence[str]) -> bytes:
    """JUnit XML: one ``testcase`` per case, one ``failure`` per finding in it.

    Passing cases are listed too (CI dashboards then show what was checked).
    A finding whose ``case`` is not in ``cases`` gets a test case of its own,
    so nothing is lost; the empty case is named after the suite.  ``tests`` counts
    test cases and ``failures`` counts failing test cases (a case with three
    findings is one failed test carrying three ``failure`` elements).
    """
    grouped: dict[str, list[Finding]] = {}
    for f in sorted_findings(findings):
        grouped.setdefault(f.case, []).append(f)
    names: list[str] = []
    for name in cases:
        if name not in names:
            names.append(name)
    names.extend(sorted(c for c in grouped if c not in names))
    failed = sum(1 for n in names if grouped.get(n))

    root = ET.Element("testsuites", {"name": suite, "tests": str(len(names)), "failures": str(failed), "errors": "0"})
    suite_el = ET.SubElement(
        root,
        "testsuite",
        {"name": suite, "tests": str(len(names)), "failures": str(failed), "errors": "0", "skipped": "0"},
    )
    for name in names:
        case_el = ET.SubElement(suite_el, "testcase", {"classname": suite, "name": name or suite})
        for f in grouped.get(name, ()):
            failure = ET.SubElement(case_el, "failure", {"type": f.rule, "message": _one_line(f.message)})
            failure.text = format_finding(f)
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
    base_uris: Mapping[str, str] | None = None,
    information_uri: str = INFORMATION_URI,
) -> str:
    """A SARIF 2.1.0 log with one run, for code-review annotations.

    Each result's ``artifactLocation.uri`` is the file's path inside the backend
    tree and its ``uriBaseId`` names the backend (taken from the patch path,
    ``SRCROOT`` when the patch names none); ``base_uris`` may map a backend to
    where its checkout lives (``{"vllm": "third_party/vllm/"}``), which becomes
    ``run.originalUriBaseIds``.  The patch (and case) go in ``properties``.
    Rules are ``rules`` (id → short description) plus any rule a finding uses
    that ``rules`` does not describe, sorted by id.
    """
    ordered = sorted_findings(findings)
    rule_ids = sorted(set(rules) | {f.rule for f in ordered})
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    driver_rules = [{"id": rid, "shortDescription": {"text": rules.get(rid, rid)}} for rid in rule_ids]

    results: list[dict[str, Any]] = []
    for f in ordered:
        base = backend_of(f.patch) or DEFAULT_URI_BASE_ID
        region: dict[str, Any] = {"startLine": max(1, f.line)}
        if f.end_line is not None and f.end_line > region["startLine"]:
            region["endLine"] = f.end_line
        props: dict[str, Any] = {"patch": f.patch}
        if f.case:
            props["case"] = f.case
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": rule_index[f.rule],
                "level": _SARIF_LEVELS.get(f.severity, "warning"),
                "message": {"text": _one_line(f.message)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": quote(f.file.replace("\\", "/"), safe="/"), "uriBaseId": base},
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
    if base_uris:
        origins: dict[str, Any] = {}
        for base in sorted(base_uris):
            uri = base_uris[base].replace("\\", "/")
            uri = uri if uri.endswith("/") else uri + "/"
            location: dict[str, Any] = {"uri": quote(uri, safe="/:")}
            if "://" not in uri and not uri.startswith("file:"):
                # A relative base is relative to the workspace root (SARIF §3.14.14).
                location["uriBaseId"] = DEFAULT_URI_BASE_ID
            origins[base] = location
        run["originalUriBaseIds"] = origins
    log = {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
