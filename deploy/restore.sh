#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh into an empty database, then bring
# the schema up to this release and check the derived results against the facts.
#
#   createdb lutetia_restored
#   DATABASE_URL=postgres://…/lutetia_restored MEDIA_ROOT=/var/lib/lutetia/media \
#     deploy/restore.sh /backups/lutetia/lutetia-….dump /backups/lutetia/lutetia-media-….tar.gz
#
# Stops at the first error. check_integrity exits 1 if anything differs.
set -euo pipefail
dump=${1:?usage: deploy/restore.sh DUMP MEDIA_TARBALL}
media=${2:?usage: deploy/restore.sh DUMP MEDIA_TARBALL}
: "${DATABASE_URL:?set DATABASE_URL to the empty database to restore into}"
: "${MEDIA_ROOT:?set MEDIA_ROOT}"
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$DATABASE_URL" "$dump"
mkdir -p "$MEDIA_ROOT"
tar -xzf "$media" -C "$MEDIA_ROOT"
"$python" manage.py migrate --noinput
"$python" manage.py check_integrity
