"""trialkit: raw clinical-trial exports to CDISC SDTM and ADaM, validated and reported.

The stages live in top-level folders mapped into this package (see pyproject.toml):
``trialkit.simulate`` -> ``trialkit.sdtm`` -> ``trialkit.adam`` -> ``trialkit.validators``
-> ``trialkit.reports``; ``trialkit.specs`` holds the YAML that says what a study is.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trialkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
