"""The SDTM stage's own findings and row ledger, carried into validation (TK-MAP).

``trialkit sdtm`` writes findings.json (every problem met while mapping: a record rejected, an
impossible date, a code outside its codelist...) and ledger.json (rows in / landed / rejected per
raw form) beside the datasets. A problem that stopped a record at the mapping leaves nothing in the
datasets for a schema to catch, so ``trialkit validate`` reads both files and reports each finding
under the rule of its kind: one report, and one exit code, covers the whole transfer.
"""

from __future__ import annotations

import json
from pathlib import Path

from trialkit.validators.rules import IO_UNREADABLE, ValidationFinding, rule

BY_KIND = {
    "rejected": rule("TK-MAP-0001", "error", "Raw record rejected by the mapping",
                     "Row ledger (sdtm/ledger.json; trialkit/ledger.py): every raw row lands in a dataset, in "
                     "SUPPQUAL or in the rejected list; a raw record that could not be mapped (truncated, duplicate, "
                     "no or unknown subject) is listed with its reason."),
    "date": rule("TK-MAP-0002", "error", "Raw date or time cannot be converted to ISO 8601",
                 "SDTMIG 3.4 section 4.4.1: --DTC is ISO 8601; an impossible or malformed collected date never "
                 "reaches --DTC: it is reported, not guessed."),
    "codelist": rule("TK-MAP-0003", "error", "Raw value not in its codelist or the raw dictionary's codes",
                     "SDTMIG 3.4 section 4.3 / the study's raw dictionary: a collected code outside its list cannot "
                     "be recoded to CT."),
    "required": rule("TK-MAP-0004", "error", "Required raw value missing",
                     "The study's raw dictionary: a field marked required is empty."),
    "number": rule("TK-MAP-0005", "error", "Raw value is not a number",
                   "SDTMIG 3.4 section 4.1.1: a Num variable mapped from text that does not parse as a number."),
    "visit": rule("TK-MAP-0006", "error", "Raw visit not in the study's visit map",
                  "SDTMIG 3.4 section 7.3.1 (TV): every planned visit is defined in the trial design."),
    "studyid": rule("TK-MAP-0007", "error", "Raw record of another study",
                    "SDTMIG 3.4 section 4.1.2: STUDYID is the study's identifier on every record."),
    "form_missing": rule("TK-MAP-0008", "warning", "Raw form absent from the export",
                         "The study's raw dictionary lists the form; an export without it is read as empty."),
    "form_expected": rule("TK-MAP-0013", "error", "Expected raw form absent or empty",
                          "The study's raw dictionary marks the form expected: every export has records in it, so "
                          "an export without it (or with its header only) is incomplete."),
    "columns_missing": rule("TK-MAP-0009", "error", "Raw form lacks columns of the raw dictionary",
                            "The study's raw dictionary: a form without its columns cannot be mapped."),
    "unmapped": rule("TK-MAP-0010", "warning", "Raw records not mapped by any domain spec",
                     "Row ledger (sdtm/ledger.json; trialkit/ledger.py): records of a form no spec maps, or excluded "
                     "by a filter, are listed."),
    "data": rule("TK-MAP-0011", "warning", "Other problem found while mapping",
                 "Any mapping finding without a more specific kind."),
    "implausible": rule("TK-MAP-0014", "warning", "Raw date is a real date but implausible",
                        "A birth date outside the study's plausible window (plausible_dates, trialkit/plausible.py; by "
                        "default 1900-01-01 to the data cut-off + 1 year), or after the reference start (a negative age): the "
                        "SDTM stage maps it and says so, as the validator's TK-SDTM-0130 / TK-SDTM-0131 do."),
}
LEDGER = rule("TK-MAP-0012", "error", "Row ledger does not reconcile",
              "Row ledger (sdtm/ledger.json; trialkit/ledger.py): rows read = rows landed in a dataset + rows "
              "rejected, per raw form.")


def mapping_findings(sdtm_dir: Path) -> list[ValidationFinding]:
    """TK-MAP findings from findings.json and ledger.json in ``sdtm_dir`` (absent files: nothing)."""
    out = []
    for name, convert in (("findings.json", _from_findings), ("ledger.json", _from_ledger)):
        path = Path(sdtm_dir) / name
        if not path.is_file():
            continue
        try:
            out += convert(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            out.append(ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name, f"{path.name}: not the file the SDTM stage writes ({type(exc).__name__}: {exc})"))
    return out


def _from_findings(items: list[dict]) -> list[ValidationFinding]:
    out = []
    for f in items:
        r = BY_KIND.get(f.get("kind") or "data", BY_KIND["data"])
        subject = f" (subject {f['subject']})" if f.get("subject") else ""
        record = f" (record {f['record']})" if f.get("record") else ""   # an ODM or XLSX record's locator
        key = f" [{f['key']}]" if f.get("key") else ""
        out.append(ValidationFinding(r.id, r.severity, f["source"], f"{f['message']}{subject}{record}{key}",
                                     variable=f.get("column"), row=f.get("row"), value=str(f.get("value") or "")))
    return out


def _from_ledger(ledger: dict) -> list[ValidationFinding]:
    out = []
    for counts in ledger.get("forms") or []:
        read, landed, rejected = counts["rows_in"], counts["landed"], counts["rejected"]
        if read != landed + rejected or counts.get("unaccounted"):
            out.append(ValidationFinding(LEDGER.id, LEDGER.severity, f"{counts['form']}.csv",
                                         f"{read} rows read, {landed} landed + {rejected} rejected, "
                                         f"{counts.get('unaccounted', 0)} unaccounted", value=str(read)))
    return out
