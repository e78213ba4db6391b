"""The chain a trace shows, as plain data: ADaM records -> SDTM records -> raw records and fields.

One ``Trace`` holds every ADaM record traced in one call (one, or all the records a report cell
counted), each with the ``Derivation`` of its values (the spec steps and the SDTM records they
read), and every SDTM record reached, once, with the raw records behind it and, per variable, the
raw field, the algorithm of the spec and the raw value. Wherever the data do not allow to go
further, a ``stops`` sentence says where and why; a trace never fails half-way. ``to_dict`` is the
JSON the CLI writes and the pages render.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class RawField:
    """How one SDTM variable was filled from a raw record (trialkit.sdtm.spec.Mapping)."""

    variable: str
    value: str                               # the SDTM value, as the dataset holds it
    algorithm: str                           # assign, ct, date, condition... or a sentence for derived ones
    spec_key: str                            # 'AE.yaml:sources[0].variables.AESTDTC'
    raw: dict[str, str | None] = field(default_factory=dict)   # raw field -> raw value ('' = empty, None = not read)

    @property
    def rows(self) -> int:
        """The table rows the field takes on a trace page: one per raw field read, at least one."""
        return max(len(self.raw), 1)


@dataclass
class RawRecord:
    file: str                                # the file the user has: 'bm.csv', 'export.xml'
    form: str
    row: int                                 # 1-based position in the form as read
    locator: str = ""                        # the export's own address of the record (ODM), else ''
    fields: list[RawField] = field(default_factory=list)   # the SDTM variables this record filled

    @property
    def label(self) -> str:
        from trialkit.provenance import raw_record

        return raw_record(self.file, self.row, self.locator)


@dataclass
class SdtmRef:
    """One SDTM record (and the variable of it) a derivation read."""

    dataset: str
    record: int                              # 1-based record number in the dataset file
    variable: str = ""


@dataclass
class SdtmRecord:
    dataset: str
    record: int
    usubjid: str
    seq: str                                 # --SEQ as text ('' for SUPP--, trial design)
    values: dict[str, str] = field(default_factory=dict)
    raw: list[RawRecord] = field(default_factory=list)
    derived: list[RawField] = field(default_factory=list)  # variables no raw field filled (summaries, --SEQ, --DY...)
    sources: list[SdtmRef] = field(default_factory=list)   # records a DM summary took its value from
    stops: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.dataset}:{self.record}"


@dataclass
class Derivation:
    """How one ADaM variable got its value: the spec steps taken (outermost first) and the SDTM
    records read at the bottom."""

    variable: str
    value: str
    steps: list[str] = field(default_factory=list)
    sources: list[SdtmRef] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)

    def records_read(self) -> list[tuple[str, int, list[str]]]:
        """(dataset, record, variables read from it) per SDTM record, in the order first read."""
        grouped: dict[tuple[str, int], list[str]] = {}
        for ref in self.sources:
            grouped.setdefault((ref.dataset, ref.record), []).extend([ref.variable] if ref.variable else [])
        return [(dataset, record, variables) for (dataset, record), variables in grouped.items()]


@dataclass
class AdamRecord:
    dataset: str
    record: int
    usubjid: str
    paramcd: str = ""
    values: dict[str, str] = field(default_factory=dict)
    derivations: list[Derivation] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.dataset}:{self.record}"


@dataclass
class Trace:
    run: str
    start: str                               # what was asked: 'ADTTE BALLR01-0101-001 EFS'
    adam: list[AdamRecord] = field(default_factory=list)
    sdtm: dict[str, SdtmRecord] = field(default_factory=dict)   # SdtmRecord.id -> record
    stops: list[str] = field(default_factory=list)

    def all_stops(self) -> list[str]:
        """Every sentence saying where the chain stops, each once, in the order met."""
        found = [*self.stops, *(s for a in self.adam for s in a.stops), *(s for a in self.adam for d in a.derivations for s in d.stops),
                 *(s for r in self.sdtm.values() for s in r.stops)]
        return list(dict.fromkeys(found))

    def by_subject(self, start: str):
        """(USUBJID, the part of this trace about that subject) per subject, in order: its ADaM records
        and every SDTM record they reach (trial-level ones too, such as TS), in this trace's order; for
        a page per subject cut from a trace of many, in one pass over it (``start``: a pattern with
        ``{usubjid}``)."""
        position = {key: k for k, key in enumerate(self.sdtm)}
        mine: dict[str, list[AdamRecord]] = {}
        for record in self.adam:
            mine.setdefault(record.usubjid, []).append(record)
        for usubjid, adam in mine.items():
            reached, todo = set(), [ref for a in adam for d in a.derivations for ref in d.sources]
            while todo:
                ref = todo.pop()
                key = f"{ref.dataset}:{ref.record}"
                if key in self.sdtm and key not in reached:
                    reached.add(key)
                    todo += self.sdtm[key].sources
            yield usubjid, Trace(self.run, start.format(usubjid=usubjid), adam,
                                 {key: self.sdtm[key] for key in sorted(reached, key=position.get)}, list(self.stops))

    def to_dict(self) -> dict:
        return {"run": self.run, "start": self.start, "adam": [asdict(a) for a in self.adam],
                "sdtm": [{**asdict(r), "raw": [{**asdict(w), "label": w.label} for w in r.raw]} for r in self.sdtm.values()],
                "stops": self.all_stops()}
