"""CDISC CORE conformance rules, run by trialkit's own interpreter.

A CORE rule is data: the ``rule.yml`` that CDISC publishes in its open rules repository (Scope,
Check, Operations, Match Datasets, Outcome, Sensitivity). Nothing here is written per rule. The
room is laid out as the engine's parts, each small enough to read alone:

- ``rules``: load and check rule files (an unknown operator or a broken file is a load error
  naming the file and key; the other rules still run);
- ``study``: the datasets under validation with the metadata the rules look at (names, labels,
  variables, split datasets, SUPP-- / AP-- naming);
- ``library``: the standard's metadata (dataset classes, IG and model variables) and CT;
- ``scope``: whether a rule applies to a dataset (standard and version, classes, domains);
- ``frames``: the frame each rule type evaluates (dataset records, dataset metadata, variable
  metadata, domain presence...);
- ``merge``: Match Datasets (joins with other datasets, SUPP-- and RELREC relationships);
- ``operations``: values computed before the check (``distinct``, ``dy``, ``record_count``...);
- ``operators``: the closed vocabulary of checks, each a vectorized function over whole columns;
- ``check``: the all / any / not tree;
- ``outcome``: flagged records into findings with the rule's output variables;
- ``engine``: runs rules over a study, with a status and a time for every rule;
- ``cases``: CDISC's own positive / negative test cases, run and compared record for record.

The semantics of every operator and operation follow the CORE engine's documentation
(cdisc-org/cdisc-rules-engine, resources/schema/rule/Operator.md and Operations.md); the code is
trialkit's own.
"""
