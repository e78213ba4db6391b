"""Date operators: ISO 8601 completeness and validity, durations, and date comparisons (CORE
Operator.md, "Date")."""

from __future__ import annotations
