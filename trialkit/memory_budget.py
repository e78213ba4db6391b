"""Refuse, before reading, inputs that cannot fit in this machine's memory.

Reading more than memory holds ends with the kernel's OOM killer: a SIGKILL with no word, after
minutes, possibly taking the machine's other work with it. What a file needs once read is at least a
measured multiple of its size (pandas frames of object strings), so when even that lower bound is
above the memory there is, the command stops at once (exit 2) naming the files, the estimate and the
memory available. The factors of text and XPT are lower bounds measured on the simulated 10,000-subject study
(benchmarks' seed): a raw CSV export of 25.1 MiB took 179 MiB to read (7.1x), its SDTM XPT folder of
120 MiB took 260 MiB (2.2x); Dataset-JSON text is counted at its size. Parquet compresses too well
for its size to say anything (a 10,000-subject pool, 4 studies, 870,711 records: 6.7 MiB of Parquet
took 208 MiB to read, 31x), so it is counted from its footers: 17 bytes per value (records x
variables). That one is an estimate, not a lower bound, because near the memory's end a lower bound
lets through what the OOM killer then ends. The validator's pools grew (peak less the 400 MiB the process
holds before reading) by 23 bytes per value at 10,000 subjects (13.1 million values), 18.0 at
100,000 (132 million) and 16.7 at 1,000,000 (1.32 billion values, 21,444 MiB peak of 23,515
available): a fixed part of about 170 MiB and 16.6 bytes per value. At 16 bytes the estimate let
through pools of up to 1.17 million subjects where 1.1 million was the most that fit; at 17 it
refuses pools about 2% smaller than the largest that fits, and small pools, under-counted, are far
from any limit. Formats whose size says little about their content
(compressed SAS7BDAT, XLSX, verbose ODM-XML) are not estimated.

The memory available is the kernel's MemAvailable plus free swap, or the headroom of the process's
cgroup (v2 ``memory.max`` less ``memory.current``: a CI container's limit) where that is lower.
Where neither can be read (not Linux) nothing is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from trialkit.errors import InputError

READ_FACTOR = {".csv": 5.0, ".xpt": 1.5, ".json": 1.0, ".ndjson": 1.0}
CELL_BYTES = 17         # a Parquet value read and validated with pandas: 16.7 measured at 1.3 billion values (module docstring)
GIB = 1024 ** 3


def meminfo_available(text: str) -> int | None:
    """MemAvailable + SwapFree in bytes from the text of /proc/meminfo (None without MemAvailable)."""
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * 1024       # /proc/meminfo counts kB
    if "MemAvailable" not in fields:
        return None
    return fields["MemAvailable"] + fields.get("SwapFree", 0)


def cgroup_headroom(limit: str, current: str) -> int | None:
    """memory.max less memory.current of a cgroup v2 (None when the limit is "max": no limit)."""
    limit, current = limit.strip(), current.strip()
    if not limit.isdigit() or not current.isdigit():
        return None
    return max(int(limit) - int(current), 0)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def available_bytes() -> int | None:
    """The memory a new allocation can still get, in bytes; None where this cannot be told."""
    known = []
    meminfo = _read("/proc/meminfo")
    if meminfo is not None and (free := meminfo_available(meminfo)) is not None:
        known.append(free)
    limit, current = _read("/sys/fs/cgroup/memory.max"), _read("/sys/fs/cgroup/memory.current")
    if limit is not None and current is not None and (headroom := cgroup_headroom(limit, current)) is not None:
        known.append(headroom)
    return min(known) if known else None


def parquet_values(path: Path) -> int:
    """Records x variables of a Parquet file, from its footer (0 when it cannot be read: its reader says why)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except (pa.ArrowException, OSError):
        return 0
    return meta.num_rows * meta.num_columns


def estimated_read_bytes(paths: Iterable[Path]) -> tuple[int, list[Path]]:
    """The lower bound of the memory reading ``paths`` takes, and the files counted in it."""
    counted = [Path(p) for p in paths if Path(p).suffix.lower() in (*READ_FACTOR, ".parquet") and Path(p).is_file()]
    return int(sum(parquet_values(p) * CELL_BYTES if p.suffix.lower() == ".parquet"
                   else p.stat().st_size * READ_FACTOR[p.suffix.lower()] for p in counted)), counted


def _size(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / 1024 ** 2:.1f} MiB"


def check_fits(paths: Iterable[Path], what: str, advice: str = "split the input, or run on a machine with more memory") -> None:
    """Raise :class:`InputError` when reading ``paths`` cannot fit in the memory available."""
    needed, counted = estimated_read_bytes(paths)
    available = available_bytes()
    if available is None or needed <= available:
        return
    largest = sorted(counted, key=lambda p: -p.stat().st_size)[:3]
    sizes = ", ".join(f"{p.name} {_size(p.stat().st_size)}" for p in largest)
    raise InputError(f"{what} needs at least {_size(needed)} of memory to read ({len(counted)} files; largest: "
                     f"{sizes}) but {_size(available)} is available: {advice}",
                     file=str(largest[0].parent) if largest else None)
