"""CDISC controlled terminology: the NCI EVS package file, and a study overlay merged over it.

NCI EVS publishes each SDTM CT package as one tab-delimited file (``SDTM Terminology.txt``): a row
per codelist (``Codelist Code`` empty) and a row per term, with the NCI code, the codelist's
extensibility and name, the CDISC submission value, CDISC synonyms, definition and NCI preferred
term. trialkit ships that file gzipped, unchanged, so the CT a submission was checked against is the
CT NCI published, and a new package is a new file rather than hand edits.

A study overlay (``ct/sdtm-ct.yaml``) adds only what the package cannot know: collected values that
map onto a term (``synonyms``), sponsor extensions of extensible codelists (``extended: true``),
sponsor codelists (``sponsor: true``) and lists it keeps in part (``subset: true``). Merging refuses
what CDISC forbids (extending a non-extensible codelist) and what would hide a typo (an overlay term
that is not in the package and not marked as an extension).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import pandas as pd

from trialkit.errors import SpecError
from trialkit.vectorize import per_unique

# NCI EVS column -> term field. The CDISC Definition column stays in the file but is not loaded:
# nothing reads it, and it is a third of the parse time.
PACKAGE_COLUMNS = {
    "Code": "code",
    "Codelist Code": "codelist",
    "Codelist Extensible (Yes/No)": "extensible",
    "Codelist Name": "name",
    "CDISC Submission Value": "value",
    "CDISC Synonym(s)": "cdisc_synonyms",
    "NCI Preferred Term": "preferred_term",
}
OVERLAY_TERM_KEYS = {"value", "synonyms"}
EXTENSION_TERM_KEYS = {"value", "decode", "synonyms", "extended"}


@dataclass(frozen=True)
class Codelist:
    name: str                 # the key: CDISC short name (submission value of the codelist) or sponsor key
    label: str                # the codelist name
    code: str | None
    extensible: bool
    terms: tuple[dict, ...]   # value, code, decode; from a package also preferred_term, cdisc_synonyms
    sponsor: bool = False
    lookup: dict[str, str | None] = field(default_factory=dict)   # upper-cased value -> submission value, None if ambiguous
    subset: bool = False      # only part of the codelist is held, so a value outside it may still be valid CT

    @cached_property
    def values(self) -> frozenset[str]:
        return frozenset(str(t["value"]) for t in self.terms)

    def recode(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(submission values, unmatched mask): an exact submission value first, then a match that
        trims and ignores case, through the synonyms too. A value that matches two terms ignoring
        case (UNIT has both Pa and PA) must be written exactly."""
        def recode(u: pd.Series) -> tuple[pd.Series, pd.Series]:
            text = u.astype(str).str.strip()
            out = text.where(text.isin(self.values)).fillna(text.str.upper().map(self.lookup))
            return out.fillna(""), out.isna() & (text != "")
        return per_unique(values, recode)


def build_lookup(terms, *, file: str, key: str) -> dict[str, str | None]:
    """Upper-cased submission values and synonyms -> submission value. Two terms that differ only in
    case share a key that maps to None (ambiguous); a synonym that names another term is an error."""
    lookup: dict[str, str | None] = {}
    for term in terms:
        value = str(term["value"])
        norm = value.strip().upper()
        lookup[norm] = value if lookup.get(norm, value) == value else None
    for term in terms:
        value = str(term["value"])
        for synonym in term.get("synonyms", ()):
            norm = str(synonym).strip().upper()
            if lookup.get(norm, value) != value:
                raise SpecError(f"collected value {synonym!r} maps to two terms", file=file, key=key)
            lookup[norm] = value
    return lookup


def inline_codelist(name: str, values: dict) -> Codelist:
    """A study-local recode table (``values: {collected: submission}``) as a sponsor codelist."""
    lookup = {str(k).strip().upper(): str(v) for k, v in values.items()}
    terms = tuple({"value": v} for v in dict.fromkeys(lookup.values()))
    return Codelist(name, name, None, False, terms, True, lookup)


class Terminology(Mapping[str, Codelist]):
    """The codelists of one CT package with an overlay merged over it, keyed by short name. A package
    codelist is built when first asked for: a study reads a few dozen of the package's 1,000-odd lists,
    and building every term of them all would take longer than parsing the file."""

    def __init__(self, path: Path, heads: dict[str, tuple[str, str, bool]], rows: dict[str, list[tuple]],
                 test_names: dict[tuple[str, str], str], partner: dict[str, str]) -> None:
        self.path = path
        self._heads, self._rows, self._test_names, self._partner = heads, rows, test_names, partner
        self._name_lists = set(partner.values())
        self._built: dict[str, Codelist] = {}

    def __getitem__(self, key: str) -> Codelist:
        if key not in self._built:
            code, name, extensible = self._heads[key]
            terms = tuple(self._term(code, row) for row in self._rows.get(code, ()))
            lookup = build_lookup(terms, file=str(self.path), key=key)
            self._built[key] = Codelist(key, name, code, extensible, terms, lookup=lookup)
        return self._built[key]

    def _term(self, codelist: str, row: tuple) -> dict:
        code, value, synonyms, preferred = row
        if codelist in self._partner:
            decode = self._test_names.get((self._partner[codelist], code)) or preferred
        else:
            decode = value if codelist in self._name_lists else preferred
        return {"value": value, "code": code, "decode": decode, "preferred_term": preferred,
                "cdisc_synonyms": tuple(synonyms.split("; ")) if synonyms else ()}

    def __iter__(self) -> Iterator[str]:
        return iter(self._heads)

    def __len__(self) -> int:
        return len(self._heads)

    def merge(self, overlay: dict, *, file: str) -> None:
        """Merge a study overlay's codelists in (see the module docstring); every overlay list is
        checked now, so a bad overlay fails when the CT is loaded, not when a list is first used."""
        for key, entry in overlay.items():
            where = f"codelists.{key}"
            if not isinstance(entry, dict):
                raise SpecError("a codelist is a mapping", file=file, key=where)
            if key in self._heads:
                if entry.get("sponsor"):
                    raise SpecError(f"{key} is a CDISC codelist of the package, not a sponsor list", file=file, key=where)
                self._built[key] = _extend(self[key], entry, file=file, key=where)
            else:
                self._built[key] = own_codelist(key, entry, file=file, where=where)
                self._heads[key] = (entry.get("code"), entry.get("name", key), bool(entry.get("extensible")))


def read_package(path: Path) -> Terminology:
    """The codelists of an NCI EVS terminology file, keyed by CDISC short name.

    A term's decode is its NCI preferred term, except in a test-code list: there it is the test name
    (the term of the same code in the paired "... Test Name" list), and in a test-name list the name
    itself, as define.xml decodes --TESTCD with --TEST."""
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE,
                            usecols=list(PACKAGE_COLUMNS), encoding="utf-8")
    except ValueError as exc:         # a column missing, or not a tab-delimited file
        raise SpecError(f"not an NCI EVS terminology file: {exc}", file=str(path)) from None
    except OSError as exc:
        raise SpecError(f"cannot read the CT package: {exc.strerror or exc}", file=str(path)) from None
    columns = [frame[column].tolist() for column in PACKAGE_COLUMNS]
    heads, names, rows = {}, {}, {}
    for code, codelist, extensible, name, value, synonyms, preferred in zip(*columns, strict=True):
        if codelist:
            rows.setdefault(codelist, []).append((code, value, synonyms, preferred))
        else:
            heads[value] = (code, name, extensible == "Yes")
            names[code] = name
    partner = _test_name_lists(names)
    test_names = {(cl, code): value for cl in set(partner.values()) for code, value, *_ in rows.get(cl, ())}
    return Terminology(path, heads, rows, test_names, partner)


def _test_name_lists(names: dict[str, str]) -> dict[str, str]:
    """Test-code codelist -> its test-name codelist ("Laboratory Test Code" -> "Laboratory Test Name")."""
    by_name = {name: code for code, name in names.items()}
    return {code: by_name[name.removesuffix("Code") + "Name"] for code, name in names.items()
            if name.endswith(" Test Code") and name.removesuffix("Code") + "Name" in by_name}


def own_codelist(key: str, entry: dict, *, file: str, where: str) -> Codelist:
    """A codelist written out in full in a YAML file (sponsor lists, lists no package holds)."""
    if not isinstance(entry, dict):
        raise SpecError("a codelist is a mapping", file=file, key=where)
    terms = tuple(entry.get("terms") or ())
    for k, term in enumerate(terms):
        if not isinstance(term, dict) or "value" not in term:
            raise SpecError("each term is a mapping with a value", file=file, key=f"{where}.terms[{k}]")
    return Codelist(key, entry.get("name", key), entry.get("code"), bool(entry.get("extensible")), terms,
                    bool(entry.get("sponsor")), build_lookup(terms, file=file, key=where), bool(entry.get("subset")))


def _extend(base: Codelist, entry: dict, *, file: str, key: str) -> Codelist:
    unknown = set(entry) - {"terms", "note"}
    if unknown:
        raise SpecError(f"a package codelist takes only terms and note here, not {sorted(unknown)}", file=file, key=key)
    extra = {}
    added = []
    for k, term in enumerate(entry.get("terms") or ()):
        where = f"{key}.terms[{k}]"
        value = str(term.get("value", "")) if isinstance(term, dict) else ""
        if not value:
            raise SpecError("each term is a mapping with a value", file=file, key=where)
        if value in base.values:
            if set(term) - OVERLAY_TERM_KEYS:
                raise SpecError(f"{value!r} is a package term: the overlay gives it synonyms only, not "
                                f"{sorted(set(term) - OVERLAY_TERM_KEYS)}", file=file, key=where)
            extra[value] = tuple(term.get("synonyms") or ())
        elif not term.get("extended"):
            raise SpecError(f"{value!r} is not a term of {base.name} ({base.code}) in the CT package; "
                            "mark a sponsor extension with extended: true", file=file, key=where)
        elif not base.extensible:
            raise SpecError(f"{base.name} ({base.code}) is not extensible: {value!r} cannot be added", file=file, key=where)
        elif set(term) - EXTENSION_TERM_KEYS:
            raise SpecError(f"unknown key(s) {sorted(set(term) - EXTENSION_TERM_KEYS)}", file=file, key=where)
        else:
            added.append({"value": value, "code": None, "decode": term.get("decode", value), "extended": True,
                          "synonyms": tuple(term.get("synonyms") or ())})
    terms = tuple({**t, "synonyms": extra[t["value"]]} if t["value"] in extra else t for t in base.terms) + tuple(added)
    return replace(base, terms=terms, lookup=build_lookup(terms, file=file, key=key))
