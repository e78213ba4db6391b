"""report/ars.json: the report's tables as a CDISC Analysis Results Standard 1.0 ReportingEvent.

ARS (github.com/cdisc-org/analysis-results-standard, model ars_ldm, JSON schema
project/jsonschema/ars_ldm.schema.json) describes each result by the analysis it comes from: an
analysis set (the population), a data subset (where clauses on the analysis dataset and ADSL), an
ordered grouping (the arms), a method whose operations produce the results, and the results by group
(operationId, resultGroups, rawValue, formattedValue). This module builds that from the ``Source`` of
every table cell (reports.cells):

* one analysis set per population, one grouping of the arms per population (groups by the ADSL arm
  variable's values), one data subset per distinct selection of records;
* one analysis per table row and statistic (``<row of the cell id>/<statistic>``), its results one
  per cell, the formattedValue being the text of the cell in report.json;
* one output per table, and the main list of contents listing each table with its analyses.

Where clauses are stated on the ADaM data as they stand, the data cut-off included (reports.where
``as_of_cutoff``, ``record_cutoff``), so that applying an analysis to the ADaM folder selects the
records the report counted (reports.cell_records does). A cell that shows a fixed text ("Reference")
has no result. report.json says, for each table, which analysis result each cell id is (``cells``).
Subgroups (table 1) are data subsets of their own analyses rather than groupings.
"""

from __future__ import annotations

from trialkit.reports.cells import METHODS, Source, row_paths, slug
from trialkit.reports.table import Table
from trialkit.reports.tables import Analysis
from trialkit.reports.tlf import Population, value_key
from trialkit.reports.where import Condition, all_of, as_of_cutoff, clause_json, describe, from_expression, record_cutoff

PURPOSE, REASON = "term/purpose/report-table", "term/reason/report-spec"
TERMS = [
    {"id": "terms/purpose", "enumeration": "AnalysisPurposeEnum", "sponsorTerms": [
        {"id": PURPOSE, "submissionValue": "REPORT TABLE",
         "description": "A result shown in a table of the study report; the report spec does not say which outcome "
                        "measures are primary"}]},
    {"id": "terms/reason", "enumeration": "AnalysisReasonEnum", "sponsorTerms": [
        {"id": REASON, "submissionValue": "SPECIFIED IN REPORT SPEC",
         "description": "Pre-specified by the study's report spec (specs/studies/<study>/tlf/report.yaml)"}]},
]


def operation_id(method: str) -> str:
    return f"method/{method}/result"


class _Event:
    """The parts of a ReportingEvent collected while walking the tables (ids assigned in order)."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.sets: dict[str, dict] = {}          # population name -> AnalysisSet
        self.groupings: dict[str, dict] = {}     # grouping id -> GroupingFactor
        self.subsets: dict[str, dict] = {}       # the where clause (its repr) -> DataSubset
        self.methods: dict[str, dict] = {}
        self.analyses: dict[tuple, dict] = {}    # (row, statistic, source key) -> Analysis

    def cut(self, where):
        spec = self.analysis.spec
        return as_of_cutoff(where, spec.cutoff, self.analysis.cutoff_date)

    def analysis_set(self, population: Population) -> str:
        if population.name not in self.sets:
            where = self.cut(from_expression("ADSL", population.where))
            self.sets[population.name] = {"id": f"set/{population.name}", "name": population.label, "label": population.name,
                                          "level": 1, "order": len(self.sets) + 1, **_body(where)}
        return self.sets[population.name]["id"]

    def arm_grouping(self, population: Population) -> str:
        arm = population.arm
        gid = f"grouping/{slug(population.name)}/arm"
        if gid not in self.groupings:
            groups = []
            for order, label in enumerate(self.analysis.spec.arms, start=1):
                values = [v for v, name in arm.levels.items() if name == label]
                where = self.cut(Condition("ADSL", arm.variable, "EQ" if len(values) == 1 else "IN", tuple(values)))
                groups.append({"id": f"{gid}/{slug(label)}", "name": label, "level": 1, "order": order, **_body(where)})
            self.groupings[gid] = {"id": gid, "name": f"Arm ({population.name}: ADSL.{arm.variable})", "dataDriven": False,
                                   "groupingDataset": "ADSL", "groupingVariable": arm.variable, "groups": groups}
        return gid

    def level_grouping(self, dataset: str, variable: str) -> str:
        gid = f"grouping/{slug(dataset)}/{slug(variable)}"
        self.groupings.setdefault(gid, {"id": gid, "name": f"{dataset}.{variable}", "dataDriven": True,
                                        "groupingDataset": dataset, "groupingVariable": variable})
        return gid

    def subset(self, source: Source) -> str | None:
        spec = self.analysis.spec
        where = self.cut(all_of([source.where, record_cutoff(source.dataset, spec.cutoff, self.analysis.cutoff_date)]))
        if where is None:
            return None
        key = repr(where)
        if key not in self.subsets:
            self.subsets[key] = {"id": f"subset/{len(self.subsets) + 1}", "name": describe(where), "level": 1,
                                 "order": len(self.subsets) + 1, **_body(where)}
        return self.subsets[key]["id"]

    def method(self, method: str) -> str:
        name, description, pattern = METHODS[method]
        self.methods.setdefault(method, {"id": f"method/{method}", "name": name, "description": description, "operations": [
            {"id": operation_id(method), "order": 1, "name": name, "resultPattern": pattern}]})
        return self.methods[method]["id"]

    def add(self, table: Table, population: Population, row: str, key: str, cell_id: str, source: Source, text: str) -> dict:
        """The analysis of one cell (made at its row's first cell) with the cell's result; returns where
        report.json finds that result. ``row``: the row's labels, ``key``: the cell's column key."""
        stem = cell_id[: -len(key) - 1]
        parts = key.split("/")
        if source.group is not None or source.compares:
            parts = [p for p in parts if p not in {slug(a) for a in self.analysis.spec.arms}]
        statistic = "/".join(parts) or source.method
        grouped = source.group is not None
        identity = (stem, statistic, source.method, source.dataset, source.variable, repr(source.where), source.note,
                    grouped, source.compares, source.level)
        groupings = []
        if grouped or source.compares:
            groupings.append({"order": 1, "groupingId": self.arm_grouping(population), "resultsByGroup": grouped})
        if source.level:
            groupings.append({"order": 2, "groupingId": self.level_grouping(source.dataset, source.level[0]),
                              "resultsByGroup": True})
        if identity not in self.analyses:
            taken, aid, k = {a["id"] for a in self.analyses.values()}, f"{stem}/{statistic}", 1
            while aid in taken:          # another selection or method under the same row and statistic
                k += 1
                aid = f"{stem}/{statistic}-{k}"
            subset = self.subset(source)
            self.analyses[identity] = {
                "id": aid, "name": f"{table.title}: {row}: {METHODS[source.method][0]}",
                **({"description": source.note} if source.note else {}),
                "reason": {"sponsorTermId": REASON}, "purpose": {"sponsorTermId": PURPOSE},
                "dataset": source.dataset, "variable": source.variable,
                "analysisSetId": self.analysis_set(population), **({"dataSubsetId": subset} if subset else {}),
                **({"orderedGroupings": groupings} if groupings else {}),
                "methodId": self.method(source.method), "results": []}
        entry = self.analyses[identity]
        result_groups = []
        if grouped:
            result_groups.append({"groupingId": groupings[0]["groupingId"],
                                  "groupId": f"{groupings[0]['groupingId']}/{slug(source.group)}"})
        if source.level:
            result_groups.append({"groupingId": groupings[-1]["groupingId"], "groupValue": value_key(source.level[1])})
        result = {"operationId": operation_id(source.method), **({"resultGroups": result_groups} if result_groups else {}),
                  **({"rawValue": source.raw} if source.raw else {}), "formattedValue": text}
        entry["results"].append(result)
        return {"analysisId": entry["id"], "operationId": result["operationId"],
                **({"resultGroups": result_groups} if result_groups else {})}


def _body(where) -> dict:
    """The condition or compound expression an analysis set, data subset or group carries."""
    if where is None:
        return {}
    clause = clause_json(where)
    return {k: v for k, v in clause.items() if k in ("condition", "compoundExpression")}


def reporting_event(study: str, analysis: Analysis, tables: tuple[Table, ...], generated_by: str) -> tuple[dict, dict]:
    """The ARS ReportingEvent of ``tables`` and, per table id, {cell id: where its result is in it}."""
    spec = analysis.spec
    shells = {s.id: s for s in spec.tables}
    event = _Event(analysis)
    located: dict[str, dict[str, dict]] = {}
    contents = []
    for order, table in enumerate(tables, start=1):
        population = shells[table.id].population
        located[table.id] = {}
        before = {id(a) for a in event.analyses.values()}
        for row, path in zip(table.rows, row_paths(table.rows)):
            for key, cell_id, source, text in zip(table.column_keys, row.cell_ids, row.sources, row.cells):
                if source is not None:
                    located[table.id][cell_id] = event.add(table, population, " / ".join(path), key, cell_id, source, text)
        mine = [a for a in event.analyses.values() if id(a) not in before]
        contents.append({"name": table.title, "level": 1, "order": order, "outputId": table.id, "sublist": {"listItems": [
            {"name": a["name"], "level": 2, "order": k, "analysisId": a["id"]} for k, a in enumerate(mine, start=1)]}})
    outputs = [_output(table) for table in tables]
    return {
        "id": f"{slug(study)}/report", "name": spec.title or study, "version": 1,
        "description": f"{study}: the tables of the study report, data cut-off {analysis.cutoff}; written by {generated_by}",
        "mainListOfContents": {"name": "Tables of the report", "contentsList": {"listItems": contents}},
        "analysisSets": list(event.sets.values()), "analysisGroupings": list(event.groupings.values()),
        "dataSubsets": list(event.subsets.values()), "methods": list(event.methods.values()),
        "analyses": list(event.analyses.values()), "outputs": outputs, "terminologyExtensions": TERMS,
    }, located


def _output(table: Table) -> dict:
    sections = [("Title", [table.title]), ("Footnote", list(table.footnotes))]
    display = {"id": f"{table.id}/display", "name": table.title, "displayTitle": table.title, "displaySections": [
        {"sectionType": kind, "orderedSubSections": [
            {"order": k, "subSection": {"id": f"{table.id}/{kind.lower()}/{k}", "text": text}}
            for k, text in enumerate(texts, start=1)]} for kind, texts in sections if texts]}
    return {"id": table.id, "name": table.title, "displays": [{"order": 1, "display": display}],
            "fileSpecifications": [{"name": f"{table.id}.rtf", "location": f"{table.id}.rtf",
                                    "fileType": {"controlledTerm": "rtf"}}]}
