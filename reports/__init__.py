"""Reports: statistics, tables as data, figures and rendering (issue 6)."""
