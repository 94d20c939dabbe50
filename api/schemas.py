"""Response shapes of the computed endpoints, for the OpenAPI schema (CONTRACT.md).

The views return plain dicts built by `registry.research`; these
serializers only describe them, so the schema (and schemathesis, which checks
every response against it) knows every key.
"""

from __future__ import annotations

from rest_framework import serializers

from registry.derive.outcomes import ENDPOINTS, GRADE_KEYS, TOXICITY_KEYS
from registry.models import Criteria, JobStatus, Phase, ResponseCode

MONTHS = "Months (days / 30.4375), full double precision."


def _fields(component: str, names, make) -> type[serializers.Serializer]:
    """A serializer whose field names are not Python identifiers ("0", "CR")."""

    def get_fields(self):
        return {name: make(name) for name in names}

    return type(component, (serializers.Serializer,), {"get_fields": get_fields})


def _pair(help_text: str = "") -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        min_length=2,
        max_length=2,
        help_text=help_text or "95 % bounds; null = not reached or undefined.",
    )


class ResponsesSerializer(serializers.Serializer):
    swog = serializers.ChoiceField(choices=ResponseCode.choices, help_text="Override applied.")
    recist = serializers.ChoiceField(choices=ResponseCode.choices, help_text="Override applied.")


WorstGradeSerializer = _fields(
    "WorstGrade",
    TOXICITY_KEYS,
    lambda name: serializers.IntegerField(
        allow_null=True, help_text=f"Worst CTCAE v5.0 grade of {name}; null = not assessed."
    ),
)


class EndpointSerializer(serializers.Serializer):
    months = serializers.FloatField(allow_null=True, help_text=MONTHS)
    event = serializers.BooleanField(help_text="False: censored.")


class CourseOutcomeSerializer(serializers.Serializer):
    course = serializers.IntegerField(help_text="The course's id.")
    phase = serializers.ChoiceField(choices=Phase.choices)
    round = serializers.IntegerField(help_text="1, 2, … among the patient's courses of the phase.")
    start = serializers.DateField(help_text="First cycle's date.")
    cycles = serializers.IntegerField()
    activity_gbq = serializers.FloatField()
    intended_activity_reached = serializers.BooleanField(allow_null=True)
    best_response = ResponsesSerializer()
    overridden = serializers.BooleanField(help_text="A clinician overrode a best response.")
    worst_grade = WorstGradeSerializer()
    ttp = EndpointSerializer(help_text="Time to progression (criteria as requested).")
    pfs = EndpointSerializer(help_text="Progression-free survival.")
    os = EndpointSerializer(help_text="Overall survival.")


class OutcomesSerializer(serializers.Serializer):
    study_id = serializers.CharField()
    cumulative_activity_gbq = serializers.FloatField()
    stale = serializers.BooleanField(help_text="True while a recomputation is pending.")
    courses = CourseOutcomeSerializer(many=True)


GradeCountsSerializer = _fields(
    "GradeCounts", (*GRADE_KEYS, "not_assessed"), lambda name: serializers.IntegerField(min_value=0)
)
ToxicitySerializer = _fields("ToxicityCounts", TOXICITY_KEYS, lambda name: GradeCountsSerializer())
ResponseCountsSerializer = _fields(
    "ResponseCounts", ResponseCode.values, lambda name: serializers.IntegerField(min_value=0)
)


class TTPSummarySerializer(serializers.Serializer):
    n = serializers.IntegerField()
    events = serializers.IntegerField()
    median_months = serializers.FloatField(allow_null=True)
    ci95 = _pair()


class ReverseKMSerializer(serializers.Serializer):
    median_months = serializers.FloatField(allow_null=True)
    ci95 = _pair()


class FollowUpSerializer(serializers.Serializer):
    median_months = serializers.FloatField(allow_null=True)
    min_months = serializers.FloatField(allow_null=True)
    max_months = serializers.FloatField(allow_null=True)
    reverse_km = ReverseKMSerializer(help_text="Median of the reverse Kaplan–Meier estimate.")


class RateSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    n = serializers.IntegerField()
    proportion = serializers.FloatField(allow_null=True)
    ci95 = _pair("Exact (Clopper–Pearson) 95 % bounds.")


class ResponseRatesSerializer(serializers.Serializer):
    objective = RateSerializer(help_text="CR + PR.")
    disease_control = RateSerializer(help_text="CR + PR + MR + SD.")


TTPRegularGroupsSerializer = _fields(
    "TTPRegularGroups",
    ("short", "long", "unclassified", "unknown"),
    lambda name: serializers.IntegerField(min_value=0),
)


class TTPRegularSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    events = serializers.IntegerField()
    median_months = serializers.FloatField(allow_null=True, help_text="Kaplan–Meier median.")
    ci95 = _pair()
    cutoff_months = serializers.FloatField()
    groups = TTPRegularGroupsSerializer()


class ActivitySummarySerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)


class CohortReportSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=Phase.choices)
    criteria = serializers.ChoiceField(choices=Criteria.choices)
    n_patients = serializers.IntegerField()
    best_response = ResponseCountsSerializer()
    toxicity = ToxicitySerializer()
    ttp = TTPSummarySerializer()
    follow_up = FollowUpSerializer()
    cumulative_activity_gbq = ActivitySummarySerializer()
    intended_activity_reached = serializers.IntegerField()
    toxicity_window_days = serializers.IntegerField()
    response_rates = ResponseRatesSerializer()
    ttp_regular = TTPRegularSerializer(help_text="TTP after the regular course (round 1).")
    stale_patients = serializers.IntegerField(
        help_text="Patients of the cohort's sites whose results are being recomputed."
    )


class KMRowSerializer(serializers.Serializer):
    time = serializers.FloatField(help_text=MONTHS)
    n_risk = serializers.IntegerField()
    n_event = serializers.IntegerField()
    n_censor = serializers.IntegerField()
    survival = serializers.FloatField()
    ci_lower = serializers.FloatField(allow_null=True)
    ci_upper = serializers.FloatField(allow_null=True)


class AtTimeSerializer(serializers.Serializer):
    time = serializers.FloatField(help_text=MONTHS)
    n_risk = serializers.IntegerField()
    survival = serializers.FloatField(allow_null=True)
    ci_lower = serializers.FloatField(allow_null=True)
    ci_upper = serializers.FloatField(allow_null=True)


class RMSTSerializer(serializers.Serializer):
    tau = serializers.FloatField(help_text=MONTHS)
    estimate = serializers.FloatField(allow_null=True)
    se = serializers.FloatField(allow_null=True)


class KMGroupSerializer(serializers.Serializer):
    label = serializers.CharField(help_text='The stratum value as stored, "unknown", or "all".')
    n = serializers.IntegerField()
    events = serializers.IntegerField()
    median = serializers.FloatField(allow_null=True, help_text=MONTHS)
    median_ci95 = _pair()
    table = KMRowSerializer(many=True)
    at_times = AtTimeSerializer(many=True, required=False, help_text="With `times`.")
    rmst = RMSTSerializer(required=False, help_text="With `rmst_tau`.")


class LogRankSerializer(serializers.Serializer):
    chi2 = serializers.FloatField()
    df = serializers.IntegerField()
    p = serializers.FloatField(allow_null=True)


class SurvivalSerializer(serializers.Serializer):
    endpoint = serializers.ChoiceField(choices=ENDPOINTS)
    phase = serializers.ChoiceField(choices=Phase.choices)
    criteria = serializers.ChoiceField(choices=Criteria.choices)
    conf_type = serializers.CharField()
    time_unit = serializers.CharField()
    groups = KMGroupSerializer(many=True)
    logrank = LogRankSerializer(allow_null=True)
    stale_patients = serializers.IntegerField()


class TestSerializer(serializers.Serializer):
    chi2 = serializers.FloatField()
    df = serializers.IntegerField()
    p = serializers.FloatField()


class CoxTestsSerializer(serializers.Serializer):
    likelihood_ratio = TestSerializer()
    wald = TestSerializer()
    score = TestSerializer()


class ConcordanceSerializer(serializers.Serializer):
    c = serializers.FloatField(allow_null=True, help_text="null: no comparable pair.")
    se = serializers.FloatField(allow_null=True)


class CoxTermSerializer(serializers.Serializer):
    term = serializers.CharField(help_text="`age`, or `sex=M` for a level of a category.")
    covariate = serializers.CharField()
    level = serializers.CharField(allow_null=True)
    reference = serializers.CharField(allow_null=True)
    coef = serializers.FloatField()
    se = serializers.FloatField()
    hr = serializers.FloatField()
    ci95 = _pair("exp(coef ± 1.959964·se).")
    z = serializers.FloatField()
    p = serializers.FloatField(help_text="Wald test of the term.")


class CoxSerializer(serializers.Serializer):
    endpoint = serializers.ChoiceField(choices=ENDPOINTS)
    phase = serializers.ChoiceField(choices=Phase.choices)
    criteria = serializers.ChoiceField(choices=Criteria.choices)
    ties = serializers.ChoiceField(choices=["efron", "breslow"])
    covariates = serializers.ListField(child=serializers.CharField())
    n = serializers.IntegerField()
    events = serializers.IntegerField()
    excluded_missing = serializers.IntegerField(help_text="Left out for a missing covariate.")
    terms = CoxTermSerializer(many=True)
    tests = CoxTestsSerializer()
    concordance = ConcordanceSerializer()
    stale_patients = serializers.IntegerField()


class IncidenceRowSerializer(serializers.Serializer):
    time = serializers.FloatField(help_text=MONTHS)
    n_risk = serializers.IntegerField()
    progression = serializers.FloatField(help_text="Cumulative incidence of progression.")
    death = serializers.FloatField(help_text="Of death without progression.")
    progression_ci = _pair("95 % bounds of the progression incidence (log, jackknife SE).")


class IncidenceGroupSerializer(serializers.Serializer):
    label = serializers.CharField()
    n = serializers.IntegerField()
    progressions = serializers.IntegerField()
    deaths = serializers.IntegerField()
    table = IncidenceRowSerializer(many=True)
    at_times = IncidenceRowSerializer(many=True, required=False, help_text="With `times`.")


class CumulativeIncidenceSerializer(serializers.Serializer):
    endpoint = serializers.CharField()
    phase = serializers.ChoiceField(choices=Phase.choices)
    criteria = serializers.ChoiceField(choices=Criteria.choices)
    time_unit = serializers.CharField()
    competing_event = serializers.CharField()
    groups = IncidenceGroupSerializer(many=True)
    stale_patients = serializers.IntegerField()


class ImportErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path, e.g. patients[3].labs[12].unit")
    message = serializers.CharField()


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    progress = serializers.FloatField(min_value=0, max_value=1)
    errors = ImportErrorSerializer(many=True)
    created = serializers.IntegerField(help_text="Patients created.")
    updated = serializers.IntegerField(help_text="Patients changed.")


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
