"""Django admin for every model, with the audit history one click away.

Clinical saves and deletes go through the same services as the pages and
the API, so the admin cannot bypass validation, auditing or recomputation.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from registry import models
from registry.models.locking import RecordLocked, check_unlocked
from registry.records.facts import delete_fact, save_fact


def _require_ids(*pairs) -> None:
    """404 unless every (field, raw value) pair parses: django-simple-history passes
    the URL's ids straight into a query, so `abc` would be a 500."""
    for field, raw in pairs:
        try:
            field.to_python(unquote(raw))
        except ValidationError:
            raise Http404(f"No record with {field.name} {raw!r}.") from None


class LockCheckedForm(forms.ModelForm):
    """A fact of a verified course is refused here, as a form error, not at save time."""

    def _post_clean(self):
        super()._post_clean()
        try:
            check_unlocked(self.instance)
        except RecordLocked as exc:
            self.add_error(None, exc)


class ClinicalAdmin(SimpleHistoryAdmin):
    form = LockCheckedForm
    readonly_fields = ("version", "created_at", "updated_at")

    def has_delete_permission(self, request, obj=None):
        if obj is not None:
            try:
                check_unlocked(obj)
            except RecordLocked:
                return False  # unlock the course first (the patient page, with a reason)
        return super().has_delete_permission(request, obj)

    def history_view(self, request, object_id, extra_context=None):
        _require_ids((self.model._meta.pk, object_id))
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        history_pk = self.model.history.model._meta.pk
        _require_ids((self.model._meta.pk, object_id), (history_pk, version_id))
        return super().history_form_view(request, object_id, version_id, extra_context)

    def save_model(self, request, obj, form, change):
        save_fact(obj, by=request.user)

    def delete_model(self, request, obj):
        delete_fact(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            delete_fact(obj, by=request.user)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            delete_fact(obj, by=request.user)
        for obj in instances:
            save_fact(obj, by=request.user)
        formset.save_m2m()


@admin.register(models.Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(models.StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role")
    list_filter = ("role", "sites")
    filter_horizontal = ("sites",)


class PatientIdentityInline(admin.StackedInline):
    model = models.PatientIdentity
    can_delete = False
    readonly_fields = ("version", "created_at", "updated_at")


@admin.register(models.Patient)
class PatientAdmin(ClinicalAdmin):
    list_display = ("study_id", "site", "sex", "primary_site", "last_follow_up", "death_date")
    list_filter = ("site", "primary_site", "sex")
    list_select_related = ("site",)
    search_fields = ("study_id",)
    inlines = [PatientIdentityInline]


@admin.register(models.PatientIdentity)
class PatientIdentityAdmin(ClinicalAdmin):
    list_display = ("patient", "hospital_number")
    list_select_related = ("patient",)
    search_fields = ("patient__study_id", "hospital_number")
    raw_id_fields = ("patient",)


class CycleInline(admin.TabularInline):
    model = models.Cycle
    extra = 0
    fields = ("date", "administered_gbq", "radiopharmaceutical", "note")


@admin.register(models.Course)
class CourseAdmin(ClinicalAdmin):
    list_display = ("patient", "phase", "intended_activity_gbq", "stop_reason", "record_status")
    list_filter = ("phase", "stop_reason", "record_status")
    # The status changes on the patient page only, where its rules and reasons apply.
    readonly_fields = (
        *ClinicalAdmin.readonly_fields,
        "record_status",
        "status_changed_by",
        "status_changed_at",
    )
    list_select_related = ("patient",)
    search_fields = ("patient__study_id",)
    raw_id_fields = ("patient",)
    inlines = [CycleInline]


@admin.register(models.Cycle)
class CycleAdmin(ClinicalAdmin):
    list_display = ("course", "date", "administered_gbq", "radiopharmaceutical")
    list_select_related = ("course",)
    search_fields = ("course__patient__study_id",)
    raw_id_fields = ("course",)
    date_hierarchy = "date"


@admin.register(models.LabResult)
class LabResultAdmin(ClinicalAdmin):
    list_display = ("patient", "date", "analyte", "value", "unit", "canonical_value")
    list_filter = ("analyte",)
    list_select_related = ("patient",)
    search_fields = ("patient__study_id",)
    raw_id_fields = ("patient",)
    readonly_fields = (*ClinicalAdmin.readonly_fields, "canonical_value")


class LesionInline(admin.TabularInline):
    model = models.LesionMeasurement
    extra = 0
    fields = ("lesion", "organ", "lymph_node", "target", "new", "long_mm", "short_mm", "status")


@admin.register(models.Scan)
class ScanAdmin(ClinicalAdmin):
    list_display = ("patient", "date", "modality")
    list_select_related = ("patient",)
    search_fields = ("patient__study_id",)
    raw_id_fields = ("patient",)
    inlines = [LesionInline]


@admin.register(models.LesionMeasurement)
class LesionMeasurementAdmin(ClinicalAdmin):
    list_display = ("scan", "lesion", "target", "long_mm", "short_mm", "status", "new")
    list_select_related = ("scan",)
    raw_id_fields = ("scan",)


@admin.register(models.ClinicalProgression)
class ClinicalProgressionAdmin(ClinicalAdmin):
    list_display = ("patient", "date")
    list_select_related = ("patient",)
    raw_id_fields = ("patient",)


@admin.register(models.AdverseEvent)
class AdverseEventAdmin(ClinicalAdmin):
    list_display = ("patient", "term", "grade", "onset")
    list_select_related = ("patient",)
    raw_id_fields = ("patient",)


@admin.register(models.PriorTreatment)
class PriorTreatmentAdmin(ClinicalAdmin):
    list_display = ("patient", "type", "start", "end")
    list_filter = ("type",)
    list_select_related = ("patient",)
    search_fields = ("patient__study_id",)
    raw_id_fields = ("patient",)


@admin.register(models.CustomField)
class CustomFieldAdmin(SimpleHistoryAdmin):
    """A centre's own variables. Never deleted — retired, so stored values stay (and are
    exported); the code, level and type are fixed once values exist (model `clean`)."""

    list_display = ("code", "label", "level", "type", "unit", "identifying", "retired")
    list_filter = ("level", "type", "identifying", "retired")
    search_fields = ("code", "label")
    actions = ["retire", "restore"]
    fieldsets = (
        (None, {"fields": ("code", "label", "level", "type", "help", "position")}),
        ("Values", {"fields": ("unit", "minimum", "maximum", "choices")}),
        ("Handling", {"fields": ("identifying", "retired")}),
    )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retire the selected fields (values are kept)")
    def retire(self, request, queryset):
        for field in queryset.filter(retired=False):
            field.retired = True
            field._change_reason = "retired"
            field.save()

    @admin.action(description="Bring the selected fields back onto the forms")
    def restore(self, request, queryset):
        for field in queryset.filter(retired=True):
            field.retired = False
            field._change_reason = "restored"
            field.save()


@admin.register(models.ResponseOverride)
class ResponseOverrideAdmin(ClinicalAdmin):
    list_display = ("course", "criteria", "response", "decided_by")
    raw_id_fields = ("course",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived rows and job records: computed, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.PatientState)
class PatientStateAdmin(ReadOnlyAdmin):
    list_display = ("patient", "stale", "stale_since", "computed_at", "cumulative_activity_gbq")
    list_filter = ("stale",)
    list_select_related = ("patient",)
    search_fields = ("patient__study_id",)


@admin.register(models.CourseOutcome)
class CourseOutcomeAdmin(ReadOnlyAdmin):
    list_display = ("patient", "phase", "round", "start", "best_swog", "best_recist", "overridden")
    list_filter = ("phase", "round", "best_swog", "best_recist")
    list_select_related = ("patient",)
    search_fields = ("patient__study_id",)


@admin.register(models.TimePointResponse)
class TimePointResponseAdmin(ReadOnlyAdmin):
    list_display = ("course", "scan", "criteria", "response", "reason")
    list_filter = ("criteria", "response")
    list_select_related = ("course", "scan")


@admin.register(models.ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ("pk", "status", "progress", "created", "updated", "created_by", "created_at")
    list_filter = ("status",)
    exclude = ("document",)


@admin.register(models.ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "status",
        "progress",
        "created_by",
        "created_at",
        "finished_at",
        "file_deleted",
    )
    list_filter = ("status",)

    @admin.display(boolean=True, description="file deleted")
    def file_deleted(self, job):
        return job.expired


@admin.register(models.ThrottleWindow)
class ThrottleWindowAdmin(ReadOnlyAdmin):
    """API throttle counters (database cache only); delete a row to lift a client's limit."""

    list_display = ("key", "count", "opened")
    search_fields = ("key",)

    @admin.display(description="window opened")
    def opened(self, window):
        import datetime as dt

        return dt.datetime.fromtimestamp(window.opened_at, tz=dt.UTC)


class StaffProfileInline(admin.StackedInline):
    model = models.StaffProfile
    can_delete = False
    filter_horizontal = ("sites",)


class LutetiaUserAdmin(UserAdmin):
    """Users with their role and sites on the same page."""

    inlines = [StaffProfileInline]


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), LutetiaUserAdmin)


@admin.register(models.DataQuery)
class DataQueryAdmin(SimpleHistoryAdmin):
    """Queries are opened, answered and closed on the patient page; read here."""

    list_display = ("patient", "subject", "status", "opened_by", "opened_at")
    list_filter = ("status", "fact_kind")
    search_fields = ("patient__study_id", "subject")
    readonly_fields = [f.name for f in models.DataQuery._meta.fields]

    def has_add_permission(self, request):
        return False
