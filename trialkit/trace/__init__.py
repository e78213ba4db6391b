"""``trialkit trace``: from an ADaM or SDTM record down to the raw export record and field.

run_folder (a run output read lazily) -> chain (entry points; ADaM records -> SDTM references) with
adsl_steps (ADSL variables through ADSL.yaml's steps) and sdtm_records (SDTM record -> provenance ->
raw record, field, algorithm and value, with spec_view) -> model (the chain as data, JSON) ->
terminal (rich tree) and pages (static HTML under report/trace/); report_pages: the pages every
number of report.html links to (a page per cell, a page per subject counted).
"""
