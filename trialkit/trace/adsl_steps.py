"""ADSL variables back to the SDTM records they were derived from, through the steps of ADSL.yaml.

ADSL carries no SRCDOM/SRCSEQ: each variable is made by one step of the study's ADSL.yaml
(trialkit.adam.steps), which reads DM (``from_dm``), one record per subject of another SDTM dataset
(``merged``), a trial-level record (``constant``: TS), or other ADSL variables (``dates``,
``condition``, ``flag``...). A variable is followed through the steps that made it, down to the
SDTM records at the bottom. Which record a ``merged`` step took for a subject is answered by the
derivation itself: the step runs again (trialkit.adam.derive.derive_vars_merged, with its filter,
order and mode) over the traced subjects only, carrying each SDTM record's number instead of its
values; so the answer cannot drift from what the ADaM stage did.
"""

from __future__ import annotations

from functools import cache, cached_property

import pandas as pd

from trialkit.adam.derive import derive_vars_merged
from trialkit.adam.steps import check_steps, step_outputs
from trialkit.display import plain
from trialkit.expressions import parse
from trialkit.trace.model import Derivation, SdtmRef
from trialkit.trace.run_folder import RunFolder


@cache
def _fields(expression: str) -> list[str]:
    """The variables a spec expression reads (parsed once: every subject's trace asks again)."""
    return sorted(parse(expression).fields)


def _inputs(kind: str, body: dict, variable: str) -> list[str]:
    """The ADSL variables a step read to make ``variable`` (for the kinds that read ADSL itself)."""
    rule = body.get(variable)
    if kind == "dates":
        rule = rule if rule is not None else body[variable[:-1]]      # NEWDTF: the flag of date NEWDT
        if isinstance(rule, dict):
            return [rule["dtc"], *(rule.get("min_dates") or []), *(rule.get("max_dates") or [])]
        return [rule]
    if kind == "study_day":
        return [rule["date"], rule["reference"]]
    if kind == "offset":
        return [rule["from"], *([rule["otherwise"]["from"]] if "otherwise" in rule else [])]
    if kind == "interval":
        return [rule["from"], rule["to"]]
    if kind == "latest":
        return list(rule)
    if kind == "condition":
        names = []
        for case in rule["cases"]:
            names += _fields(case["if"])
            if isinstance(case["then"], dict):
                names.append(case["then"]["assign"])
        return list(dict.fromkeys(names))
    if kind == "flag":
        return _fields(rule)
    return []


class AdslSteps:
    """The steps of a run's ADSL.yaml, ready to explain any ADSL variable of any subject."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run
        spec = run.adam_spec("ADSL")
        self.path = spec.get("_path")
        self.known = bool(spec.get("steps") or spec.get("from_dm"))
        self.from_dm = set(spec.get("from_dm") or [])
        self.creator: dict[str, tuple[str, dict, str]] = {}
        for step in check_steps(spec.get("steps") or [], self.path) if self.known else []:
            for variable in step_outputs([step]):
                self.creator.setdefault(variable, step)
        self._merged: dict[str, dict[str, int] | list[int]] = {}     # per step: the records it read

    @cached_property
    def _dm_records(self) -> dict[str, int]:
        """USUBJID -> its DM record number (DM holds one record per subject)."""
        dm = self.run.dataset("sdtm", "DM")
        return {} if dm is None else dict(zip(dm["USUBJID"].astype(str), dm["_record"].astype(int)))

    def _merged_records(self, key: str, body: dict, subjects: list[str]) -> dict[str, int] | None:
        """USUBJID -> the record number of ``body['dataset']`` the merged step took, for ``subjects``."""
        if key not in self._merged:
            add = self.run.dataset("sdtm", body["dataset"])
            if add is None:
                return None
            base = pd.DataFrame({"USUBJID": pd.Series(subjects, dtype=object)})
            merged = derive_vars_merged(base, add, ["USUBJID"], new_vars={"_TRREC": "_record"}, filter_add=body.get("filter"),
                                        order=body.get("order"), mode=body.get("mode"), dataset_name="ADSL",
                                        add_name=body["dataset"])
            found = merged.dropna(subset=["_TRREC"])
            self._merged[key] = dict(zip(found["USUBJID"].astype(str), found["_TRREC"].astype(int)))
        return self._merged[key]

    def _constant_records(self, key: str, c: dict, frame: pd.DataFrame) -> list[int]:
        """The trial-level records a constant step reads (the same for every subject: found once)."""
        if f"constant:{key}:{c['variable']}" not in self._merged:
            rows = frame[parse(c["filter"]).evaluate(frame).to_numpy()] if c.get("filter") else frame
            self._merged[f"constant:{key}:{c['variable']}"] = [int(r) for r in rows["_record"]]
        return self._merged[f"constant:{key}:{c['variable']}"]

    def explain(self, adsl_row: pd.Series | None, usubjid: str, variable: str, subjects: list[str]) -> Derivation:
        """How ``variable`` of subject ``usubjid`` was derived (``subjects``: every subject traced in
        this call, so that each merged step runs once for all of them)."""
        value = plain(adsl_row[variable], variable) if adsl_row is not None and variable in adsl_row.index else ""
        out = Derivation(variable, value)
        if not self.known:
            # one sentence for every variable, so that "where the chain stops" says it once, not per variable
            out.stops.append(f"no ADSL spec for study {self.run.study or 'unknown (the run has no manifest.json)'}: how "
                             "the ADSL variables were derived is not known")
            return out
        self._follow(usubjid, variable, subjects, out, set())
        return out

    def _follow(self, usubjid: str, variable: str, subjects: list[str], out: Derivation, seen: set[str]) -> None:
        if variable in seen:
            return
        seen.add(variable)
        step = self.creator.get(variable)
        if step is None and variable in self.from_dm:
            out.steps.append(f"{self.path.name}:from_dm: {variable} = DM.{variable}")
            if usubjid in self._dm_records:
                out.sources.append(SdtmRef("DM", self._dm_records[usubjid], variable))
            else:
                out.stops.append(f"no DM record of {usubjid} in {self.run.sdtm_dir}: the chain stops at ADSL.{variable}")
            return
        if step is None:
            out.stops.append(f"{self.path.name} makes no {variable} (neither from_dm nor a step): the chain stops at ADSL.{variable}")
            return
        kind, body, key = step
        if kind == "merged":
            self._follow_merged(usubjid, variable, subjects, body, key, out)
        elif kind == "constant":
            c = body[variable]
            ts = self.run.dataset("sdtm", c["dataset"])
            where = f" where {c['filter']}" if c.get("filter") else ""
            out.steps.append(f"{key} constant: {variable} = {c['dataset']}.{c['variable']}{where}")
            if ts is None:
                out.stops.append(f"SDTM dataset {c['dataset']} is not in {self.run.sdtm_dir}: the chain stops at ADSL.{variable}")
                return
            out.sources += [SdtmRef(c["dataset"], r, c["variable"]) for r in self._constant_records(key, c, ts)]
        else:
            inputs = _inputs(kind, body, variable)
            out.steps.append(f"{key} {kind}: {variable} from {', '.join(inputs)}")
            for name in inputs:
                self._follow(usubjid, name, subjects, out, seen)

    def _follow_merged(self, usubjid: str, variable: str, subjects: list[str], body: dict, key: str, out: Derivation) -> None:
        dataset = body["dataset"]
        source = (body.get("new_vars") or {}).get(variable)
        what = f"{dataset}.{source}" if source else f"Y where the subject has a {dataset} record"
        where = f" where {body['filter']}" if body.get("filter") else ""
        order = f", the {body['mode']} by {', '.join(body['order'])}" if body.get("mode") and body.get("order") else ""
        out.steps.append(f"{key} merged: {variable} = {what}{where}{order}")
        records = self._merged_records(key, body, subjects)
        if records is None:
            out.stops.append(f"SDTM dataset {dataset} is not in {self.run.sdtm_dir}: the chain stops at ADSL.{variable}")
        elif usubjid in records:
            out.sources.append(SdtmRef(dataset, records[usubjid], source or ""))
        else:
            out.steps.append(f"no {dataset} record of {usubjid} qualifies: ADSL.{variable} is empty" if source
                             else f"no {dataset} record of {usubjid} qualifies: ADSL.{variable} is N")
