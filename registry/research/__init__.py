"""The research side: the cohort, reports, analyses, figures and exports.

A request parses one filter (`filters`), selects its cohort once (`cohort.Cohort`)
and hands that object to every report (`report`, `paper`), analysis
(`analyses`), figure (`figures`, `figure_data`), drill-down (`drill`) and
export (`exports`). Export jobs run in `tasks`; the pages are in `views`.
"""
