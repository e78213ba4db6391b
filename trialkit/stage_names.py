"""Keep the stage folders from shadowing installed packages of the same name.

The stages are top-level folders of the repository (``validators/``, ``reports/``, ``specs/``...),
mapped into this package by pyproject.toml's ``package-dir``. Python started in the repository root
(``python -c ...``, ``python -m trialkit.cli ...``, ``python -m pytest``) puts the root first on
sys.path, so a plain ``import validators`` -- odmlib's, for one -- would find the folder instead of
PyPI's ``validators``. Each stage's ``__init__`` calls :func:`yield_to_installed`: imported under its
bare name, the folder hands that name to the installed package, which is then what the import
statement returns (the import system returns whatever ``sys.modules`` holds after the module ran).

Folders without ``__init__.py`` would lose to an installed package by Python's own rules (a PEP 420
namespace portion never shadows a regular package), but were measured not to work here: setuptools'
editable install cannot import a namespace package mapped by ``package-dir`` (pypa/setuptools#4943,
setuptools 84), and on Python 3.11 ``importlib.resources.files()`` of a namespace package is a
MultiplexedPath whose ``joinpath`` takes a single segment.
"""

from __future__ import annotations

import sys
from importlib.machinery import PathFinder
from importlib.util import module_from_spec
from pathlib import Path


def yield_to_installed(name: str, init_file: str) -> None:
    """Put the installed package called ``name`` in ``sys.modules[name]`` if this stage folder is
    being imported as ``name`` (its bare folder name) and such a package exists elsewhere on
    sys.path; imported as ``trialkit.<stage>``, or with nothing else of that name installed, the
    folder stays what it is."""
    if "." in name:
        return
    root = Path(init_file).resolve().parents[1]
    elsewhere = [entry for entry in sys.path if Path(entry or ".").resolve() != root]
    spec = PathFinder.find_spec(name, elsewhere)
    if spec is None or spec.loader is None:  # not installed, or only a namespace portion
        return
    module = module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
