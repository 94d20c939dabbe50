"""Research pages (issue 7): dashboards, the paper-style report, drill-down lists, exports."""

from registry.research.views.exports import (
    export_csv,
    export_job_create,
    export_job_download,
    export_job_status,
    export_page,
    export_xlsx,
)
from registry.research.views.pages import dashboard, patients, quality, report
from registry.research.views.pdf import report_pdf

__all__ = [
    "dashboard",
    "export_csv",
    "export_job_create",
    "export_job_download",
    "export_job_status",
    "export_page",
    "export_xlsx",
    "patients",
    "quality",
    "report",
    "report_pdf",
]
