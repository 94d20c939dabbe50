"""Lutetia's data model: raw clinical facts, one module per area, and derived results."""

from registry.models.events import (
    AdverseEvent,
    ClinicalProgression,
    Criteria,
    ResponseCode,
    ResponseOverride,
)
from registry.models.imaging import LesionMeasurement, Modality, NonTargetStatus, Scan
from registry.models.jobs import ExportJob, ImportJob, JobStatus
from registry.models.labs import Analyte, LabResult
from registry.models.outcomes import CourseOutcome, PatientState, TimePointResponse
from registry.models.patients import Patient, PatientIdentity, PrimarySite, Sex
from registry.models.queries import DataQuery, FactKind, QueryStatus
from registry.models.sites import Role, Site, StaffProfile
from registry.models.throttles import ThrottleWindow
from registry.models.treatment import Course, Cycle, Phase, RecordStatus, StopReason

__all__ = [
    "AdverseEvent",
    "Analyte",
    "ClinicalProgression",
    "Course",
    "CourseOutcome",
    "Criteria",
    "Cycle",
    "DataQuery",
    "ExportJob",
    "FactKind",
    "ImportJob",
    "JobStatus",
    "LabResult",
    "LesionMeasurement",
    "Modality",
    "NonTargetStatus",
    "Patient",
    "PatientIdentity",
    "PatientState",
    "Phase",
    "PrimarySite",
    "QueryStatus",
    "RecordStatus",
    "ResponseCode",
    "ResponseOverride",
    "Role",
    "Scan",
    "Sex",
    "Site",
    "StaffProfile",
    "StopReason",
    "ThrottleWindow",
    "TimePointResponse",
]
