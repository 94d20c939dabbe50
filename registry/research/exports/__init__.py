"""De-identified cohort exports: CSV, XLSX, SPSS and Stata, with a dictionary, README and R loader.

`scope` says what an export covers and how it hides dates (`ExportScope`),
`options` reads and checks an export request, `tables` defines what is
exported (a `Table` of `Column`s each, their data dictionary, and how their
rows are read through the scope), `writers` writes them (streamed CSV, a ZIP
of CSVs with README.txt and load.R, XLSX), `copying` has PostgreSQL format
the labs CSV (the same bytes, by COPY) and `copystream` runs it (a large export
over two connections in one snapshot), `statfiles` the `.sav`/`.dta`
files, `readme` the README and the R loader, and `jobs` builds background
exports in a worker and purges old files. The names below are the package's
public face, used by the research pages and the tasks.
"""

from registry.research.exports.columns import Column, Table
from registry.research.exports.jobs import export_dir, purge_expired_exports, run_export_job
from registry.research.exports.options import FORMATS, ExportOptions, export_options, levels_for
from registry.research.exports.scope import Coverage, ExportScope, Level, date_shift_days
from registry.research.exports.tables import (
    DICTIONARY_HEADER,
    TABLES,
    count_rows,
    dictionary_rows,
    headers,
    iter_rows,
    table_counts,
    table_queryset,
    tables_for,
)
from registry.research.exports.writers import (
    csv_cell,
    stream_csv,
    stream_dictionary_csv,
    stream_table_csv,
    write_csv_zip,
    write_xlsx,
)

__all__ = [
    "DICTIONARY_HEADER",
    "FORMATS",
    "TABLES",
    "Column",
    "Coverage",
    "ExportOptions",
    "ExportScope",
    "Level",
    "Table",
    "count_rows",
    "csv_cell",
    "date_shift_days",
    "dictionary_rows",
    "export_dir",
    "export_options",
    "headers",
    "iter_rows",
    "levels_for",
    "purge_expired_exports",
    "run_export_job",
    "stream_csv",
    "stream_dictionary_csv",
    "stream_table_csv",
    "table_counts",
    "table_queryset",
    "tables_for",
    "write_csv_zip",
    "write_xlsx",
]
