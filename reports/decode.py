"""The words a table shows for a coded value: the shell's, else the CT decode, one rule for every table.

A table that printed "WHITE" under Race next to "Female" under Sex (the shell's words) reads as two
programs' output. So a row of a coded ADSL value is labelled by, in order:

* the shell's ``levels`` (study wording, e.g. "M1 (< 5% blasts)");
* for a value of a CDISC codelist (the one the row names, ``codelist: NCOMPLT``, or the one ADaMIG
  gives the variable, ADSL.RACE: RACE), the CT's decode when it spells the value ("WHITE": "White");
  the CT's decode is the NCI preferred term, which can be other words ("BLACK OR AFRICAN AMERICAN":
  "African American", "COMPLETED": "Complete"), and a table must not change what the data say, so
  then the value itself in title case ("Black or African American");
* else the value as stored: without a codelist nothing says it is words, and a guess at its case
  ("Cd19-negative") would be worse than the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from trialkit.reports.tlf import value_key
from trialkit.sdtm.standards import load_codelists, load_domains

ADAMIG = "adamig-1.3"


@lru_cache(maxsize=1)
def _decodes() -> dict[str, dict[str, str]]:
    """codelist -> submission value -> decode, from the SDTM and ADaM CT files."""
    codelists = {**load_codelists(), **load_codelists("adam-ct.yaml")}
    return {name: {str(t["value"]): str(t["decode"]) for t in cl.terms if t.get("decode")} for name, cl in codelists.items()}


def codelist_of(item: dict, variable: str, dataset: str = "ADSL") -> str | None:
    """The codelist a row's values come from: the shell's ``codelist``, else ADaMIG's for the variable."""
    if item.get("codelist"):
        return str(item["codelist"])
    meta = load_domains(ADAMIG).get(dataset)
    found = meta.variable(variable) if meta is not None else None
    return found.codelist if found is not None else None


SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


def title_case(value: str) -> str:
    """"BLACK OR AFRICAN AMERICAN" -> "Black or African American": each word capitalized but the
    small ones after the first, as CDISC's decodes write them."""
    parts = re.split(r"([ /])", value.lower())      # words and the spaces or slashes between them
    return "".join(w if i and w in SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(parts))


def decode(value: str, codelist: str | None) -> str:
    """The label of ``value``, a submission value of ``codelist`` (None: not coded)."""
    if codelist is None or codelist not in _decodes():
        return value
    decoded = _decodes()[codelist].get(value, "")
    return decoded if decoded.casefold() == value.casefold() else title_case(value)


def display_levels(item: dict, present: Iterable[str], variable: str) -> dict[str, str]:
    """value -> row label for a row of ``variable``: the shell's ``levels`` when it gives them (its
    order), else every non-blank value ``present``, sorted, with its decode."""
    if item.get("levels"):
        return {value_key(k): str(v) for k, v in item["levels"].items()}
    codelist = codelist_of(item, variable)
    return {value: decode(value, codelist) for value in sorted(set(present) - {""})}


def other_levels(item: dict, present: Iterable[str], variable: str, shown: dict[str, str]) -> dict[str, str]:
    """The non-blank values ``present`` that ``shown`` does not list, with their decode: the rows a
    count table adds after the shell's levels, so that no subject is silently left out."""
    codelist = codelist_of(item, variable)
    return {value: decode(value, codelist) for value in sorted(set(present) - set(shown) - {""})}
