"""Lutetia's data model: raw clinical facts, one module per area, and derived results."""

from .events import AdverseEvent, ClinicalProgression, Criteria, ResponseCode, ResponseOverride
from .imaging import LesionMeasurement, Modality, NonTargetStatus, Scan
from .jobs import ExportJob, ImportJob, JobStatus
from .labs import Analyte, LabResult
from .outcomes import CourseOutcome, PatientState, TimePointResponse
from .patients import Patient, PatientIdentity, PrimarySite, Sex
from .sites import Role, Site, StaffProfile
from .treatment import Course, Cycle, Phase, StopReason

__all__ = [
    "AdverseEvent",
    "Analyte",
    "ClinicalProgression",
    "Course",
    "CourseOutcome",
    "Criteria",
    "Cycle",
    "ExportJob",
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
    "ResponseCode",
    "ResponseOverride",
    "Role",
    "Scan",
    "Sex",
    "Site",
    "StaffProfile",
    "StopReason",
    "TimePointResponse",
]
