"""Write tests/data/cdiscpilot01/: the part of the CDISC pilot study the fast suite reads.

    python tests/data/make_cdiscpilot01.py [PILOT]     (default: ../shared/reference/cdiscpilot01)

Small files are copied whole and unchanged. Of the large SDTM files only the records of a few
subjects are kept, as the bytes SAS wrote them: an XPT v5 file is its header records, then one
fixed-length record per observation, then blanks up to a multiple of 80 bytes, and it carries no
record count, so the header plus some of the records is the file SAS would have written for those
records alone (cp1252 text, lengths, labels and formats included). Re-running the script gives
byte-identical files; a `reference` test checks that against the full package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyreadstat

HERE = Path(__file__).resolve().parent
OUT = HERE / "cdiscpilot01"
WHOLE = ("sdtm/dm.xpt", "sdtm/ts.xpt", "adam/adsl.xpt", "adam/adtte.xpt")
SLICED = ("sdtm/ae.xpt", "sdtm/lbch.xpt", "sdtm/lbhe.xpt", "sdtm/lbur.xpt")
ARMS = ("Pbo", "Xan_Lo", "Xan_Hi")
OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"
NAMESTR_HEADER = b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!"
MEMBER_HEADER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"


def subjects(pilot: Path) -> list[str]:
    """The first subject of each planned arm, in DM order, who has adverse events."""
    dm, _ = pyreadstat.read_xport(str(pilot / "sdtm" / "dm.xpt"), encoding="cp1252")
    ae, _ = pyreadstat.read_xport(str(pilot / "sdtm" / "ae.xpt"), encoding="cp1252", usecols=["USUBJID"])
    with_ae = dm[dm["USUBJID"].isin(set(ae["USUBJID"]))]
    return [with_ae.loc[with_ae["ARMCD"] == arm, "USUBJID"].iloc[0] for arm in ARMS]


def layout(data: bytes) -> tuple[int, int]:
    """(offset of the first observation, record length) of a one-member XPT v5 file."""
    if data.count(MEMBER_HEADER) != 1:
        raise ValueError("not a one-member XPT v5 file")
    namestr = data.index(NAMESTR_HEADER)
    count = int(data[namestr + 54:namestr + 58])
    size = int(data[data.index(MEMBER_HEADER) + 74:data.index(MEMBER_HEADER) + 78])   # 140 (136 on VAX/VMS)
    start = namestr + 80
    ends = []
    for i in range(count):
        record = data[start + i * size:start + (i + 1) * size]
        length, position = int.from_bytes(record[4:6], "big"), int.from_bytes(record[84:88], "big")
        ends.append(position + length)
    return data.index(OBS_HEADER) + 80, max(ends)


def keep_records(data: bytes, rows: list[int]) -> bytes:
    """The file with only the given observations (0-based, in file order), padded as SAS pads."""
    first, length = layout(data)
    body = b"".join(data[first + r * length:first + (r + 1) * length] for r in rows)
    return data[:first] + body + b" " * (-len(body) % 80)


def build(pilot: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every vendored file."""
    keep = set(subjects(pilot))
    files = {name: (pilot / name).read_bytes() for name in WHOLE}
    for name in SLICED:
        frame, _ = pyreadstat.read_xport(str(pilot / name), encoding="cp1252", usecols=["USUBJID"])
        files[name] = keep_records((pilot / name).read_bytes(), [i for i, s in enumerate(frame["USUBJID"]) if s in keep])
    return files


def main(argv: list[str]) -> None:
    pilot = Path(argv[0]) if argv else HERE.parents[2] / "shared" / "reference" / "cdiscpilot01"
    for name, data in build(pilot).items():
        (OUT / name).parent.mkdir(parents=True, exist_ok=True)
        (OUT / name).write_bytes(data)
        print(f"{OUT / name}: {len(data):,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
