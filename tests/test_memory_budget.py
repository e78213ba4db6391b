"""An input that cannot fit in memory is refused before it is read (trialkit.memory_budget)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from trialkit.cli import main, run_simulation
from trialkit.errors import InputError
from trialkit.memory_budget import available_bytes, cgroup_headroom, check_fits, meminfo_available

MEMINFO = """MemTotal:       24683520 kB
MemFree:          912340 kB
MemAvailable:    2097152 kB
SwapTotal:       1048576 kB
SwapFree:         524288 kB
"""


def test_memory_01_meminfo_and_cgroup_are_read_as_the_kernel_writes_them():
    """Test 1: MemAvailable plus free swap, in bytes; a cgroup's headroom is its limit less its use,
    none when the limit is "max"; a meminfo without MemAvailable (kernels before 3.14) tells nothing."""
    assert meminfo_available(MEMINFO) == (2097152 + 524288) * 1024
    assert meminfo_available("MemTotal: 100 kB\n") is None
    assert cgroup_headroom("4294967296\n", "1073741824\n") == 3 * 1024 ** 3
    assert cgroup_headroom("max\n", "1073741824\n") is None
    assert cgroup_headroom("1000\n", "2000\n") == 0
    free = available_bytes()
    assert free is None or free > 0


def test_memory_02_a_raw_export_beyond_memory_is_refused_naming_its_largest_file(tmp_path, monkeypatch):
    """Test 2: with less memory than five times the CSV export, ``trialkit sdtm`` exits 2 at once,
    naming the largest form file, the estimate and the memory there is, and writes nothing."""
    run_simulation("ball_relapse", 20, 5, tmp_path / "raw", None, 0, 0.0)
    largest = max((tmp_path / "raw").glob("*.csv"), key=lambda p: p.stat().st_size)
    total = sum(p.stat().st_size for p in (tmp_path / "raw").glob("*.csv"))
    monkeypatch.setattr("trialkit.memory_budget.available_bytes", lambda: 5 * total - 1)
    result = CliRunner().invoke(main, ["sdtm", str(tmp_path / "raw"), "--out", str(tmp_path / "sdtm")])
    assert result.exit_code == 2, result.output
    assert "needs at least" in result.output and largest.name in result.output and "is available" in result.output
    assert not (tmp_path / "sdtm").exists()
    monkeypatch.setattr("trialkit.memory_budget.available_bytes", lambda: 5 * total)
    check_fits((tmp_path / "raw").glob("*.csv"), "the export")          # exactly enough: read


def test_memory_03_validate_refuses_a_dataset_folder_beyond_memory(tmp_path, monkeypatch):
    """Test 3: the same for the datasets ``trialkit validate`` reads (XPT counted at 1.5x); a FIFO
    or a folder named like a dataset is not counted (never opened)."""
    run_simulation("ball_relapse", 20, 5, tmp_path / "raw", None, 0, 0.0)
    assert CliRunner().invoke(main, ["sdtm", str(tmp_path / "raw"), "--out", str(tmp_path / "sdtm")]).exit_code in (0, 1)
    (tmp_path / "sdtm" / "zz.xpt").mkdir()
    xpts = [p for p in (tmp_path / "sdtm").glob("*.xpt") if p.is_file()]
    monkeypatch.setattr("trialkit.memory_budget.available_bytes", lambda: int(sum(p.stat().st_size for p in xpts) * 1.4))
    with pytest.raises(InputError, match="needs at least"):
        check_fits((tmp_path / "sdtm").glob("*.xpt"), "the datasets")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "sdtm"), "--rules", "trialkit",
                                       "--out", str(tmp_path / "v.json")])
    assert result.exit_code == 2 and "needs at least" in result.output, result.output
    shutil.rmtree(tmp_path / "sdtm" / "zz.xpt")
    monkeypatch.setattr("trialkit.memory_budget.available_bytes", lambda: int(sum(p.stat().st_size for p in xpts) * 1.5) + 8)
    check_fits((tmp_path / "sdtm").glob("*.xpt"), "the datasets")
