"""A study's table and figure shells (specs/studies/<study>/tlf/report.yaml), loaded and checked.

Everything a shell says is checked before any number is computed, so a typo never reaches a
half-written report: the table or figure type, the keys each type takes, the populations it names,
and every filter, which is parsed by the spec expression grammar (trialkit.expressions: a spec
never runs code). Each error is a SpecError naming the file and the key (``tables[3].rows[1].where``).

Besides the shells, a report spec says how the data cut-off applies (``cutoff``, one rule for every
output: reports.cutoff) and which counts of two outputs must agree (``consistency``, checked after
every table is built: reports.consistency).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from trialkit.errors import SpecError
from trialkit.expressions import Expression, parse
from trialkit.spec import load_yaml, study_dir

# table / figure type -> (required keys, optional keys) besides id, type, title, population, footnotes
TYPES = {
    "outcomes_by_subgroup": ({"subgroups"}, {"hazard_ratios", "response", "ties"}),
    "tte_summary": ({"parameters"}, {"strata", "landmark", "event_labels", "ties"}),
    "characteristics": ({"rows"}, set()),
    "counts": ({"rows"}, set()),
    "subject_counts": ({"rows", "dataset"}, {"records"}),
    "ae_by_term": ({"dataset", "soc", "term"}, {"records", "high_grade"}),
    "km": ({"parameters"}, {"strata", "landmark"}),
    "forest": ({"paramcd", "subgroups"}, set()),
}
COMMON = {"id", "type", "title", "population", "footnotes"}
# keys whose values are expressions, wherever they appear in a shell
EXPRESSION_KEYS = {"where", "records", "success", "evaluable", "high_grade"}


@dataclass(frozen=True)
class Arm:
    variable: str
    levels: dict[str, str]          # ADSL value (as text; 1.0 -> "1") -> arm label


@dataclass(frozen=True)
class Population:
    name: str
    where: Expression
    label: str
    arm: Arm


@dataclass(frozen=True)
class Shell:
    """One table or figure: its type and the body of its YAML entry (keys checked, filters parsed)."""
    id: str
    type: str
    title: str
    population: Population
    body: dict
    footnotes: tuple[str, ...]
    key: str                        # tables[i] / figures[i], for messages


@dataclass(frozen=True)
class DatedValue:
    """An ADSL value that holds from a date on (DTHFL from DTHDT): with the date after the cut-off,
    the report reads the value it had before (``before``, e.g. "N")."""
    variable: str
    date: str
    before: str


@dataclass(frozen=True)
class Cutoff:
    date: str                                 # the ADSL variable holding the data cut-off date
    subject_values: tuple[DatedValue, ...]    # ADSL
    records: dict[str, str]                   # other datasets: dataset -> the date of a record


@dataclass(frozen=True)
class CountRef:
    """The subjects one side of a consistency check counts: a row of a table (``row``: its label, after
    as many labels of the rows it sits under as make it unique, "Overall survival / Subjects with an
    event"), a table's population (its N; no ``row``), or the records of a dataset (``dataset`` with
    an optional ``where``), whatever the population."""
    table: str = ""
    row: str = ""
    dataset: str = ""
    where: Expression | None = None

    def __str__(self) -> str:
        if self.dataset:
            return f"{self.dataset}" + (f" ({self.where.text})" if self.where else "")
        return f"{self.table} '{self.row}'" if self.row else f"{self.table} population"


@dataclass(frozen=True)
class ConsistencyCheck:
    name: str
    relation: str                   # "same": the same subjects; "within": every subject of the first is in the second
    first: CountRef
    second: CountRef
    key: str                        # consistency[i], for messages


@dataclass(frozen=True)
class ReportSpec:
    path: Path
    title: str
    arms: tuple[str, ...]           # arm labels in column order
    reference: str
    short: dict[str, str]           # arm label -> short label for narrow headers (default: the label)
    months: float
    percent_decimals: int           # decimals of the percentages in n (%) cells
    tables: tuple[Shell, ...]
    figures: tuple[Shell, ...]
    cutoff: Cutoff
    consistency: tuple[ConsistencyCheck, ...] = ()

    @cached_property
    def watched_rows(self) -> dict[str, tuple[str, ...]]:
        """Table id -> the rows of it that consistency checks name: the rows whose subjects the table
        builders keep."""
        out: dict[str, tuple[str, ...]] = {}
        for ref in (ref for check in self.consistency for ref in (check.first, check.second) if ref.row):
            out[ref.table] = tuple(dict.fromkeys((*out.get(ref.table, ()), ref.row)))
        return out


def value_key(value) -> str:
    """An ADSL value as the text a spec writes: 1.0 (an XPT number) -> '1', ' M ' -> 'M'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def load_report_spec(study: str | Path) -> ReportSpec:
    path = study_dir(study) / "tlf" / "report.yaml"
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise SpecError("a report spec is a mapping", file=str(path))
    unknown = set(data) - {"title", "arms", "populations", "months", "percent_decimals", "tables", "figures", "cutoff",
                           "consistency"}
    if unknown:
        raise SpecError(f"unknown key(s) {sorted(unknown)}", file=str(path), key=min(unknown))
    arms = data.get("arms") or {}
    levels = [str(a) for a in arms.get("levels") or []]
    if len(levels) != 2 or arms.get("reference") not in levels:
        raise SpecError("arms: two levels (column order) and the reference, one of them", file=str(path), key="arms")
    populations = {name: _population(path, name, body, levels) for name, body in (data.get("populations") or {}).items()}
    shells = {}
    for section in ("tables", "figures"):
        shells[section] = tuple(_shell(path, f"{section}[{i}]", entry, populations)
                                for i, entry in enumerate(data.get(section) or []))
    ids = [s.id for group in shells.values() for s in group]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise SpecError(f"ids are file names and anchors: {duplicated} used twice", file=str(path), key="tables")
    short = {a: str((arms.get("short") or {}).get(a, a)) for a in levels}
    table_ids = {s.id for s in shells["tables"]}
    checks = tuple(_check(path, f"consistency[{i}]", entry, table_ids) for i, entry in enumerate(data.get("consistency") or []))
    return ReportSpec(path, str(data.get("title") or ""), tuple(levels), str(arms["reference"]), short,
                      float(data.get("months", 30.4375)), int(data.get("percent_decimals", 0)), shells["tables"],
                      shells["figures"], _cutoff(path, data.get("cutoff")), checks)


def _cutoff(path: Path, body) -> Cutoff:
    """``cutoff: {date: DCUTDT, adsl: {DTHFL: {date: DTHDT, before: N}, ...}, records: {ADAE: ASTDT}}``:
    required, since every output applies it and says so."""
    shape = "cutoff: {date: ADSL variable, adsl: {VARIABLE: {date: DATE, before: VALUE}}, records: {DATASET: DATE}}"
    if not isinstance(body, dict) or set(body) - {"date", "adsl", "records"} or not body.get("date"):
        raise SpecError(shape, file=str(path), key="cutoff")
    values = []
    for variable, rule in (body.get("adsl") or {}).items():
        if not isinstance(rule, dict) or set(rule) != {"date", "before"}:
            raise SpecError(shape, file=str(path), key=f"cutoff.adsl.{variable}")
        values.append(DatedValue(str(variable), str(rule["date"]), "" if rule["before"] is None else str(rule["before"])))
    records = body.get("records") or {}
    if not isinstance(records, dict) or "ADSL" in records:
        raise SpecError("records: {DATASET: DATE} for datasets other than ADSL", file=str(path), key="cutoff.records")
    return Cutoff(str(body["date"]), tuple(values), {str(k): str(v) for k, v in records.items()})


def _check(path: Path, key: str, entry, table_ids: set[str]) -> ConsistencyCheck:
    """``{check: text, same|within: [ref, ref]}``; each ref names a table of this spec."""
    relations = [r for r in ("same", "within") if isinstance(entry, dict) and r in entry]
    if (not isinstance(entry, dict) or len(relations) != 1 or set(entry) != {"check", relations[0]}
            or not isinstance(entry[relations[0]], list) or len(entry[relations[0]]) != 2):
        raise SpecError("a consistency check is {check: what must agree, same or within: [two counts]}", file=str(path), key=key)
    relation = relations[0]
    refs = [_count_ref(path, f"{key}.{relation}[{i}]", ref, table_ids) for i, ref in enumerate(entry[relation])]
    return ConsistencyCheck(str(entry["check"]), relation, refs[0], refs[1], key)


def _count_ref(path: Path, key: str, ref, table_ids: set[str]) -> CountRef:
    if isinstance(ref, dict) and set(ref) <= {"table", "row"} and "table" in ref:
        if ref["table"] not in table_ids:
            raise SpecError(f"no table {ref['table']!r} (tables: {', '.join(sorted(table_ids))})", file=str(path),
                            key=f"{key}.table")
        return CountRef(table=str(ref["table"]), row=str(ref.get("row") or ""))
    if isinstance(ref, dict) and set(ref) <= {"dataset", "where"} and "dataset" in ref:
        where = parse(ref["where"], file=str(path), key=f"{key}.where") if ref.get("where") else None
        return CountRef(dataset=str(ref["dataset"]), where=where)
    raise SpecError("a count is {table, row}, {table} (its population) or {dataset, where}", file=str(path), key=key)


def _population(path: Path, name: str, body, arms: list[str]) -> Population:
    key = f"populations.{name}"
    if not isinstance(body, dict) or set(body) - {"where", "label", "arm"} or not {"where", "arm"} <= set(body):
        raise SpecError("a population is {where, label, arm: {variable, levels}}", file=str(path), key=key)
    arm = body["arm"]
    if not isinstance(arm, dict) or set(arm) != {"variable", "levels"} or not isinstance(arm["levels"], dict):
        raise SpecError("arm: {variable: ADSL variable, levels: {value: arm label}}", file=str(path), key=f"{key}.arm")
    levels = {value_key(k): str(v) for k, v in arm["levels"].items()}
    if sorted(set(levels.values())) != sorted(arms):
        raise SpecError(f"arm levels must map onto the arms {arms}", file=str(path), key=f"{key}.arm.levels")
    return Population(name, _filter(body["where"], path, f"{key}.where"), str(body.get("label") or name),
                      Arm(str(arm["variable"]), levels))


def _shell(path: Path, key: str, entry, populations: dict[str, Population]) -> Shell:
    if not isinstance(entry, dict) or entry.get("type") not in TYPES:
        raise SpecError(f"each entry has a type, one of {', '.join(TYPES)}", file=str(path), key=f"{key}.type")
    required, optional = TYPES[entry["type"]]
    missing = sorted(required - set(entry))
    unknown = sorted(set(entry) - required - optional - COMMON)
    if missing or unknown or not entry.get("id") or not entry.get("title"):
        what = f"missing {missing}" if missing else f"unknown {unknown}" if unknown else "missing id or title"
        raise SpecError(f"{entry['type']}: {what}", file=str(path), key=f"{key}.{(missing or unknown or ['id'])[0]}")
    if entry.get("population") not in populations:
        raise SpecError(f"population must be one of {sorted(populations)}", file=str(path), key=f"{key}.population")
    _parse_expressions(path, key, entry)
    body = {k: v for k, v in entry.items() if k not in COMMON}
    return Shell(str(entry["id"]), entry["type"], str(entry["title"]), populations[entry["population"]], body,
                 tuple(str(f) for f in entry.get("footnotes") or []), key)


def _filter(text: str, path: Path, key: str) -> Expression:
    """A filter of the report: it must parse, and be one report/ars.json can state as CDISC ARS where
    clauses (reports.where), which every output's filter is."""
    from trialkit.reports.where import from_expression  # reports.where reads this module's types

    expression = parse(text, file=str(path), key=key)
    from_expression("", expression)
    return expression


def _parse_expressions(path: Path, key: str, node) -> None:
    """Every filter anywhere in the entry must parse (``_filter``); they are parsed again (cheaply) where used."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in EXPRESSION_KEYS and isinstance(v, str):
                _filter(v, path, f"{key}.{k}")
            else:
                _parse_expressions(path, f"{key}.{k}", v)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _parse_expressions(path, f"{key}[{i}]", v)
