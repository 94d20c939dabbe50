"""Research dashboards, cohort reports and exports (issue 7)."""

from django.urls import path

from registry.research import views as research

urlpatterns = [
    path("", research.dashboard, name="research_dashboard"),
    path("report/", research.report, name="research_report"),
    path("report.pdf", research.report_pdf, name="research_report_pdf"),
    path("patients/", research.patients, name="research_patients"),
    path("quality/", research.quality, name="research_quality"),
    path("export/", research.export_page, name="research_export"),
    path("export/cohort.xlsx", research.export_xlsx, name="research_export_xlsx"),
    path("export/<slug:table>.csv", research.export_csv, name="research_export_csv"),
    path("export/jobs/", research.export_job_create, name="research_export_jobs"),
    path("export/jobs/<int:pk>/", research.export_job_status, name="research_export_job"),
    path(
        "export/jobs/<int:pk>/download/",
        research.export_job_download,
        name="research_export_download",
    ),
]
