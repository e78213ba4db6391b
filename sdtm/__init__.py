"""SDTM mapping engine: raw EDC forms -> SDTM domains, driven by YAML specs (issue 3)."""
