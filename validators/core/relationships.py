"""The relationship merges of Match Datasets, as the CORE engine makes them (its dataset preprocessor
and data processor), vectorized: one pandas merge per distinct IDVAR, null-key pattern or RELREC
pair kind, never a loop over records.

- :func:`pivot_supp`: a parent dataset gets its SUPP-- qualifiers as columns named by QNAM. With one
  IDVAR in the SUPP-- dataset, the qualifiers are grouped by every other SUPP-- column (QORIG and
  QEVAL included, so a parent record whose qualifiers differ in origin appears once per origin) and
  joined on STUDYID / USUBJID / APID / POOLID / SPDEVID (those both sides have) and IDVARVAL = the
  IDVAR variable (a blank IDVAR joins on the subject keys alone); with several IDVARs, one join per
  IDVAR, each qualifier the first non-null value per parent record. Numbers in the key compare as
  text without a trailing .0 (IDVARVAL "1" is AESEQ 1.0). Two values of one QNAM for one parent
  record fail the merge.
- :func:`attach_parents`: a child dataset (SUPP--, CO, RELREC) gets its parent record's variables.
  With IDVAR / IDVARVAL among the keys, each child record takes the first parent record (in file
  order) that matches its other keys (a key the child leaves null does not filter) and whose IDVAR
  variable equals IDVARVAL (as a number when the variable holds numbers); a child record with no
  IDVAR takes the first parent record matching its other keys. The parent's values win for the
  variables both have. Records of a CO / RELREC for other domains are kept as they are. Without
  IDVAR keys it is a left join on the keys.
- :func:`join_relrec`: each RELREC record of the evaluated domain is paired with the records of the
  same RELID; the evaluated records it names (IDVAR = IDVARVAL, or every record when IDVARVAL is
  blank, then matched on the IDVAR values themselves) are joined with the related domain's records
  on STUDYID and USUBJID, the related domain's columns named ``RELREC.<name>`` with its prefix
  replaced by the rule's wildcard where the SDTM model has the variable as a ``--`` class variable
  (``RELREC.**TERM``). Records RELREC does not relate drop out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from trialkit.validators.core.context import Context, MissingVariable, NotExecutable
from trialkit.validators.core.joins import MergeFailed, keyed_join, side_keys
from trialkit.validators.core.operators.relational import normalized_text
from trialkit.validators.core.study import Dataset
from trialkit.vectorize import per_unique, plain

STATIC_KEYS = ("STUDYID", "USUBJID", "APID", "POOLID", "SPDEVID")
QUALIFIER = ("QNAM", "QVAL", "QLABEL")
IDVARS = ("IDVAR", "IDVARVAL")
KEY, POS, PAIR = "@key", "@pos", "@pair"     # working columns, never SAS names


# -- key text -----------------------------------------------------------------------------------

def key_text(series: pd.Series) -> pd.Series:
    """CORE's normalized text of key values: a number, or text that reads as one, without a trailing
    .0 (``200.00`` and 200.0 are ``200``); other text stripped; every null is None, so that nulls
    never meet as NaN on one side and None on the other."""
    text = per_unique(series, lambda u: u.map(normalized_text)).astype(object)
    return text.where(text.notna(), None)


def holds_numbers(series: pd.Series) -> bool:
    """Whether a column holds numbers (a Num variable, with or without missing values)."""
    if series.dtype.kind in "iuf":
        return True
    values = series.dropna()
    return not values.empty and values.map(lambda v: isinstance(v, (int, float, np.number))
                                           and not isinstance(v, bool)).all()


# -- SUPP-- onto the parent ---------------------------------------------------------------------

def pivot_supp(left: pd.DataFrame, supp: pd.DataFrame) -> pd.DataFrame:
    """``left`` with the qualifiers of ``supp`` as columns named by QNAM (see the module doc)."""
    for name in ("QNAM", "QVAL", *IDVARS):
        if name not in supp.columns:
            raise MissingVariable(name)
    rows = supp[supp["QNAM"].notna()]
    qnams = list(dict.fromkeys(rows["QNAM"]))
    idvars = supp["IDVAR"].unique()
    if len(idvars) == 1:
        return _pivot_one_idvar(left, rows, idvars[0], qnams)
    return _pivot_by_idvar(left, rows, qnams)


def _pivot_one_idvar(left: pd.DataFrame, rows: pd.DataFrame, idvar: Any, qnams: list) -> pd.DataFrame:
    by = [c for c in rows.columns if c not in QUALIFIER and c not in qnams]
    groups = rows.groupby(by, dropna=False, sort=False).ngroup()
    if pd.DataFrame({"g": groups, "q": rows["QNAM"]}).duplicated().any():
        raise MergeFailed("several records of one QNAM in the SUPP-- dataset match one parent record")
    wide = _wide(rows, groups, by, first_of_others=False)
    common = [k for k in STATIC_KEYS if k in left.columns and k in wide.columns]
    if idvar is None or (isinstance(idvar, float) and math.isnan(idvar)) or not str(idvar).strip():
        keys, right = common, wide.drop(columns=list(IDVARS))
        if not keys:
            raise MergeFailed("the SUPP-- dataset shares no subject key with the parent dataset")
        out = left.merge(right, how="left", on=keys, suffixes=("", "_supp"))
    else:
        if idvar not in left.columns:
            raise MergeFailed(f"IDVAR {idvar} is not a variable of the parent dataset")
        keys = common + [KEY]
        numeric = holds_numbers(left[idvar])
        right = wide.drop(columns=list(IDVARS)).assign(**{KEY: _key(wide["IDVARVAL"], numeric)})
        out = left.assign(**{KEY: _key(left[idvar], numeric)}).merge(right, how="left", on=keys, suffixes=("", "_supp"))
    for qnam in qnams:
        _one_per_parent(out, qnam, keys)
    return out.drop(columns=[KEY], errors="ignore").reset_index(drop=True)


def _pivot_by_idvar(left: pd.DataFrame, rows: pd.DataFrame, qnams: list) -> pd.DataFrame:
    out = left
    for idvar in rows["IDVAR"].unique():            # one join per distinct IDVAR
        if not isinstance(idvar, str) or idvar not in out.columns:
            raise MergeFailed(f"IDVAR {idvar} is not a variable of the parent dataset")
        group = rows[rows["IDVAR"] == idvar].drop(columns=["IDVAR"]).rename(columns={"IDVARVAL": KEY})
        common = [k for k in STATIC_KEYS if k in out.columns and k in group.columns] + [KEY]
        numeric = holds_numbers(out[idvar])
        group[KEY] = _key(group[KEY], numeric)
        wide = _wide(group, group.groupby(common, dropna=False, sort=False).ngroup(), common, first_of_others=True)
        wide = wide.drop(columns=[c for c in wide.columns if c in out.columns and c not in common])
        out = out.assign(**{KEY: _key(out[idvar], numeric)}).merge(wide, how="left", on=common, suffixes=("", "_supp"))
        out = out.drop(columns=[KEY])
    for qnam in qnams:
        idvar = rows.loc[rows["QNAM"] == qnam, "IDVAR"].iloc[0]
        _one_per_parent(out, qnam, [k for k in STATIC_KEYS if k in out.columns] + [idvar])
    return out.reset_index(drop=True)


def _key(series: pd.Series, numeric: bool) -> pd.Series:
    return key_text(series) if numeric else series


def _wide(rows: pd.DataFrame, groups: pd.Series, by: list[str], first_of_others: bool) -> pd.DataFrame:
    """One row per group: its ``by`` values, a column per QNAM holding QVAL (the first non-null when
    the group has several) and, with ``first_of_others``, the first non-null of every other column."""
    g = groups.to_numpy()
    long = pd.DataFrame({"g": g, "QNAM": rows["QNAM"].to_numpy(), "QVAL": rows["QVAL"].to_numpy()})
    values = long.groupby(["g", "QNAM"], sort=False)["QVAL"].first().unstack("QNAM")
    first = ~pd.Series(g).duplicated().to_numpy()
    heads = rows.loc[first, by].set_axis(g[first])
    others = [c for c in rows.columns if c not in by and c not in QUALIFIER]
    if first_of_others and others:
        heads = heads.join(rows[others].groupby(g).first())
    elif others:
        heads = heads.join(rows.loc[first, others].set_axis(g[first]))
    values.columns = list(values.columns)
    return heads.join(values).reset_index(drop=True)


def _one_per_parent(frame: pd.DataFrame, qnam: str, keys: list[str]) -> None:
    if qnam not in frame.columns:
        return
    filled = frame[frame[qnam].notna()].dropna(subset=keys)
    if filled.duplicated(subset=keys).any():
        raise MergeFailed(f"several records with QNAM {qnam} match one parent record")


# -- child records get their parent record ---------------------------------------------------------

def attach_parents(frame: pd.DataFrame, parent: pd.DataFrame, child: Dataset, parent_domain: str,
                   keys: tuple) -> pd.DataFrame:
    """``frame`` (a child dataset's records) with the variables of their parent record in ``parent``
    (see the module doc)."""
    by_idvar = any(k in IDVARS for k in keys if isinstance(k, str))
    linked = child.is_supp or "RDOMAIN" in frame.columns
    if not (linked and by_idvar):
        return keyed_join(frame, parent, side_keys(keys, "Left", child.domain),
                          side_keys(keys, "Right", parent_domain), parent_domain, "left")
    if child.is_supp and child.rdomain or "RDOMAIN" not in frame.columns:
        children = frame
    else:
        children = frame[frame["RDOMAIN"] == parent_domain]
    if children.empty:
        return frame
    standard = tuple(k for k in keys if not (isinstance(k, str) and k in IDVARS))
    pairs = [(lk, rk) for lk, rk in zip(side_keys(standard, "Left", child.domain),
                                        side_keys(standard, "Right", parent_domain))
             if lk in children.columns and rk in parent.columns]
    parent = parent.reset_index(drop=True)
    found = _parent_positions(children, parent, parent_domain, pairs)
    merged = _overlay(children, parent, found)
    if child.is_supp:
        return merged.reset_index(drop=True)
    return pd.concat([frame.drop(index=children.index), merged], ignore_index=True)


def _parent_positions(children: pd.DataFrame, parent: pd.DataFrame, parent_domain: str,
                      pairs: list[tuple[str, str]]) -> pd.Series:
    """Per child record, the position of its parent record in ``parent`` (NaN: none)."""
    found = pd.Series(np.nan, index=children.index)
    idvar = children["IDVAR"] if "IDVAR" in children.columns else pd.Series(None, index=children.index, dtype=object)
    idvarval = children["IDVARVAL"] if "IDVARVAL" in children.columns else idvar
    by_id = (idvar.notna() & idvarval.notna()).to_numpy()
    filled = children[[lk for lk, _ in pairs]].notna().to_numpy()
    pattern = filled @ (1 << np.arange(len(pairs))) if pairs else np.zeros(len(children), dtype=int)
    candidates = parent.assign(**{POS: np.arange(len(parent))})
    for mask in np.unique(pattern):                   # one merge per pattern of null keys
        used = [p for i, p in enumerate(pairs) if mask >> i & 1]
        left_on, right_on = [lk for lk, _ in used], [rk for _, rk in used]
        plain_rows = children[(pattern == mask) & ~by_id]
        if len(plain_rows):
            first = candidates.drop_duplicates(subset=right_on) if right_on else candidates.head(1)
            found.update(_first_match(plain_rows, first, left_on, right_on))
        id_rows = children[(pattern == mask) & by_id]
        for name in id_rows["IDVAR"].unique() if len(id_rows) else ():   # one merge per distinct IDVAR
            column = next((c for c in (name, f"{name}.{parent_domain}", f"{parent_domain}.{name}")
                           if c in parent.columns), None)
            if column is None:
                continue
            rows = id_rows[id_rows["IDVAR"] == name]
            parent_key, child_key = _idvar_keys(parent[column], idvarval.loc[rows.index])
            keyed = candidates.assign(**{KEY: parent_key})[parent_key.notna()]
            keyed = keyed.drop_duplicates(subset=right_on + [KEY])
            found.update(_first_match(rows.assign(**{KEY: child_key}), keyed, left_on + [KEY], right_on + [KEY]))
    return found


def _first_match(rows: pd.DataFrame, candidates: pd.DataFrame, left_on: list[str], right_on: list[str]) -> pd.Series:
    """The candidate position each row matches (candidates hold one row per key)."""
    if not left_on:
        position = candidates[POS].iloc[0] if len(candidates) else np.nan
        return pd.Series(position, index=rows.index, dtype=float)
    left = rows[left_on].rename(columns=dict(zip(left_on, right_on))).reset_index(names="@index")
    matched = left.merge(candidates[right_on + [POS]], on=right_on, how="inner")
    return matched.set_index("@index")[POS].astype(float)


def _idvar_keys(column: pd.Series, idvarval: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Comparable keys for the parent's IDVAR variable and the children's IDVARVAL: numbers when the
    variable holds numbers (IDVARVAL read as a number), else text (IDVARVAL stripped)."""
    values = idvarval.map(lambda v: str(v).strip())
    if holds_numbers(column):
        return pd.to_numeric(column, errors="coerce"), pd.to_numeric(values, errors="coerce")
    return column.where(column.map(lambda v: isinstance(v, str))), values


def _overlay(children: pd.DataFrame, parent: pd.DataFrame, found: pd.Series) -> pd.DataFrame:
    """The children with their parent record's variables; the parent's value wins where both have
    the variable, the children's stay where no parent was found."""
    hit = found.notna()
    rows = parent.reindex(found.to_numpy()).set_axis(children.index)
    out = children.copy()
    for column in parent.columns:
        values = rows[column].astype(object).where(hit, None)
        out[column] = values.where(hit, out[column]) if column in out.columns else values
    return out


# -- RELREC ---------------------------------------------------------------------------------------

def join_relrec(frame: pd.DataFrame, relrec: pd.DataFrame, ctx: Context, wildcard: str) -> pd.DataFrame:
    """The evaluated records joined with the records RELREC relates them to (see the module doc)."""
    for name in ("STUDYID", "USUBJID", "RELID", "RDOMAIN", *IDVARS):
        if name not in relrec.columns:
            raise MergeFailed(f"RELREC has no {name}")
    domain = ctx.dataset.domain
    mine = relrec[relrec["RDOMAIN"] == domain]
    pairs = mine.merge(relrec[relrec["RDOMAIN"] != domain], on=["STUDYID", "USUBJID", "RELID"],
                       suffixes=("_LEFT", "_RIGHT"))
    pairs[PAIR] = np.arange(len(pairs))
    pairs["@by_value"] = pairs["IDVARVAL_LEFT"].map(bool) & pairs["IDVARVAL_RIGHT"].map(bool)
    parts = []
    kinds = ["RDOMAIN_RIGHT", "IDVAR_LEFT", "IDVAR_RIGHT", "@by_value"]
    for (rdomain, idvar_left, idvar_right, by_value), group in pairs.groupby(kinds, dropna=False, sort=False):
        related = next((d for d in ctx.study.datasets if d.domain == rdomain), None)
        if related is None:
            continue
        right = plain(related.frame)
        names = _relrec_names(right.columns, rdomain, wildcard, ctx)
        parts.append(_join_pair_kind(frame, right, names, group, idvar_left, idvar_right, bool(by_value)))
    if not parts:
        return frame.iloc[0:0]
    return pd.concat(parts, ignore_index=True)


def _relrec_names(columns: pd.Index, rdomain: str, wildcard: str, ctx: Context) -> dict[str, str]:
    """The related domain's columns as ``RELREC.<name>``, its prefix replaced by the wildcard in the
    variables the model has as ``--`` class variables."""
    model = ctx.library.model_prefixed_variables()
    if model is None:
        raise NotExecutable("a RELREC match needs the SDTM model's class variables, which trialkit does not hold")
    return {c: "RELREC." + (c.replace(rdomain, wildcard, 1)
                            if c.startswith(rdomain) and c.replace(rdomain, "--", 1) in model else c)
            for c in columns}


def _join_pair_kind(left: pd.DataFrame, right: pd.DataFrame, names: dict[str, str], pairs: pd.DataFrame,
                    idvar_left: str, idvar_right: str, by_value: bool) -> pd.DataFrame:
    """For pairs of one kind: each pair's left records joined with its right records on STUDYID and
    USUBJID (and, without IDVARVAL, on the IDVAR values as text)."""
    for name, side in ((idvar_left, left), (idvar_right, right)):
        if name not in side.columns:
            raise MergeFailed(f"RELREC names {name}, which the dataset does not have")
    left_filters = [("USUBJID", "USUBJID")] + ([(idvar_left, "IDVARVAL_LEFT")] if by_value else [])
    right_filters = [("USUBJID", "USUBJID")] + ([(idvar_right, "IDVARVAL_RIGHT")] if by_value else [])
    left_rows = _pair_rows(left, pairs, left_filters)
    right_rows = _pair_rows(right, pairs, right_filters)
    on_left, on_right = [PAIR, "STUDYID", "USUBJID"], [PAIR, names["STUDYID"], names["USUBJID"]]
    if not by_value:
        left_rows[KEY] = left_rows[idvar_left].astype(str)
        right_rows[KEY] = right_rows[idvar_right].astype(str)
        on_left, on_right = on_left + [KEY], on_right + [KEY]
    right_rows = right_rows.rename(columns=names)
    joined = left_rows.merge(right_rows, left_on=on_left, right_on=on_right, suffixes=("", ".RELREC"))
    return joined.drop(columns=[PAIR, KEY], errors="ignore")


def _pair_rows(data: pd.DataFrame, pairs: pd.DataFrame, filters: list[tuple[str, str]]) -> pd.DataFrame:
    """The records of ``data`` each pair selects, tagged with the pair: a filter (a column of
    ``data``, a column of the pair) selects records whose value equals the pair's, compared as
    CORE does (both read as numbers when the whole column reads so); a pair with a blank, zero or
    missing value does not filter on it."""
    for column, _ in filters:
        if column not in data.columns:
            raise MissingVariable(column)
    texts = {column: _filter_text(data[column]) for column, _ in filters}
    active = np.column_stack([pairs[p].map(_filters).to_numpy(dtype=bool) for _, p in filters])
    pattern = active @ (1 << np.arange(len(filters)))
    out = []
    for mask in np.unique(pattern):
        used = [f for i, f in enumerate(filters) if mask >> i & 1]
        chosen = pairs.loc[pattern == mask, [PAIR] + [p for _, p in used]]
        chosen = chosen.assign(**{f"@{i}": chosen[p].map(_filter_value) for i, (_, p) in enumerate(used)})
        tagged = data.assign(**{f"@{i}": texts[c] for i, (c, _) in enumerate(used)})
        keys = [f"@{i}" for i in range(len(used))]
        selected = chosen[[PAIR] + keys].merge(tagged, on=keys, how="inner") if keys else \
            chosen[[PAIR]].merge(tagged, how="cross")
        out.append(selected.drop(columns=keys))
    return pd.concat(out, ignore_index=True) if out else data.iloc[0:0].assign(**{PAIR: []})


def _filter_value(value: Any) -> str:
    try:
        return str(float(value))
    except (TypeError, ValueError):
        return str(value)


def _filters(value: Any) -> bool:
    try:
        value = float(value)
    except (TypeError, ValueError):
        pass
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


def _filter_text(column: pd.Series) -> pd.Series:
    try:
        return column.astype(float).astype(str)
    except (TypeError, ValueError):
        return column.astype(str)
