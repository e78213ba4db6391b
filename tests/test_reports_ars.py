"""reports.ars: the demo's report/ars.json is a valid CDISC ARS 1.0 ReportingEvent whose results are
the cells of report.json, each cell id pointing at one of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

SCHEMA = json.loads((Path(__file__).parent / "data" / "ars" / "ars_ldm.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def written(demo) -> tuple[dict, dict]:
    folder = demo / "report"
    return (json.loads((folder / "report.json").read_text(encoding="utf-8")),
            json.loads((folder / "ars.json").read_text(encoding="utf-8")))


def _result(event: dict, where: dict) -> dict:
    analysis = next(a for a in event["analyses"] if a["id"] == where["analysisId"])
    found = [r for r in analysis["results"]
             if r["operationId"] == where["operationId"] and r.get("resultGroups", []) == where.get("resultGroups", [])]
    assert len(found) == 1, where
    return found[0]


def test_01_ars_json_is_valid_against_the_ars_1_0_schema(written):
    _, event = written
    jsonschema.Draft7Validator(SCHEMA).validate(event)
    broken = copy.deepcopy(event)
    broken["analyses"][0]["results"][0]["resultGroups"][0]["group"] = "wrong"   # not an ARS attribute
    assert list(jsonschema.Draft7Validator(SCHEMA).iter_errors(broken))


def test_02_every_computed_cell_is_an_ars_result_with_the_same_text(written):
    """Every cell of every table has an id, unique in the report; each cell but fixed texts
    ("Reference", "") is one result of ars.json, whose formattedValue is the cell."""
    report, event = written
    ids = [i for t in report["tables"] for r in t["rows"] for i in r["cell_ids"]]
    assert len(ids) == len(set(ids))
    checked = 0
    for table in report["tables"]:
        for row in table["rows"]:
            assert len(row["cell_ids"]) == len(row["cells"])
            for cell_id, text in zip(row["cell_ids"], row["cells"]):
                if cell_id not in table["cells"]:
                    assert text in ("Reference", ""), cell_id
                    continue
                assert _result(event, table["cells"][cell_id])["formattedValue"] == text, cell_id
                checked += 1
    assert checked == sum(len(a["results"]) for a in event["analyses"])


def test_03_analyses_name_their_dataset_set_subset_grouping_and_method(written):
    report, event = written
    cell = report["tables"][1]["cells"]["table2/event-free-survival/subjects-with-an-event/blinatumomab"]
    analysis = next(a for a in event["analyses"] if a["id"] == cell["analysisId"])
    assert (analysis["dataset"], analysis["variable"], analysis["methodId"]) == ("ADTTE", "USUBJID", "method/n-pct")
    subset = next(s for s in event["dataSubsets"] if s["id"] == analysis["dataSubsetId"])
    assert subset["name"] == "ADTTE.PARAMCD EQ EFS AND ADTTE.CNSR EQ 0"
    itt = next(s for s in event["analysisSets"] if s["id"] == analysis["analysisSetId"])
    assert itt["condition"] == {"dataset": "ADSL", "variable": "ITTFL", "comparator": "EQ", "value": ["Y"]}
    grouping = next(g for g in event["analysisGroupings"] if g["id"] == analysis["orderedGroupings"][0]["groupingId"])
    group = next(g for g in grouping["groups"] if g["id"] == cell["resultGroups"][0]["groupId"])
    assert (group["name"], group["condition"]["variable"], group["condition"]["value"]) == ("Blinatumomab", "ARMCD", ["BLIN"])
    methods = {m["id"] for m in event["methods"]}
    assert {a["methodId"] for a in event["analyses"]} == methods
    assert {"method/cox-hr", "method/logrank", "method/km-median", "method/clopper-pearson"} <= methods


def test_04_outputs_are_the_tables_listing_their_analyses(written):
    report, event = written
    assert [o["id"] for o in event["outputs"]] == [t["id"] for t in report["tables"]]
    listed = {item["outputId"]: {a["analysisId"] for a in item["sublist"]["listItems"]}
              for item in event["mainListOfContents"]["contentsList"]["listItems"]}
    for table in report["tables"]:
        assert {c["analysisId"] for c in table["cells"].values()} == listed[table["id"]]
