"""Cross-dataset consistency (TK-XDS): study days, start/end order, records after death, trial
design references, exposure window, ADSL against DM/EX and ADTTE keys.

Every check is vectorized pandas over whole columns; Python loops only build the findings of the
flagged records. Dates are compared as ISO 8601 text at the precision both values complete (a
partial date is never imputed), so "2019-03" vs "2019-03-15" compares at YYYY-MM only.
SDTM frames hold --DTC as text (XPT) and numbers as floats (XPT) or text (CSV); both are accepted,
text as object or category columns (``_text`` makes every value plain trimmed text first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.display import plain_values, show_values
from trialkit.plausible import later
from trialkit.validators.rules import Rule, ValidationFinding, rule
from trialkit.validators.schema_findings import positional
from trialkit.vectorize import per_unique

STUDY_DAY = rule("TK-XDS-0001", "error", "--DY / --STDY / --ENDY inconsistent with --DTC and DM.RFSTDTC",
                 "SDTMIG 3.4 section 4.4.4 (Use of the Study Day variables): --DY = (date - RFSTDTC) + 1 when the "
                 "date is on or after RFSTDTC, (date - RFSTDTC) when before; there is no day 0. Checked only when "
                 "both the --DTC and RFSTDTC are complete dates.")
START_AFTER_END = rule("TK-XDS-0002", "error", "--STDTC is after --ENDTC",
                       "SDTMIG 3.4 section 4.4.1/4.4.8 (Date and time reporting; start and end): the end of an "
                       "observation cannot precede its start. Compared at the precision both values complete "
                       "(YYYY, YYYY-MM or YYYY-MM-DD); partial dates are not imputed.")
AFTER_DEATH = rule("TK-XDS-0003", "warning", "Record dated after the subject's death (DM.DTHDTC)",
                   "SDTMIG 3.4 section 5.2 (DM: DTHDTC) and 4.4: no observation can start after death: --STDTC of "
                   "events and interventions, --DTC of findings (in events and interventions --DTC is the date of "
                   "collection, which may follow death). DS and SS "
                   "(which record the death and status) and DD (death details) are exempt, as are the special-"
                   "purpose DM/SE/SV/CO; compared at the common complete precision.")
DESIGN_REF = rule("TK-XDS-0004", "error", "ARMCD / VISITNUM not defined in the trial design (TA / TV)",
                  "SDTMIG 3.4 section 7.2.1 (TA) and 7.3.1 (TV): DM.ARMCD must be an arm of TA (null ARMCD with "
                  "ARMNRS is allowed, section 5.2); a planned (integer) VISITNUM must be a visit of TV "
                  "(section 4.4.5: unplanned visits get non-integer VISITNUMs and are not in TV).")
OUTSIDE_EXPOSURE = rule("TK-XDS-0005", "error", "EX record outside DM.RFXSTDTC..RFXENDTC",
                        "SDTMIG 3.4 section 5.2 (DM: RFXSTDTC is the first, RFXENDTC the last study treatment "
                        "exposure, as in EX): every EXSTDTC/EXENDTC date must lie within them (date part).",
                        scope=("EX",))
ADSL_MISMATCH = rule("TK-XDS-0006", "error", "ADSL inconsistent with DM / EX (subjects, SAFFL)",
                     "ADaMIG 1.3 section 3.2 (ADSL: one record per subject; SAFFL) and the study's safety "
                     "population definition (any study treatment received, i.e. an EX record): SAFFL = Y exactly "
                     "for subjects with an EX record; every ADSL subject is in DM, and every DM subject assigned to "
                     "an arm of TA is in ADSL (screen failures and subjects never assigned need not be; a DM "
                     "subject without an ADSL record is reported on its DM record).",
                     scope=("ADSL", "DM"))
TTE_DUPLICATE = rule("TK-XDS-0007", "error", "ADTTE has more than one record per USUBJID x PARAMCD",
                     "ADaMIG 1.3 / ADaM BDS for TTE 1.0 section 2: one record per subject per time-to-event "
                     "parameter (no AVISIT or other timing distinguishes records).", scope=("ADTTE",))

EXEMPT_DEATH = {"DM", "DS", "SS", "DD", "SE", "SV", "CO"}
# ---- helpers -----------------------------------------------------------------------------------
def _text(s: pd.Series) -> pd.Series:
    """Trimmed text, '' for missing; computed once per distinct value (columns repeat few values)."""
    return per_unique(s, lambda u: u.astype("string").fillna("").str.strip())


def _date(s: pd.Series) -> pd.Series:
    """The complete date (YYYY-MM-DD) of ISO 8601 text; NaT when partial or missing."""
    def parse(u: pd.Series) -> pd.Series:
        part = u.str.extract(r"^(\d{4}-\d{2}-\d{2})", expand=False)
        return pd.to_datetime(part, format="%Y-%m-%d", errors="coerce")
    return per_unique(_text(s).astype(object), parse)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _domain(name: str, frame: pd.DataFrame) -> str:
    if "DOMAIN" in frame:
        values = [str(v).strip() for v in pd.unique(frame["DOMAIN"].dropna())]
        values = [v for v in values if v]
        if values:
            return values[0]
    return name[:2]


def _subject_frames(sdtm: dict[str, pd.DataFrame]):
    """(name, domain, frame) of subject-level SDTM datasets (not SUPP--/RELREC, not trial design)."""
    for name in sorted(sdtm):
        key = name.upper()
        frame = sdtm[name]
        if key.startswith("SUPP") or key == "RELREC" or "USUBJID" not in frame:
            continue
        yield key, _domain(key, frame), positional(frame)


def _dm(sdtm: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    dm = next((f for n, f in sdtm.items() if n.upper() == "DM"), None)
    if dm is None or "USUBJID" not in dm:
        return None
    ids = _text(dm["USUBJID"])
    keep = ~ids.duplicated()
    return dm.loc[keep].set_axis(ids[keep].to_numpy())


def _emit(r: Rule, name: str, frame: pd.DataFrame, mask: pd.Series, variable: str | None, messages,
          values: pd.Series | None = None, seq: str | None = None) -> list[ValidationFinding]:
    """Findings for the flagged rows only (the checks themselves are vectorized)."""
    rows = np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool))
    if not len(rows):
        return []
    msgs = messages if isinstance(messages, pd.Series) else pd.Series(messages, index=frame.index)
    vals = plain_values(values if values is not None else frame[variable], variable) \
        if values is not None or variable in frame else None
    uid = _text(frame["USUBJID"]) if "USUBJID" in frame else None
    seqs = _num(frame[seq]) if seq and seq in frame else None
    out = []
    for k in rows:
        s = None if seqs is None or pd.isna(seqs.iat[k]) else float(seqs.iat[k])
        u = None if uid is None or uid.iat[k] == "" else str(uid.iat[k])
        out.append(ValidationFinding(r.id, r.severity, name, str(msgs.iat[k]), variable, u, s, int(k) + 1,
                                     "" if vals is None else str(vals.iat[k])))
    return out


# ---- SDTM rules --------------------------------------------------------------------------------
def check_study_days(sdtm: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    dm = _dm(sdtm)
    if dm is None or "RFSTDTC" not in dm:
        return []
    rfst = _date(dm["RFSTDTC"])
    out = []
    for name, domain, frame in _subject_frames(sdtm):
        ref = _text(frame["USUBJID"]).map(rfst)
        for dy in [c for c in frame.columns if c.endswith("DY") and c[:-2] + "DTC" in frame]:
            dtc = dy[:-2] + "DTC"
            date, value = _date(frame[dtc]), _num(frame[dy])
            days = (date - ref).dt.days
            expected = days.where(days < 0, days + 1)
            bad = value.notna() & expected.notna() & (value != expected)
            msg = (f"{dy} " + show_values(value) + f" but {dtc} " + _text(frame[dtc]) + " and RFSTDTC "
                   + ref.dt.strftime("%Y-%m-%d").fillna("") + " give " + show_values(expected))
            out += _emit(STUDY_DAY, name, frame, bad, dy, msg, seq=f"{domain}SEQ")
    return out


def check_start_end(sdtm: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    out = []
    for name, domain, frame in _subject_frames(sdtm):
        for st in [c for c in frame.columns if c.endswith("STDTC") and c[:-5] + "ENDTC" in frame]:
            en = st[:-5] + "ENDTC"
            bad = later(frame[st], frame[en])
            msg = f"{st} " + _text(frame[st]) + f" is after {en} " + _text(frame[en])
            out += _emit(START_AFTER_END, name, frame, bad, st, msg, seq=f"{domain}SEQ")
    return out


def check_after_death(sdtm: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    dm = _dm(sdtm)
    if dm is None or "DTHDTC" not in dm:
        return []
    death = _text(dm["DTHDTC"])
    out = []
    for name, domain, frame in _subject_frames(sdtm):
        if domain in EXEMPT_DEATH or name in EXEMPT_DEATH:
            continue
        dth = _text(frame["USUBJID"]).map(death).fillna("")
        col = f"{domain}STDTC" if f"{domain}STDTC" in frame else f"{domain}DTC"
        if col in frame:
            bad = later(frame[col], dth)
            out += _emit(AFTER_DEATH, name, frame, bad, col,
                         f"{col} " + _text(frame[col]) + " is after DM.DTHDTC " + dth, seq=f"{domain}SEQ")
    return out


def check_design_refs(sdtm: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    named = {n.upper(): f for n, f in sdtm.items()}
    out = []
    ta, dm = named.get("TA"), named.get("DM")
    if ta is not None and dm is not None and "ARMCD" in ta and "ARMCD" in dm:
        dm = positional(dm)
        arms = set(_text(ta["ARMCD"])) - {""}
        armcd = _text(dm["ARMCD"])
        bad = (armcd != "") & ~armcd.isin(arms)
        out += _emit(DESIGN_REF, "DM", dm, bad, "ARMCD", "ARMCD " + armcd + " is not an ARMCD of TA")
    tv = named.get("TV")
    if tv is not None and "VISITNUM" in tv:
        visits = set(_num(tv["VISITNUM"]).dropna())
        for name, domain, frame in _subject_frames(sdtm):
            if "VISITNUM" not in frame:
                continue
            v = _num(frame["VISITNUM"])
            bad = v.notna() & (v % 1 == 0) & ~v.isin(visits)
            out += _emit(DESIGN_REF, name, frame, bad, "VISITNUM",
                         "planned VISITNUM " + plain_values(v) + " is not a VISITNUM of TV", seq=f"{domain}SEQ")
    return out


def check_exposure_window(sdtm: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    dm = _dm(sdtm)
    if dm is None or not {"RFXSTDTC", "RFXENDTC"} <= set(dm.columns):
        return []
    first, last = _date(dm["RFXSTDTC"]), _date(dm["RFXENDTC"])
    out = []
    for name, domain, frame in _subject_frames(sdtm):
        if domain != "EX":
            continue
        uid = _text(frame["USUBJID"])
        lo, hi = uid.map(first), uid.map(last)
        for col in ("EXSTDTC", "EXENDTC"):
            if col not in frame:
                continue
            d = _date(frame[col])
            before, after = d.notna() & lo.notna() & (d < lo), d.notna() & hi.notna() & (d > hi)
            msg = (f"{col} " + _text(frame[col]) + " outside RFXSTDTC..RFXENDTC " + lo.dt.strftime("%Y-%m-%d").fillna("?")
                   + ".." + hi.dt.strftime("%Y-%m-%d").fillna("?"))
            out += _emit(OUTSIDE_EXPOSURE, name, frame, before | after, col, msg, seq="EXSEQ")
    return out


# ---- ADaM rules --------------------------------------------------------------------------------
def check_adsl(sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    adsl = adam.get("ADSL")
    if adsl is None or "USUBJID" not in adsl:
        return []
    adsl = positional(adsl)
    uid = _text(adsl["USUBJID"])
    out = []
    named = {n.upper(): f for n, f in sdtm.items()}
    dm = named.get("DM")
    if dm is not None and "USUBJID" in dm:
        dm = positional(dm)
        dm_ids = _text(dm["USUBJID"])
        out += _emit(ADSL_MISMATCH, "ADSL", adsl, ~uid.isin(set(dm_ids)), "USUBJID", "USUBJID not in DM")
        assigned = _text(dm["ARMCD"]) != "" if "ARMCD" in dm else pd.Series(True, index=dm.index)
        ta = named.get("TA")
        if ta is not None and "ARMCD" in ta and "ARMCD" in dm:
            assigned &= _text(dm["ARMCD"]).isin(set(_text(ta["ARMCD"])))
        out += _emit(ADSL_MISMATCH, "DM", dm, (dm_ids != "") & assigned & ~dm_ids.isin(set(uid)), "USUBJID",
                     "DM subject assigned to an arm has no ADSL record")
    ex = named.get("EX")
    if ex is not None and "USUBJID" in ex and "SAFFL" in adsl:
        exposed = uid.isin(set(_text(ex["USUBJID"])))
        saffl = _text(adsl["SAFFL"])
        bad = (saffl == "Y") != exposed
        msg = pd.Series(np.where(exposed, "subject has EX records but SAFFL is not Y",
                                 "SAFFL = Y but the subject has no EX record"), index=adsl.index)
        out += _emit(ADSL_MISMATCH, "ADSL", adsl, bad, "SAFFL", msg)
    return out


def check_adtte_keys(adam: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    adtte = adam.get("ADTTE")
    if adtte is None or not {"USUBJID", "PARAMCD"} <= set(adtte.columns):
        return []
    adtte = positional(adtte)
    dup = adtte.duplicated(["USUBJID", "PARAMCD"], keep=False)
    return _emit(TTE_DUPLICATE, "ADTTE", adtte, dup, "PARAMCD",
                 "more than one record for " + _text(adtte["USUBJID"]) + " / " + _text(adtte["PARAMCD"]))


def check_cross(sdtm: dict[str, pd.DataFrame], adam: dict[str, pd.DataFrame] | None = None) -> list[ValidationFinding]:
    """Every TK-XDS finding. ``adam``: ADaM frames (name -> frame, *DT as dates) or empty."""
    sdtm = {n.upper(): f for n, f in sdtm.items()}
    adam = {n.upper(): f for n, f in (adam or {}).items()}
    return (check_study_days(sdtm) + check_start_end(sdtm) + check_after_death(sdtm) + check_design_refs(sdtm)
            + check_exposure_window(sdtm) + check_adsl(sdtm, adam) + check_adtte_keys(adam))
