"""Date operations: study day, earliest and latest date (CORE Operations.md)."""

from __future__ import annotations
