"""Which format a file is in, told from its first bytes rather than its name: an export renamed by
hand (a SAS dataset saved as .dat, an ODM file as .txt) is still read as what it is.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

SAS7BDAT_MAGIC = bytes.fromhex("000000000000000000000000c2ea8160b31411cfbd92080009c7318c181f1011")
XPT_HEADER = b"HEADER RECORD*******LIB"   # LIBRARY HEADER RECORD (V5) or LIBV8   HEADER RECORD (V8)
ODM_NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
PROLOG_BYTES = 4096


def _odm_root(head: bytes) -> bool:
    """Whether the first element of an XML prolog is ``ODM`` in the ODM 1.3 namespace (read without
    parsing: a DOCTYPE in the prolog must not be loaded here either)."""
    text = head.decode("utf-8", errors="replace")
    at = 0
    while True:
        at = text.find("<", at)
        if at < 0 or at + 1 >= len(text):
            return False
        if text[at + 1] in "?!":
            at += 1
            continue
        tag = text[at + 1:].split(None, 1)[0].rstrip(">")
        start = text[at:].split(">", 1)[0]
        local = tag.split(":")[-1]
        return local == "ODM" and ODM_NAMESPACE in start


def detect_format(path: Path) -> str:
    """One of 'sas7bdat', 'xpt', 'xlsx', 'odm' by content; 'csv' for anything else (text)."""
    with open(path, "rb") as fh:
        head = fh.read(PROLOG_BYTES)
    if head[:32] == SAS7BDAT_MAGIC:
        return "sas7bdat"
    if head.startswith(XPT_HEADER):
        return "xpt"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                if "xl/workbook.xml" in z.namelist():
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<") and _odm_root(stripped):
        return "odm"
    return "csv"
