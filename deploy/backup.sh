#!/usr/bin/env bash
# Back up Lutetia: the PostgreSQL database (pg_dump's custom format, every table,
# the audit history included) and the media folder (imports waiting for the
# worker, background export files, beat's schedule).
#
#   DATABASE_URL=postgres://… MEDIA_ROOT=/var/lib/lutetia/media deploy/backup.sh /backups/lutetia
#
# Prints the two files it wrote. Safe while the app runs: pg_dump reads one
# consistent snapshot. README, "Backups and restore".
set -euo pipefail
dest=${1:?usage: deploy/backup.sh BACKUP_FOLDER}
: "${DATABASE_URL:?set DATABASE_URL (postgres://…)}"
: "${MEDIA_ROOT:?set MEDIA_ROOT}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dest"
dump="$dest/lutetia-$stamp.dump"
media="$dest/lutetia-media-$stamp.tar.gz"
pg_dump --format=custom --no-owner --no-privileges --dbname="$DATABASE_URL" --file="$dump"
mkdir -p "$MEDIA_ROOT"
tar -czf "$media" -C "$MEDIA_ROOT" .
echo "$dump"
echo "$media"
