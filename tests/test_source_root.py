"""Python started in the repository root (``python -c``, ``python -m``, ``python -m pytest``) has the
root first on sys.path, where the stage folders (validators/, reports/...) sit. They must not shadow
installed packages of the same name -- odmlib imports PyPI's ``validators`` -- and the commands
docs/new-study.md gives must work from there (trialkit/stage_names.py)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from reference_data import ROOT

STAGES = ("simulate", "sdtm", "adam", "validators", "reports", "specs")


def _python(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """A fresh interpreter started in the repository root."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_root_01_pypi_validators_and_odmlib_import_from_the_repository_root():
    """Test 1: from the root, ``import validators`` is PyPI's (``from validators import email`` is the
    import that failed), odmlib's Define-XML model imports, and the stage is still trialkit's."""
    done = _python("-c", "import validators, odmlib.define_2_1.model; from validators import email; "
                         "import trialkit.validators.run as run; print(validators.__file__); print(run.__file__)")
    assert done.returncode == 0, done.stderr[-3000:]
    pypi, stage = (Path(line) for line in done.stdout.splitlines())
    assert pypi.parent.name == "validators" and pypi.parent.parent.name == "site-packages"
    assert stage.parent.name == "validators" and stage.name == "run.py"


def test_root_02_a_stage_imported_by_its_bare_name_yields_only_to_an_installed_namesake(tmp_path):
    """Test 2: each stage folder, imported by its bare name from the root, is replaced by a package
    of that name installed elsewhere on sys.path; with none installed (``-S``: no site-packages) it
    stays the folder."""
    installed = tmp_path / "site"
    for stage in STAGES:
        (installed / stage).mkdir(parents=True)
        (installed / stage / "__init__.py").write_text("", encoding="utf-8")
    check = "; ".join(f"import {stage}; print({stage}.__file__)" for stage in STAGES)
    shadowed = _python("-c", check, pythonpath=installed)
    assert shadowed.returncode == 0, shadowed.stderr[-3000:]
    assert [Path(p).parent.parent for p in shadowed.stdout.splitlines()] == [installed] * len(STAGES)
    alone = _python("-S", "-c", check)
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert [Path(p).parent.parent for p in alone.stdout.splitlines()] == [ROOT] * len(STAGES)


def test_root_03_docs_new_study_commands_work_from_the_repository_root(tmp_path):
    """Test 3: docs/new-study.md's commands, run from the root as ``python -m trialkit.cli`` (an
    import of the stage folders there failed with ``cannot import name 'email' from 'validators'``):
    ``spec check`` prints what the page shows, and ``simulate`` writes the export it describes."""
    text = (ROOT / "docs" / "new-study.md").read_text(encoding="utf-8")
    checked = _python("-m", "trialkit.cli", "spec", "check", "solid_tumour")
    assert checked.returncode == 0, checked.stderr[-3000:]
    (shown,) = re.findall(r"^\$ trialkit spec check solid_tumour .*?\n(.*?)^\$", text, flags=re.DOTALL | re.MULTILINE)
    assert checked.stdout == shown
    (command, said) = re.findall(r"^\$ (trialkit simulate --study solid_tumour [^#\n]*?)\s*(?:#.*)?\n(.*?)\n", text,
                                 flags=re.MULTILINE)[0]
    args = shlex.split(command)[1:]
    raw = tmp_path / "onco02-raw"
    args[args.index("--out") + 1] = str(raw)
    made = _python("-m", "trialkit.cli", *args)
    assert made.returncode == 0, made.stderr[-3000:]
    assert (raw / "demography.csv").is_file()
    assert made.stdout.strip() == said.replace("onco02-raw", str(raw))
