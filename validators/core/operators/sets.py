"""Containment operators: a value in (or not in) a list, a column of lists, or a codelist; collections
that share elements (CORE Operator.md, "Containment")."""

from __future__ import annotations
