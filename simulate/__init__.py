"""Simulated raw EDC exports of a study, calibrated from its profile (specs/studies/<study>/profile.yaml)."""

from trialkit.stage_names import yield_to_installed

yield_to_installed(__name__, __file__)
