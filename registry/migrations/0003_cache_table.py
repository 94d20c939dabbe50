"""The database cache's table: throttle counters shared by every worker process.

Created by `migrate`, so no deploy step can forget `createcachetable`. Used only
when no Redis cache is configured (settings.CACHES).
"""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "lutetia_cache"


def create(apps, schema_editor):
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop(apps, schema_editor):
    schema_editor.execute("DROP TABLE IF EXISTS lutetia_cache")


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_outcomes")]
    operations = [migrations.RunPython(create, drop)]
