"""Validation reports: JSON for machines, JUnit XML for CI systems, one HTML page for people, a summary
for the terminal.

JUnit has one test case per rule per dataset, so a CI system shows each failing rule natively; rules
that found nothing are passed test cases, so the report also says what was checked. The HTML page is
self-contained (inline CSS and JS, no external assets), rendered by jinja2 with autoescaping on, and
lists at most ``HTML_MAX_FINDINGS`` findings (the JSON has them all): a reviewer reads the verdict
and the findings first, grouped by rule, and the rules that passed last, folded.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from trialkit import __version__
from trialkit.validators.rules import RULES, SEVERITIES, RuleRun, ValidationFinding

SCHEMA_VERSION = 1
SHOWN_PER_CASE = 50
HTML_MAX_FINDINGS = 5000
NOT_RUN = ("not applicable", "not executed")      # RuleRun statuses of a rule that did not run
TEMPLATES = Path(__file__).parent / "templates"


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


def summary(findings: list[ValidationFinding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def to_json(findings: list[ValidationFinding], datasets: list[str], runs: list[RuleRun] = ()) -> dict:
    """``rules_run``: what each rule (CORE) or rule family (trialkit) did, with its status, the
    reason when it did not run, and its time in seconds."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"trialkit {__version__}",
        "datasets": sorted(datasets),
        "summary": summary(findings),
        "rules": {r.id: {"severity": r.severity, "title": r.title, "rationale": r.rationale, "scope": list(r.scope),
                         "source": r.source,
                         **{k: v for k, v in (("cdisc_id", r.cdisc_id), ("standard_ref", r.standard_ref)) if v}}
                  for r in RULES.values()},
        "rules_run": [r.to_dict() for r in runs],
        "findings": [f.to_dict() for f in findings],
    }


def to_junit(findings: list[ValidationFinding], datasets: list[str], threshold: str = "error",
             runs: list[RuleRun] = ()) -> ET.ElementTree:
    """One <testsuite> per dataset, one <testcase> per trialkit rule; findings at or above ``threshold``
    fail the case, lower ones are listed in its system-out. Rule files (CDISC's CORE rules, trialkit's
    own rules in the CORE format, a user's) have a suite of their
    own, one <testcase> per rule: failed, passed, or skipped with the reason (not applicable, not
    executed)."""
    by = {}
    core = {r.id for r in runs if not r.family}
    for f in findings:
        if f.rule not in core:
            by.setdefault((f.dataset, f.rule), []).append(f)
    root = ET.Element("testsuites", name="trialkit validate")
    for dataset in sorted(set(datasets) | {f.dataset for f in findings}):
        suite = ET.SubElement(root, "testsuite", name=dataset)
        failures = 0
        rules = sorted({r.id for r in RULES.values() if r.applies_to(dataset)} | {r for (d, r) in by if d == dataset})
        for rule_id in rules:
            case = ET.SubElement(suite, "testcase", classname=dataset, name=rule_id)
            hits = by.get((dataset, rule_id), [])
            failing = [f for f in hits if at_or_above(f.severity, threshold)]
            text = "\n".join(str(f) for f in hits[:SHOWN_PER_CASE]) + (
                f"\n... and {len(hits) - SHOWN_PER_CASE} more" if len(hits) > SHOWN_PER_CASE else "")
            if failing:
                failures += 1
                title = RULES[rule_id].title if rule_id in RULES else rule_id
                ET.SubElement(case, "failure", message=f"{len(failing)} finding(s): {title}", type=failing[0].severity).text = text
            elif hits:
                ET.SubElement(case, "system-out").text = text
        suite.set("tests", str(len(rules)))
        suite.set("failures", str(failures))
    if core:
        _core_suite(root, [r for r in runs if r.id in core], [f for f in findings if f.rule in core], threshold)
    return ET.ElementTree(root)


def _core_suite(root: ET.Element, runs: list[RuleRun], findings: list[ValidationFinding], threshold: str) -> None:
    by: dict[str, list[ValidationFinding]] = {}
    for f in findings:
        by.setdefault(f.rule, []).append(f)
    suite = ET.SubElement(root, "testsuite", name="rule files (CDISC CORE, trialkit, yours)")
    failures = skipped = 0
    for run in runs:
        case = ET.SubElement(suite, "testcase", classname=run.source, name=run.id)
        hits = by.get(run.id, [])
        failing = [f for f in hits if at_or_above(f.severity, threshold)]
        text = "\n".join(str(f) for f in hits[:SHOWN_PER_CASE]) + (
            f"\n... and {len(hits) - SHOWN_PER_CASE} more" if len(hits) > SHOWN_PER_CASE else "")
        if failing:
            failures += 1
            title = RULES[run.id].title if run.id in RULES else run.id
            ET.SubElement(case, "failure", message=f"{len(failing)} finding(s): {title}", type=failing[0].severity).text = text
        elif run.status in ("not applicable", "not executed"):
            skipped += 1
            ET.SubElement(case, "skipped", message=f"{run.status}: {run.reason}")
        elif hits:
            ET.SubElement(case, "system-out").text = text
    suite.set("tests", str(len(runs)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))


def _seq(seq: float | None) -> str:
    return "" if seq is None or math.isnan(seq) else f"{seq:g}"


def shares(counts: list[int], total: int) -> list[int]:
    """How many findings of each rule the HTML page lists, ``total`` at most: the rules with few
    findings are listed in full and the others share what is left equally, so that a rule with
    100,000 findings cannot push a rule with 3 off the page."""
    out, left = [0] * len(counts), total
    order = sorted(range(len(counts)), key=counts.__getitem__)
    for done, i in enumerate(order):
        out[i] = min(counts[i], left // (len(counts) - done))
        left -= out[i]
    return out


def _rule_meta(rule_id: str, rules) -> dict:
    meta = rules.get(rule_id)
    if meta is None:   # a rule with findings but no metadata in ``rules``: shown by its id
        return {"id": rule_id, "severity": "", "title": "", "rationale": "", "cdisc_id": "", "standard_ref": ""}
    return {"id": meta.id, "severity": meta.severity, "title": meta.title, "rationale": meta.rationale,
            "cdisc_id": getattr(meta, "cdisc_id", ""), "standard_ref": getattr(meta, "standard_ref", "")}


def to_html(findings: list[ValidationFinding], datasets: list[str], threshold: str = "error",
            max_findings: int = HTML_MAX_FINDINGS, rules=None, runs: list[RuleRun] = ()) -> str:
    """One self-contained HTML page, in the order a reviewer reads it: the verdict and the counts by
    severity and by rule, then the findings grouped by rule (most severe first), each group under its
    rule's id, title and rationale, then the rules that found nothing, folded. At most
    ``max_findings`` findings are listed (``shares``); the page says how many more the JSON holds.
    Filters by dataset and severity need JS; without it every listed row shows.

    ``rules``: rule metadata by id (``Rule``: id, severity, title, rationale, optional cdisc_id and
    standard_ref), by default every registered rule; a CORE rule fits as it is (CORE-000351 with
    cdisc_id CG0151). A finding of a rule not in ``rules`` is listed under its id alone. ``runs``
    (validate's rule runs) tell a rule that found nothing from one that did not run: those are listed
    apart, folded, with the reason (not applicable to these datasets, not executed)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    import trialkit.validators.run  # noqa: F401  registers every rule, so rules with no findings show as passed

    rules = RULES if rules is None else rules
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    by_rule: dict[str, list[ValidationFinding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    groups = []
    for rule_id, hits in by_rule.items():
        worst = min((f.severity for f in hits), key=lambda s: rank.get(s, len(rank)))
        meta = _rule_meta(rule_id, rules)
        meta["cdisc_id"] = meta["cdisc_id"] or next((f.cdisc_id for f in hits if f.cdisc_id), "")
        groups.append({**meta, "severity": worst, "count": len(hits), "findings": hits,
                       "failed": at_or_above(worst, threshold), "datasets": sorted({f.dataset for f in hits})})
    groups.sort(key=lambda g: (rank.get(g["severity"], len(rank)), -g["count"], g["id"]))
    for group, n in zip(groups, shares([g["count"] for g in groups], max_findings)):
        group["shown"] = [{**f.to_dict(), "seq": _seq(f.seq)} for f in group.pop("findings")[:n]]
        group["omitted"] = group["count"] - n
    not_run = {r.id: r for r in runs if r.status in NOT_RUN and r.id not in by_rule}
    passed = sorted((_rule_meta(r, rules) for r in rules if r not in by_rule and r not in not_run), key=lambda r: r["id"])
    skipped = [{**_rule_meta(run.id, rules), "status": run.status, "reason": run.reason}
               for run in sorted(not_run.values(), key=lambda run: run.id)]
    shown = [f for g in groups for f in g["shown"]]
    return env.get_template("report.html.j2").render(
        generator=f"trialkit {__version__}",
        threshold=threshold,
        datasets=sorted(set(datasets)),
        counts=summary(findings),
        total=len(findings),
        groups=groups,
        failing=[g for g in groups if g["failed"]],
        passed=passed,
        skipped=skipped,
        shown=len(shown),
        omitted=len(findings) - len(shown),
        filter_datasets=sorted({f["dataset"] for f in shown}),
        severities=[s for s in SEVERITIES if any(f["severity"] == s for f in shown)],
    )


def write_report(findings: list[ValidationFinding], datasets: list[str], fmt: str, out: Path, threshold: str,
                 runs: list[RuleRun] = ()) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps(to_json(findings, datasets, runs), indent=2) + "\n", encoding="utf-8")
    elif fmt == "junit":
        tree = to_junit(findings, datasets, threshold, runs)
        ET.indent(tree)
        tree.write(out, encoding="utf-8", xml_declaration=True)
    elif fmt == "html":
        out.write_text(to_html(findings, datasets, threshold, runs=runs), encoding="utf-8")
    else:
        raise ValueError(f"unknown report format {fmt!r}")
    return out
