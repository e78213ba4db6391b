"""``trialkit scaffold``: a starting study folder (raw dictionary, SDTM skeletons) from a raw export.

A new study used to start from an empty folder. ``infer`` reads each field's type, codes and date
layout off the export's values (and an ODM export's metadata); ``domains`` recognizes the SDTM
domains the forms hold by names a data manager would recognize; ``study`` writes the YAML so that
``trialkit spec check`` passes and ``trialkit sdtm`` runs on the export straight away.
"""

from trialkit.scaffold.study import Scaffold, build_scaffold, scaffold_study

__all__ = ["Scaffold", "build_scaffold", "scaffold_study"]
