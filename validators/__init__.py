"""Validators: schemas from specs, cross-dataset and event-definition rules (issue 5)."""

from trialkit.stage_names import yield_to_installed

yield_to_installed(__name__, __file__)
