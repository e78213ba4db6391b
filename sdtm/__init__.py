"""SDTM mapping engine: raw EDC forms -> SDTM domains, driven by YAML specs (issue 3)."""

from trialkit.stage_names import yield_to_installed

yield_to_installed(__name__, __file__)
