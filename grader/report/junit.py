"""JUnit XML, what CI systems display: one <testsuite> per kata, one
<testcase> per check.

Rules: a lost check is a <failure> whose message is the text report's two
lines for it, the one-line reason and the hint; its body adds the exchange
and the evidence paths. A check not run here is <skipped> with its reason
(never passed). A kata that could not be graded at all is one <testcase
name="grading"> with an <error>. Hidden checks arrive already redacted
(report.hidden) unless the instructor asked for --reveal."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def _props(parent: ET.Element, items: dict) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in items.items():
        ET.SubElement(props, "property", name=name, value=str(value))


def failure_message(check: dict) -> str:
    """The same words as the text report: the reason, then ``hint: ...``."""
    lines = [check.get("message") or "the check failed"]
    if check.get("hint"):
        lines.append(f"hint: {check['hint']}")
    return "\n".join(lines)


def kata_suite(kata: dict) -> ET.Element:
    checks = kata.get("checks", [])
    failures = sum(1 for c in checks if c["status"] == "failed")
    skipped = sum(1 for c in checks if c["status"] == "not_run")
    errors = 1 if kata.get("error") else 0
    suite = ET.Element("testsuite", name=kata["kata"], tests=str(len(checks) + errors),
                       failures=str(failures), errors=str(errors), skipped=str(skipped),
                       time=f"{sum(c.get('duration', 0.0) for c in checks):.3f}")
    _props(suite, {"title": kata.get("title", ""), "score": kata.get("score", 0),
                   "max_score": kata.get("max_score", 0), "seed": kata.get("seed", ""),
                   "stretch": kata.get("stretch", "")})
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname=kata["kata"], name=check["name"],
                             time=f"{check.get('duration', 0.0):.3f}")
        _props(case, {"id": check["id"], "points": f"{check['score']}/{check['max_score']}",
                      "hidden": str(bool(check.get("hidden"))).lower()})
        if check["status"] == "failed":
            body = [failure_message(check), *check.get("details", []),
                    *(f"evidence: {p}" for p in check.get("evidence", []))]
            node = ET.SubElement(case, "failure", message=failure_message(check), type="points lost")
            node.text = "\n".join(body)
        elif check["status"] == "not_run":
            ET.SubElement(case, "skipped", message=check.get("message") or "not run here")
    if errors:
        case = ET.SubElement(suite, "testcase", classname=kata["kata"], name="grading")
        ET.SubElement(case, "error", message=kata["error"], type="not graded").text = kata["error"]
    if kata.get("notes"):
        ET.SubElement(suite, "system-out").text = "\n".join(f"note: {n}" for n in kata["notes"])
    return suite


def junit_xml(katas: list[dict]) -> str:
    root = ET.Element("testsuites", name="socket-katas",
                      tests=str(sum(len(k.get("checks", [])) + (1 if k.get("error") else 0) for k in katas)),
                      failures=str(sum(1 for k in katas for c in k.get("checks", []) if c["status"] == "failed")),
                      errors=str(sum(1 for k in katas if k.get("error"))))
    for kata in katas:
        root.append(kata_suite(kata))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
