"""Operators over groups of records: uniqueness of sets and relationships, consistency across a
dataset, presence on several rows, order and next records (CORE Operator.md, "Relationship & Set")."""

from __future__ import annotations
