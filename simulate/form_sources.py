"""Fill a study's raw forms from simulated records, as its profile's ``forms`` say.

The profile names, for each raw form, the kind of record it holds (one per subject, per assessment,
per infusion...) and, for each field, the record variable it takes, with the EDC's codes for the
model's own words (``{from: status, codes: {ALIVE: "1", DEAD: "2"}}``). The result is one typed
frame per form with the dictionary's field names and ``_i`` (the subject's row), which the export
module renders as text exactly as the raw dictionary describes. So a model knows no form and no field
name; the forms are the study's, written in YAML.
"""

from __future__ import annotations

import pandas as pd

from trialkit.simulate.recist_profile import FormSource


def typed_form(source: FormSource, records: dict[str, pd.DataFrame]) -> pd.DataFrame:
    table = records[source.records]
    columns = {"_i": table["_i"].to_numpy()}
    for field, value in source.fields.items():
        name, codes = (value, {}) if isinstance(value, str) else (value.source, value.codes)
        column = table[name]
        columns[field] = (column.replace(codes) if codes else column).to_numpy()
    return pd.DataFrame(columns)


def typed_forms(sources: dict[str, FormSource], records: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every form of the profile's ``forms``, typed (dates as dates, numbers as numbers)."""
    return {form: typed_form(source, records) for form, source in sources.items()}
