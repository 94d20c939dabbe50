"""`python manage.py check_integrity [--patient STUDY_ID ...] [--fix]`

Recomputes every patient's derived results in memory and compares them with the
stored rows (registry.derive.integrity); writes nothing unless `--fix` is given,
which recomputes the patients that drifted, audited like any recompute. Exits 1
when anything drifted or could not be computed, so a cron job or CI can alert.
Run it after a restore (README, "Backups and restore").
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.derive.integrity import check_integrity
from registry.derive.recompute import recompute_patient
from registry.models import Patient

SHOWN = 50  # drift lines printed; the count is always given


class Command(BaseCommand):
    help = "Check that the stored derived results match a recompute from the facts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--patient", action="append", default=[], metavar="STUDY_ID", help="only this patient"
        )
        parser.add_argument(
            "--fix", action="store_true", help="recompute the patients that drifted"
        )

    def handle(self, *args, patient: list[str], fix: bool, **options) -> None:
        patients = Patient.objects.order_by("pk")
        if patient:
            patients = patients.filter(study_id__in=patient)
            unknown = set(patient) - set(patients.values_list("study_id", flat=True))
            if unknown:
                raise CommandError(f"No patient with study ID {', '.join(sorted(unknown))}.")
        report = check_integrity(list(patients.values_list("pk", flat=True)))
        for line in report.drift[:SHOWN]:
            self.stdout.write(str(line))
        if len(report.drift) > SHOWN:
            self.stdout.write(f"… and {len(report.drift) - SHOWN} more differences")
        for study_id, error in report.failed:
            self.stdout.write(f"{study_id}: could not be computed: {error}")
        drifted = report.drifted_patient_ids
        self.stdout.write(
            f"{report.checked} patients checked, {len(drifted)} with differences, "
            f"{len(report.failed)} failed, {report.stale} stale (recompute pending, not checked)."
        )
        if fix and drifted:
            for patient_id in drifted:
                recompute_patient(patient_id)
            self.stdout.write(f"Recomputed {len(drifted)} patients.")
            report = check_integrity(drifted)
        if not report.clean:
            raise CommandError("The derived results differ from the facts (see above).")
