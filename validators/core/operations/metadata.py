"""Operations on metadata: the study's datasets, dataset labels and names, variable order, the IG's
and the SDTM model's variables, codelist terms (CORE Operations.md)."""

from __future__ import annotations
