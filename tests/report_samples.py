"""A Table 1 shaped like the publication's, shared by the HTML and RTF writer tests: a spanner,
a group header row, indented rows, a "Not evaluable" cell and non-ASCII text (10\u207b\u00b3, \u2265)."""

from trialkit.reports.table import Row, Table

TABLE1 = Table(
    id="table1",
    title="Table 1. Outcomes by baseline MRD",
    stub="Subgroup",
    columns=("EFS HR (95% CI)", "OS HR (95% CI)", "Blinatumomab", "Chemotherapy"),
    spanners=(("Hazard ratio", 2), ("MRD remission, % (95% CI)", 2)),
    rows=(
        Row("All patients", ("0.38 (0.22-0.65)", "0.33 (0.17-0.68)", "91 (80-97)", "48 (35-62)")),
        Row("Baseline MRD", header=True),
        Row("MRD < 10\u207b\u00b3", ("0.32 (0.16-0.63)", "0.27 (0.10-0.68)", "91 (78-97)", "70 (53-84)"), indent=1),
        Row("MRD \u2265 10\u207b\u00b3", ("0.56 (0.22-1.42)", "Not evaluable", "91 (59-100)", "5 (0.1-26)"), indent=1),
    ),
    footnotes=("HR: unstratified Cox model; MRD remission: MRD < 10\u207b\u2074.", "Data cut-off 2021-09-20."),
    source="specs/studies/ball_relapse/tlf.yaml#table1",
    population="Full analysis set (intention to treat), N = 111",
)
