#!/bin/sh
# The README's REST API examples, runnable: tests/api/test_curl_examples.py runs this
# file against a live server, so the README cannot drift from what the API does.
#
#   LUTETIA_URL=http://127.0.0.1:8000 LUTETIA_USER=alice LUTETIA_PASSWORD=… \
#     sh docs/api-examples.sh cohort.json
set -eu
URL=${LUTETIA_URL:-http://127.0.0.1:8000}
DOCUMENT=${1:?usage: api-examples.sh COHORT.json}

# 1. Authenticate: username and password in, token out.
TOKEN=$(curl -sS --fail-with-body -X POST "$URL/api/v1/auth/token/" \
  -H 'Content-Type: application/json' \
  -d "{\"username\": \"$LUTETIA_USER\", \"password\": \"$LUTETIA_PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# 2. Import a lutetia-cohort/1 document: 202 and a job to poll.
JOB=$(curl -sS --fail-with-body -X POST "$URL/api/v1/imports/" \
  -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
  --data-binary "@$DOCUMENT" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

STATUS=queued
while [ "$STATUS" = queued ] || [ "$STATUS" = running ]; do
  STATUS=$(curl -sS --fail-with-body "$URL/api/v1/imports/$JOB/" \
    -H "Authorization: Token $TOKEN" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')
  [ "$STATUS" = done ] || [ "$STATUS" = failed ] || sleep 1
done
echo "import $JOB: $STATUS"

# 3. Pull a survival analysis: overall survival after salvage, by primary site.
curl -sS --fail-with-body -G "$URL/api/v1/analyses/survival/" \
  -H "Authorization: Token $TOKEN" \
  --data-urlencode endpoint=os --data-urlencode phase=salvage \
  --data-urlencode strata=primary_site --data-urlencode conf_type=log-log
