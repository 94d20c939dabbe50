"""Lutetia's data model: raw clinical facts, one module per area, and derived results."""

from registry.models import lookups  # noqa: F401 - registers `field__any`
from registry.models.custom import CustomField, FieldType, Level
from registry.models.events import (
    AdverseEvent,
    AdverseEventCategory,
    Attribution,
    ClinicalProgression,
    Criteria,
    ResponseCode,
    ResponseOverride,
)
from registry.models.imaging import LesionMeasurement, Modality, NonTargetStatus, Scan
from registry.models.jobs import ExportJob, ImportJob, JobStatus
from registry.models.labs import Analyte, LabResult
from registry.models.outcomes import CourseOutcome, PatientState, TimePointResponse
from registry.models.patients import (
    CauseOfDeath,
    FunctionalSyndrome,
    Patient,
    PatientIdentity,
    PrimarySite,
    PriorTreatment,
    PriorTreatmentType,
    Sex,
    WhoGrade,
)
from registry.models.queries import DataQuery, FactKind, QueryStatus
from registry.models.sites import Role, Site, StaffProfile
from registry.models.throttles import ThrottleWindow
from registry.models.treatment import (
    Course,
    Cycle,
    LiverLoad,
    Phase,
    RecordStatus,
    ReducedReason,
    StopReason,
    UptakeModality,
)

__all__ = [
    "AdverseEvent",
    "AdverseEventCategory",
    "Analyte",
    "Attribution",
    "CauseOfDeath",
    "ClinicalProgression",
    "Course",
    "CourseOutcome",
    "Criteria",
    "CustomField",
    "Cycle",
    "DataQuery",
    "ExportJob",
    "FactKind",
    "FieldType",
    "FunctionalSyndrome",
    "ImportJob",
    "JobStatus",
    "LabResult",
    "LesionMeasurement",
    "Level",
    "LiverLoad",
    "Modality",
    "NonTargetStatus",
    "Patient",
    "PatientIdentity",
    "PatientState",
    "Phase",
    "PrimarySite",
    "PriorTreatment",
    "PriorTreatmentType",
    "QueryStatus",
    "RecordStatus",
    "ReducedReason",
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
    "UptakeModality",
    "WhoGrade",
]
