"""ADaM derivations: ADSL, ADTTE from declarative event/censor sources, ADRS (issue 4)."""
