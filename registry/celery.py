"""The Celery app. Without CELERY_BROKER_URL tasks run eagerly in-process.

Tasks live beside their domain (`registry/<domain>/tasks.py`); each keeps the
name it had before the domains were split out, since queued messages and the
beat schedule address tasks by name.
"""

import os
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["registry.derive", "registry.interchange", "registry.research"])


class Scheduler(PersistentScheduler):
    """Celery's own file-backed beat scheduler, which first makes the file's folder.

    The file is settings.CELERY_BEAT_SCHEDULE_FILENAME (or beat's `--schedule`).
    """

    def setup_schedule(self):
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


INTERACTIVE_TASKS = {"registry.tasks.recompute_patient"}


def route(name, args, kwargs, options, task=None, **kw):
    """One patient's recompute (a clinician's save) goes to the interactive queue.

    The queue is named after the default queue at the time of sending
    (`<default>.interactive`), so a deployment or a test that renames the default
    queue keeps the pair together. Batches (imports, sweeps) keep the default.
    """
    if name in INTERACTIVE_TASKS:
        return {"queue": f"{app.conf.task_default_queue}.interactive"}
    return None
