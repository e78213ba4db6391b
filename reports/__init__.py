"""Reports: statistics, tables as data, figures and rendering (issue 6)."""

from trialkit.stage_names import yield_to_installed

yield_to_installed(__name__, __file__)
