"""Where a large ODM file can be cut so that its SubjectData are parsed in parallel, each part on its own.

An ODM snapshot is mostly one ClinicalData holding one SubjectData per subject. Cut at ``<SubjectData``
boundaries (a bytes scan of the memory-mapped file, no parsing), each range of the body is a run of
whole SubjectData; wrapped in a copy of the XML declaration, the ODM and ClinicalData start tags and
their end tags, it is a small document of its own, with the encoding, namespaces and StudyOID of the
whole. What is left when the
body is taken out (the prolog, the Study metadata, the ClinicalData start and end, whatever follows)
is a document too, read as a whole for the metadata and checked as XML like the rest.

The cut is a plan, never trusted: a range that does not parse (a ``<SubjectData`` inside a comment
or CDATA, a truncated or damaged file) sends the reader back to parsing the whole file in one pass,
which reports a malformed file at the file's own line and column. Exports the plan does not cover
are left to that one pass too: a file holding ``TransactionType`` (records of a subject sent again
are replayed in the file's order), more than one ClinicalData, or too small for the parallel work to
pay (``PARALLEL_MIN_BYTES``).
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from pathlib import Path

PARALLEL_MIN_BYTES = 64 * 2**20   # below this, one pass is about as fast as forking workers
RANGE_BYTES = 32 * 2**20          # one worker's part: bounds what a worker holds and hands back at once
NAME = rb"(?:[A-Za-z_][\w.-]*:)?"
DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*\?>")    # with the encoding a part is decoded by
ROOT = re.compile(rb"<(" + NAME + rb"ODM)[\s>]")
CLINICAL_START = re.compile(rb"<(" + NAME + rb"ClinicalData)[\s>]")
SUBJECT_START = re.compile(rb"<" + NAME + rb"SubjectData[\s>/]")


@dataclass(frozen=True)
class Plan:
    rest: bytes                       # the file without the ClinicalData's SubjectData
    ranges: list[tuple[int, int]]     # byte ranges [start, end) of whole SubjectData, in file order
    opening: bytes                    # the XML declaration, the ODM and ClinicalData start tags, as in the file
    closing: bytes                    # their end tags

    def part(self, data: bytes) -> bytes:
        """A range's bytes as a document of its own."""
        return self.opening + data + self.closing


def _start_tag(mm: mmap.mmap, match: re.Match) -> bytes | None:
    end = mm.find(b">", match.end() - 1)
    return bytes(mm[match.start():end + 1]) if end >= 0 else None


def plan(path: Path) -> Plan | None:
    """How to cut the file into SubjectData ranges; None when the file is for one pass (module docstring)."""
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return None
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm.find(b"TransactionType") >= 0:
            return None
        root = ROOT.search(mm)
        clinical = [m for _, m in zip(range(2), CLINICAL_START.finditer(mm, root.end() if root else 0))]
        if root is None or len(clinical) != 1:
            return None
        first = SUBJECT_START.search(mm, clinical[0].end())
        end = mm.rfind(b"</" + clinical[0].group(1) + b">")
        root_tag, clinical_tag = _start_tag(mm, root), _start_tag(mm, clinical[0])
        if first is None or end < first.start() or root_tag is None or clinical_tag is None or clinical_tag.endswith(b"/>"):
            return None
        ranges, start = [], first.start()
        while start < end:
            cut = SUBJECT_START.search(mm, start + RANGE_BYTES, end) if start + RANGE_BYTES < end else None
            stop = cut.start() if cut else end
            ranges.append((start, stop))
            start = stop
        rest = bytes(mm[:first.start()]) + bytes(mm[end:])
        closing = b"</" + clinical[0].group(1) + b"></" + root.group(1) + b">"
        declaration = DECLARATION.match(mm)
        opening = (declaration.group(0) if declaration else b"") + root_tag + clinical_tag
    return Plan(rest, ranges, opening, closing)
