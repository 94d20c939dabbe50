"""Derived results: marking patients stale, recomputing them, and the tasks.

`schedule.schedule_recompute` marks patients stale inside the writer's
transaction and queues them on commit; `tasks` holds the Celery tasks and how
they are enqueued; `recompute` loads a patient's facts (`loading`), runs the
pure engine (`registry.clinical`) and replaces the derived rows; `outcomes`
reads one patient's derived rows for the API.
"""
