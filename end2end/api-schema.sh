#!/usr/bin/env bash
# The HTTP API against its own description: schemathesis (from PyPI) reads
# /api/v1/openapi.json from a real release server and calls every operation with generated
# input, as a token holder, once on SQLite and once on PostgreSQL. It fails on any 5xx answer,
# on any answer whose status, content type, headers or body the document does not describe, and
# on any call that works without the token. `./dev.sh test` runs it after the release build.
#
#   end2end/api-schema.sh ST [POSTGRES_BASE_URL]
#
# ST is schemathesis's `st`; without POSTGRES_BASE_URL only SQLite is tried.
set -euo pipefail
cd "$(dirname "$0")/.."
st=$1
pg_base=${2:-}
bin=${CONFAB_BIN:-target/release/confab}
[ -x "$bin" ] || { echo "no $bin: build the release first" >&2; exit 1; }

work=$(mktemp -d)
server=
pg_db=
finish() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ -n "$pg_db" ] && psql -q "$pg_base/postgres" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" || true
  rm -rf "$work"
}
trap finish EXIT

# Generous budgets: the run is about what each call answers, not about being slowed down (the
# limits' own answers, 429 with Retry-After, are described too, and tested elsewhere). Logins
# too: the wrong tokens schemathesis tries count against the address's login budget.
export CONFAB_API_RATE_PER_TOKEN=100000/min CONFAB_READ_RATE_PER_USER=100000/min \
  CONFAB_SEARCH_RATE_PER_USER=100000/min CONFAB_POST_RATE_PER_USER=100000/min \
  CONFAB_LOGIN_RATE_PER_IP=100000/min \
  LEPTOS_SITE_ROOT=target/site RUST_LOG=warn

# Starts a server on `database`, with alice (the first account, an admin) holding a read and
# write token, and a little of everything for the generated calls to find: messages in room 1,
# a thread, a reaction, an edit.
start() {
  local database=$1 port
  port=$((20000 + RANDOM % 20000))
  base="http://127.0.0.1:$port"
  DATABASE_URL=$database CONFAB_ADDR=127.0.0.1:$port LEPTOS_SITE_ADDR=127.0.0.1:$port \
    "$bin" > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 300); do
    curl -fs "$base/readyz" > /dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
  done
  curl -fs -o /dev/null -H "Origin: $base" -d 'username=alice&password=password123' \
    "$base/api/register"
  token=$(DATABASE_URL=$database "$bin" token create alice --name schemathesis \
    --scopes read,write --days 1 | grep -o 'cfb_[A-Za-z0-9_-]*')
  local auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
  local call
  for call in \
    "POST /rooms/1/messages {\"text\":\"Build **41** passed @alice\"}" \
    "POST /rooms/1/messages {\"text\":\"Deploying https://example.com\",\"client_id\":\"d-1\"}" \
    "POST /rooms/1/messages {\"text\":\"A reply\",\"thread\":1,\"also_in_room\":true}" \
    "POST /rooms/1/messages/1/reactions {\"emoji\":\"👍\"}" \
    "PATCH /rooms/1/messages/2 {\"text\":\"Deployed\"}"; do
    read -r method path body <<< "$call"
    curl -fs -o /dev/null -X "$method" "${auth[@]}" -d "$body" "$base/api/v1$path"
  done
}

stop() {
  kill "$server" && wait "$server" 2>/dev/null || true
  server=
}

# Leaving the room would leave every later call refused, so join and leave run last, alone.
fuzz() {
  local label=$1
  local common=(--checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth
    -H "Authorization: Bearer $token" --workers 1 --max-examples 40 --seed 20261207
    --request-timeout 10 --generation-database none --no-color)
  echo "schemathesis on $label"
  # From the run's own folder: schemathesis keeps a cache of what it found where it runs.
  (cd "$work" && "$st" run "$base/api/v1/openapi.json" "${common[@]}" \
    --exclude-path-regex '/(join|leave)$')
  (cd "$work" && "$st" run "$base/api/v1/openapi.json" "${common[@]}" \
    --include-path-regex '/(join|leave)$')
}

start "sqlite://$work/confab.db"
fuzz SQLite
stop

if [ -n "$pg_base" ]; then
  pg_db="confab_api_$$_$(date +%s)"
  psql -q "$pg_base/postgres" -c "CREATE DATABASE $pg_db"
  start "$pg_base/$pg_db"
  fuzz PostgreSQL
  stop
fi
