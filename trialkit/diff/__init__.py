"""``trialkit diff``: what changed between two data transfers of one study, and what it moved.

- keys.py: the natural keys that match a record of one transfer with the same record of the next;
- records.py: one dataset compared (pandas merge on the keys, columns compared as whole arrays);
- folders.py: the kind of two folders (raw, SDTM, ADaM, run output), their study, every dataset;
- explain.py: the SDTM (and raw) records behind changed ADSL / ADTTE records, the report cells moved;
- output.py: the terminal summary, the JSON of every difference, the HTML page.
"""
