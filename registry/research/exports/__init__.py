"""De-identified cohort exports: CSV and XLSX, streamed, with a data dictionary.

`tables` defines what is exported (a `Table` of `Column`s each, their data
dictionary, and how their rows are read through a `Cohort`'s selection),
`writers` writes them (streamed CSV, a ZIP of CSVs, XLSX) and `jobs` builds
background exports in a worker and purges old files. The names below are the
package's public face, used by the research pages and the tasks.
"""

from registry.research.exports.jobs import export_dir, purge_expired_exports, run_export_job
from registry.research.exports.tables import (
    DICTIONARY_HEADER,
    TABLES,
    Column,
    Table,
    count_rows,
    dictionary_rows,
    headers,
    iter_rows,
    table_queryset,
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
    "TABLES",
    "Column",
    "Table",
    "count_rows",
    "csv_cell",
    "dictionary_rows",
    "export_dir",
    "headers",
    "iter_rows",
    "purge_expired_exports",
    "run_export_job",
    "stream_csv",
    "stream_dictionary_csv",
    "stream_table_csv",
    "table_queryset",
    "write_csv_zip",
    "write_xlsx",
]
