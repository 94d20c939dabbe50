"""The clinical engine: plain Python on plain data, no Django (CLINICAL.md, STYLE.md §1).

Entry points: `timeline.evaluate_patient` (everything derived for a patient),
`survival.kaplan_meier` / `survival.logrank` (cohort analyses),
`eligibility.check_before_cycle`, `quality.findings`, `units.measure`.
"""
