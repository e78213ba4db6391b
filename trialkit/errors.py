"""One exception family for trialkit.

Every error a user can cause names where it comes from: the file, the row, the column and the spec
key, as far as they are known, so that the one line the CLI prints is enough to fix the input.
"""

from __future__ import annotations


class TrialkitError(Exception):
    """Base class. ``str(err)`` is the one line the CLI prints."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.key = key
        self.details: tuple[str, ...] = ()   # lines the CLI prints under the error (e.g. an ADaM error's causes)

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file) if self.row is None else f"{self.file}:{self.row}")
        elif self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.key is not None:
            where.append(f"key {self.key}")
        return f"{': '.join(where)}: {self.message}" if where else self.message


class SpecError(TrialkitError):
    """A spec or profile (YAML) is unreadable, has an unknown key or a value out of range."""


class InputError(TrialkitError):
    """Input data cannot be used: missing file, unreadable, wrong structure."""
