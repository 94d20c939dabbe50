"""The Celery app. Without CELERY_BROKER_URL tasks run eagerly in-process.

Tasks live beside their domain (`registry/<domain>/tasks.py`); each keeps the
name it had before the domains were split out, since queued messages and the
beat schedule address tasks by name.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["registry.derive", "registry.interchange", "registry.research"])
