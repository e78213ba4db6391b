"""Operations on the records' values: distinct values, counts, minimum and maximum (CORE
Operations.md)."""

from __future__ import annotations
