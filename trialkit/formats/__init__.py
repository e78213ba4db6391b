"""Input and output formats (DESIGN.md: "Submission I/O together"): raw EDC exports in every common
format read into one shape, ``RawExport``, so that the raw dictionary's checks, the SDTM stage and
``trialkit scaffold`` never need to know which format an export came in.
"""

from trialkit.formats.export import RawExport
from trialkit.formats.reading import read_export

__all__ = ["RawExport", "read_export"]
