"""trialkit trace (trialkit/trace/): from an ADaM or SDTM record of a run down to the raw export.

Every link the trace shows is checked against the data read here independently: the SDTM record
from its XPT, the raw record from the CSV (or the ODM XML) by the row or locator the trace names,
and the SDTM value against the raw value read by pandas' own date parser.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from trialkit.cli import main
from trialkit.display import plain
from trialkit.trace.chain import trace_adam_records
from trialkit.trace.pages import write_trace_pages
from trialkit.trace.run_folder import RunFolder
from trialkit.xpt import read_xpt


def invoke(runner: CliRunner, *args):
    return runner.invoke(main, ["trace", *(str(a) for a in args)], catch_exceptions=False)


def traced(runner: CliRunner, *args) -> dict:
    result = invoke(runner, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def raw_csv(run: Path, file: str) -> pd.DataFrame:
    return pd.read_csv(run / "raw" / file, dtype=str, keep_default_na=False)


def sdtm(run: Path, name: str) -> pd.DataFrame:
    return read_xpt(run / "sdtm" / f"{name.lower()}.xpt")[0]


def as_date(text: str) -> str:
    """A raw date (05-JAN-2019, 07.04.2021, 07/04/2021, 2021-04-07: the export's layouts, all day
    first) as ISO 8601, by pandas' parser rather than trialkit's."""
    return pd.to_datetime(text, dayfirst=True, format="mixed").strftime("%Y-%m-%d")


def by_id(trace: dict) -> dict[str, dict]:
    return {f"{r['dataset']}:{r['record']}": r for r in trace["sdtm"]}


def check_raw_field(run: Path, record: dict, variable: str) -> str:
    """The SDTM record's ``variable`` was mapped from a raw field whose value in the trace is the raw
    CSV's, at the row the trace names; returns that raw value."""
    [raw] = [r for r in record["raw"] if any(f["variable"] == variable for f in r["fields"])]
    [field] = [f for f in raw["fields"] if f["variable"] == variable]
    [(name, value)] = field["raw"].items()
    assert raw_csv(run, raw["file"])[name].iloc[raw["row"] - 1] == value
    return value


# ---- Test 1 ------------------------------------------------------------------------------------
def test_trace_01_efs_records_to_their_srcseq_record_and_raw_row(demo):
    """Test 1: every EFS record of ADTTE, traced in one call (as a report cell will), reaches the SDTM
    record its SRCDOM/SRCSEQ name (same subject, same --SEQ, SRCVAR's value = ADT) and the raw CSV
    row behind it, whose date is that value."""
    run = RunFolder(demo)
    adtte = read_xpt(demo / "adam" / "adtte.xpt")[0]
    efs = adtte[adtte["PARAMCD"] == "EFS"]
    trace = trace_adam_records(run, "ADTTE", efs[["USUBJID", "PARAMCD"]]).to_dict()
    assert len(trace["adam"]) == len(efs)
    records = by_id(trace)
    reached = 0
    for record, (_, row) in zip(trace["adam"], efs.iterrows()):
        assert record["usubjid"] == row["USUBJID"]
        [adt] = [d for d in record["derivations"] if d["variable"] == "ADT"]
        if row["SRCDOM"] == "ADSL":
            continue
        [ref] = adt["sources"]
        assert (ref["dataset"], ref["variable"]) == (row["SRCDOM"], row["SRCVAR"])
        target = sdtm(demo, ref["dataset"]).iloc[ref["record"] - 1]
        assert target["USUBJID"] == row["USUBJID"] and target[f"{ref['dataset']}SEQ"] == row["SRCSEQ"]
        # the source's date, or the start date for a treatment failure (ADTTE.yaml: date: start)
        assert plain(row["ADT"], "ADT") in (target[row["SRCVAR"]], plain(row["STARTDT"], "STARTDT"))
        raw = check_raw_field(demo, records[f"{ref['dataset']}:{ref['record']}"], row["SRCVAR"])
        assert as_date(raw) == target[row["SRCVAR"]]
        reached += 1
    assert reached >= len(efs) // 2
    assert trace["stops"] == []


# ---- Test 2 ------------------------------------------------------------------------------------
def test_trace_02_adsl_randdt_through_its_step_to_ds_and_enrol(runner, demo):
    """Test 2: ADSL.RANDDT is followed through ADSL.yaml's steps (dates from RANDDTC, merged from DS
    where DSDECOD is RANDOMIZED) to the subject's randomization record in DS and the enrol.csv row
    whose RANDDAT it was mapped from; TRTSDT through DM.RFXSTDTC to the EX record of the first dose."""
    adsl = read_xpt(demo / "adam" / "adsl.xpt")[0]
    subject = adsl[adsl["TRTSDT"].notna()].iloc[3]
    trace = traced(runner, demo, "--adam", "ADSL", subject["USUBJID"], "--variable", "RANDDT", "--variable", "TRTSDT")
    randdt, trtsdt = trace["adam"][0]["derivations"]
    assert randdt["value"] == plain(subject["RANDDT"], "RANDDT")
    assert any("merged: RANDDTC = DS.DSSTDTC" in step for step in randdt["steps"])
    ds = sdtm(demo, "DS")
    expected = ds.index[(ds["USUBJID"] == subject["USUBJID"]) & (ds["DSDECOD"] == "RANDOMIZED")] + 1
    assert [(r["dataset"], r["record"]) for r in randdt["sources"]] == [("DS", int(expected[0]))]
    record = by_id(trace)[f"DS:{expected[0]}"]
    assert [r["file"] for r in record["raw"]] == ["enrol.csv"]
    assert as_date(check_raw_field(demo, record, "DSSTDTC")) == randdt["value"]
    [dm_ref] = trtsdt["sources"]
    dm = by_id(trace)[f"DM:{dm_ref['record']}"]
    ex = sdtm(demo, "EX")
    first = [r for r in dm["sources"] if r["variable"] == "EXSTDTC"]
    assert first and all(ex["EXSTDTC"].iloc[r["record"] - 1] == trtsdt["value"] for r in first)
    assert as_date(check_raw_field(demo, by_id(trace)[f"EX:{first[0]['record']}"], "EXSTDTC")) == trtsdt["value"]


# ---- Test 3 ------------------------------------------------------------------------------------
def test_trace_03_sdtm_record_every_variable_to_its_raw_field(runner, demo):
    """Test 3: --sdtm AE USUBJID SEQ names the ae.csv row behind the record; each raw value shown is
    the CSV's at that row, and the verbatim term is the SDTM one as collected."""
    ae = sdtm(demo, "AE")
    row = ae.iloc[len(ae) // 2]
    trace = traced(runner, demo, "--sdtm", "AE", row["USUBJID"], plain(row["AESEQ"]))
    [record] = trace["sdtm"]
    [raw] = record["raw"]
    assert raw["file"] == "ae.csv" and raw["label"] == f"ae.csv row {raw['row']}"
    csv_row = raw_csv(demo, "ae.csv").iloc[raw["row"] - 1]
    assert csv_row["SUBJID"] == row["USUBJID"].removeprefix("BALLR01-")
    for field in raw["fields"]:
        assert all(csv_row[name] == value for name, value in field["raw"].items()), field
    [term] = [f for f in raw["fields"] if f["variable"] == "AETERM"]
    assert term["value"] == row["AETERM"] == next(iter(term["raw"].values())).strip()
    assert {f["variable"] for f in record["derived"]} >= {"AESEQ"}


# ---- Test 4 ------------------------------------------------------------------------------------
def test_trace_04_without_provenance_the_chain_stops_with_a_sentence(runner, demo, tmp_path):
    """Test 4: in a copy of the run without sdtm/provenance.tsv (as from another tool), the trace
    still shows the ADaM record and its SDTM record, says where and why it stops, and exits 0."""
    run = tmp_path / "run"
    shutil.copytree(demo, run, ignore=shutil.ignore_patterns("report", "validation"))
    (run / "sdtm" / "provenance.tsv").unlink()
    adtte = read_xpt(run / "adam" / "adtte.xpt")[0]
    row = adtte[(adtte["PARAMCD"] == "EFS") & (adtte["SRCDOM"] == "RS")].iloc[0]
    result = invoke(runner, run, "--adam", "ADTTE", row["USUBJID"], "--paramcd", "EFS")
    assert result.exit_code == 0, result.output
    assert "where the chain stops:" in result.stdout
    text = " ".join(result.stdout.split())
    assert "sdtm/provenance.tsv is missing (an SDTM folder another tool wrote?): the chain stops at SDTM RS record" in text
    trace = traced(runner, run, "--adam", "ADTTE", row["USUBJID"], "--paramcd", "EFS")
    [ref] = next(d for d in trace["adam"][0]["derivations"] if d["variable"] == "ADT")["sources"]
    assert (f"sdtm/provenance.tsv is missing (an SDTM folder another tool wrote?): the chain stops at SDTM RS record "
            f"{ref['record']}; the raw record behind it is not known") in trace["stops"]
    assert all(not r["raw"] for r in trace["sdtm"])


# ---- Test 5 ------------------------------------------------------------------------------------
def test_trace_05_unknown_names_exit_2_with_the_nearest(runner, demo):
    """Test 5: an unknown subject, parameter, dataset or --SEQ is a usage error (exit 2) naming the
    nearest values; a missing run folder too; neither --adam nor --sdtm is a usage error."""
    adsl = read_xpt(demo / "adam" / "adsl.xpt")[0]
    real = adsl["USUBJID"].iloc[0]
    typo = real[:-1] + ("9" if real[-1] != "9" else "8")
    result = invoke(runner, demo, "--adam", "ADTTE", typo)
    assert result.exit_code == 2
    assert f"ADTTE has no record of subject {typo} (nearest subjects: {real}" in result.stderr or \
        re.search(rf"nearest subjects: [^)]*{re.escape(real)}", result.stderr), result.stderr
    result = invoke(runner, demo, "--adam", "ADTTE", real, "--paramcd", "PFS")
    assert result.exit_code == 2 and "parameters: EFS, OS, RFS" in result.stderr, result.stderr
    result = invoke(runner, demo, "--adam", "ADTT", real)
    assert result.exit_code == 2 and "nearest datasets: ADTTE" in result.stderr, result.stderr
    result = invoke(runner, demo, "--sdtm", "AE", real, "999")
    assert result.exit_code == 2 and "AE has no record of" in result.stderr
    result = invoke(runner, demo.parent / "no-such-run", "--adam", "ADSL", real)
    assert result.exit_code == 2 and "no such run folder" in result.stderr
    result = invoke(runner, demo, "--adam", "ADSL", real, "--variable", "RANDT")
    assert result.exit_code == 2 and "ADSL has no variable RANDT (nearest variables: RANDDT" in result.stderr, result.stderr
    assert invoke(runner, demo).exit_code == 2


# ---- Test 6 ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def odm_run(tmp_path_factory) -> Path:
    """An ODM export of 20 subjects through sdtm and adam, stage by stage (no run manifest)."""
    run = tmp_path_factory.mktemp("odm") / "run"
    for args in (["simulate", "--subjects", "20", "--seed", "4", "--format", "odm", "--out", run / "raw"],
                 ["sdtm", run / "raw", "--out", run / "sdtm"], ["adam", run / "sdtm", "--out", run / "adam"]):
        done = subprocess.run([sys.executable, "-m", "trialkit.cli", *map(str, args)], check=False,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    return run


def test_trace_06_odm_export_gives_odm_locators_and_its_values(runner, odm_run):
    """Test 6: a run from an ODM export names each raw record by its ODM locator in export.xml, and
    the raw value shown is the ItemData Value at that locator (read here with lxml)."""
    from lxml import etree

    adtte = read_xpt(odm_run / "adam" / "adtte.xpt")[0]
    row = adtte[(adtte["PARAMCD"] == "EFS") & (adtte["SRCDOM"] != "ADSL")].iloc[0]
    trace = traced(runner, odm_run, "--adam", "ADTTE", row["USUBJID"], "--paramcd", "EFS")
    assert trace["stops"] == []
    odm = etree.parse(str(odm_run / "raw" / "export.xml"))
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    checked = 0
    for record in trace["sdtm"]:
        for raw in record["raw"]:
            assert raw["file"] == "export.xml" and raw["label"] == f"export.xml record {raw['locator']}"
            subject, event, form, group = re.fullmatch(r"([^/]+)/([^/]+)/([^/]+)/(.+)\[(\d+)\]", raw["locator"]).groups()[:4]
            repeat = raw["locator"].rsplit("[", 1)[1].rstrip("]")
            assert subject == row["USUBJID"].removeprefix("BALLR01-") and form == raw["form"]
            for field in raw["fields"]:
                for name, value in field["raw"].items():
                    found = odm.xpath(f"//odm:SubjectData[@SubjectKey='{subject}']/odm:StudyEventData[@StudyEventOID='{event}']"
                                      f"/odm:FormData[@FormOID='{form}']/odm:ItemGroupData[@ItemGroupOID='{group}' and "
                                      f"@ItemGroupRepeatKey='{repeat}']/odm:ItemData[@ItemOID='{name}']/@Value", namespaces=ns)
                    assert found == [value], (raw["locator"], name)
                    checked += 1
    assert checked >= 2


# ---- Test 7 ------------------------------------------------------------------------------------
def test_trace_07_pages_self_contained_per_entry(demo, tmp_path):
    """Test 7: write_trace_pages writes one page per entry under report/trace/ and returns its path
    relative to report/; the page holds every subject, SDTM record and raw record of the trace, links
    only inside itself, has no script, and escapes what it shows."""
    run = tmp_path / "run"
    shutil.copytree(demo, run, ignore=shutil.ignore_patterns("validation"))
    adtte = read_xpt(run / "adam" / "adtte.xpt")[0]
    cell = adtte[adtte["PARAMCD"] == "OS"].head(4)[["USUBJID", "PARAMCD"]]
    written = write_trace_pages(run, {"table2/r1c2": ("ADTTE", cell)})
    assert written == {"table2/r1c2": "trace/table2_r1c2.html"}
    html = (run / "report" / written["table2/r1c2"]).read_text(encoding="utf-8")
    trace = trace_adam_records(RunFolder(run), "ADTTE", cell).to_dict()
    for usubjid in cell["USUBJID"]:
        assert usubjid in html
    for record in trace["sdtm"]:
        assert f'id="sdtm-{record["dataset"]}-{record["record"]}"' in html
        assert all(raw["label"] in html for raw in record["raw"])
    assert re.findall(r'href="([^"]*)"', html) and all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert "<script" not in html.lower() and "src=" not in html
    assert "DSDECOD == &#39;RANDOMIZED&#39;" in html          # quotes escaped, as any raw value would be


# ---- Test 8 ------------------------------------------------------------------------------------
def test_trace_08_raw_export_moved_or_changed_stops_at_the_raw_record(runner, demo, tmp_path):
    """Test 8: without RUN/raw the trace names the raw records but says their values are not read
    (give --raw), and --raw finds them again; a raw file that is not the one the run read (another
    SHA-256 than the run manifest's) is not read either, rather than shown as the run's."""
    run = tmp_path / "run"
    shutil.copytree(demo, run, ignore=shutil.ignore_patterns("report", "validation", "raw"))
    ds = sdtm(demo, "DS")
    usubjid = ds["USUBJID"].iloc[0]
    trace = traced(runner, run, "--adam", "ADSL", usubjid, "--variable", "RANDDT")
    [record] = trace["sdtm"]
    assert record["raw"][0]["label"].startswith("enrol.csv row ")
    missing = f"{record['raw'][0]['label']}: raw values not read: the raw export is not at {run / 'raw'} (give --raw)"
    assert trace["stops"] == [missing]
    assert traced(runner, run, "--adam", "ADSL", usubjid, "--variable", "RANDDT", "--raw", demo / "raw")["stops"] == []
    shutil.copytree(demo / "raw", run / "raw")
    with (run / "raw" / "enrol.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    trace = traced(runner, run, "--adam", "ADSL", usubjid, "--variable", "RANDDT")
    assert any("is not the file the run read (its SHA-256 differs from manifest.json's)" in s for s in trace["stops"])
    assert all(v is None for r in trace["sdtm"] for raw in r["raw"] for f in raw["fields"] for v in f["raw"].values())


# ---- Test 9 ------------------------------------------------------------------------------------
def test_trace_09_adae_record_through_its_aeseq_to_the_raw_term(runner, demo):
    """Test 9: an ADAE record (no SRCDOM: an occurrence dataset) reaches the AE record of its AESEQ,
    and the variables it keeps from it (ADAE.yaml keep:) are explained there, down to ae.csv."""
    adae = read_xpt(demo / "adam" / "adae.xpt")[0]
    row = adae.iloc[len(adae) // 3]
    trace = traced(runner, demo, "--adam", "ADAE", row["USUBJID"])
    [record] = [a for a in trace["adam"] if a["derivations"][0]["value"] == plain(row["AESEQ"])]
    refs = record["derivations"][0]["sources"]
    ae = sdtm(demo, "AE")
    [(dataset, number)] = {(r["dataset"], r["record"]) for r in refs}
    assert dataset == "AE" and ae["USUBJID"].iloc[number - 1] == row["USUBJID"] and ae["AESEQ"].iloc[number - 1] == row["AESEQ"]
    assert {"AETERM", "AESTDTC"} <= {r["variable"] for r in refs}
    assert check_raw_field(demo, by_id(trace)[f"AE:{number}"], "AETERM").strip() == row["AETERM"]


def test_trace_10_a_report_cell_to_the_records_it_counted_and_their_raw_rows(runner, demo):
    """Test 10: ``--cell`` starts from a Table 1 count: the traced ADaM records belong to exactly as
    many subjects as the cell shows, each reaching SDTM; an unknown cell id exits 2 naming the nearest."""
    report = json.loads((demo / "report" / "report.json").read_text())
    table = next(t for t in report["tables"] if t["id"] == "table1")
    row = next(r for r in table["rows"] if r.get("cell_ids") and r["cells"] and r["cells"][0].isdigit())
    cell, shown = row["cell_ids"][0], int(row["cells"][0])
    trace = traced(runner, demo, "--cell", cell)
    assert trace["start"] == f"report cell {cell}"
    assert len({a["usubjid"] for a in trace["adam"]}) == shown
    assert trace["sdtm"]
    result = invoke(runner, demo, "--cell", cell[:-1] + "x")
    assert result.exit_code == 2 and cell in result.output, result.output


# ---- Test 11 -----------------------------------------------------------------------------------
@pytest.mark.reference
def test_trace_11_pilot_adtte_through_its_adam_source_adae_to_the_sdtm_ae_record(runner, tmp_path):
    """Test 11 (the CDISC pilot, written by others, no trialkit run): an ADTTE record with SRCDOM ADAE
    is followed to the ADAE record SRCSEQ names (the pilot's ADAE has no ASEQ: matched on the AESEQ it
    keeps) and on to the SDTM AE record of that AESEQ, both found here by reading the XPTs; the chain
    then stops for want of provenance.tsv, and says so."""
    from reference_data import PILOT

    run = tmp_path / "pilot"
    run.mkdir()
    for stage in ("sdtm", "adam"):
        (run / stage).symlink_to(PILOT / stage)
    adtte = read_xpt(PILOT / "adam" / "adtte.xpt")[0]
    row = adtte[adtte["SRCDOM"] == "ADAE"].iloc[0]
    usubjid, srcseq = row["USUBJID"], row["SRCSEQ"]
    adae, ae = read_xpt(PILOT / "adam" / "adae.xpt")[0], read_xpt(PILOT / "sdtm" / "ae.xpt")[0]
    adae_record = int(adae.index[(adae["USUBJID"] == usubjid) & (adae["AESEQ"] == srcseq)][0]) + 1
    ae_record = int(ae.index[(ae["USUBJID"] == usubjid) & (ae["AESEQ"] == srcseq)][0]) + 1
    trace = traced(runner, run, "--adam", "ADTTE", usubjid, "--paramcd", row["PARAMCD"])
    adt = next(d for d in trace["adam"][0]["derivations"] if d["variable"] == "ADT")
    assert f"ADAE record {adae_record} (AESEQ {plain(srcseq)}): ASTDT {plain(row['ADT'], 'ADT')}" in adt["steps"]
    assert [(s["dataset"], s["record"]) for s in adt["sources"]] == [("AE", ae_record)]
    assert [(r["dataset"], r["record"], r["usubjid"]) for r in trace["sdtm"]] == [("AE", ae_record, usubjid)]
    assert any(f"the chain stops at SDTM AE record {ae_record}" in stop for stop in trace["stops"])
    adsl = traced(runner, run, "--adam", "ADSL", usubjid)          # no ADSL spec: said once, not per variable
    assert len(adsl["adam"][0]["derivations"]) > 40
    assert [s for s in adsl["stops"] if "ADSL spec" in s] == [
        "no ADSL spec for study unknown (the run has no manifest.json): how the ADSL variables were derived is not known"]
