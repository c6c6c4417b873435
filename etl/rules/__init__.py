"""Toepasbare regels: the DSO's STTR files (DMN 1.1 with the DSO extensions) → :class:`core.toepasbare_regels.Activity`.

- `etl.rules.sttr` — reading and checking STTR documents (`read_sttr`, `parse_sttr`, `sttr_documents`)
- `etl.rules.importer` — `stadsmodel rules import`: the activities into the store's ``toepasbare_regels`` table
"""
