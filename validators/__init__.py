"""Validators: schemas from specs, cross-dataset and event-definition rules (issue 5)."""
