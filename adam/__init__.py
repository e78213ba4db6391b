"""ADaM derivations: ADSL, ADTTE from declarative event/censor sources, ADRS (issue 4)."""

from trialkit.stage_names import yield_to_installed

yield_to_installed(__name__, __file__)
