"""Simulated raw EDC exports of a study, calibrated from its profile (specs/studies/<study>/profile.yaml)."""
