"""YAML specs: standards/ (SDTMIG, ADaMIG, CT subsets) and studies/<study>/.

This package holds data only; it is a package so that installed copies can be read through
importlib.resources (see trialkit.spec).
"""

from trialkit.stage_names import yield_to_installed

yield_to_installed(__name__, __file__)
