"""Match Datasets: the records of other datasets joined onto the evaluation frame before the check.

(Implemented in the next step; until then a rule with Match Datasets is reported as not executed.)
"""

from __future__ import annotations

import pandas as pd

from trialkit.validators.core.context import Context, NotExecutable


def apply(ctx: Context) -> pd.DataFrame:
    if ctx.rule.match_datasets:
        raise NotExecutable("Match Datasets are not supported yet")
    return ctx.frame
