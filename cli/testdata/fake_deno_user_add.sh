#!/bin/sh
# A recording stand-in for `deno` in `wb user add` tests: appends its argv and DATABASE_URL
# to $FAKE_DENO_LOG, then prints what server/user_add.ts prints (one JSON line). With an
# address containing "down", fails the way the script does when Postgres does not answer.
printf '%s\n' "$*" >> "${FAKE_DENO_LOG:-/dev/null}"
printf 'DATABASE_URL=%s\n' "$DATABASE_URL" >> "${FAKE_DENO_LOG:-/dev/null}"
email="$4"
case "$email" in
  *down*) echo "connect ECONNREFUSED 127.0.0.1:5432" >&2; exit 1 ;;
esac
admin=false
[ "$5" = "--admin" ] && admin=true
printf '{"email":"%s","isAdmin":%s,"created":true,"token":"tok/+1","expiresAt":"2026-01-02T00:00:00.000000Z"}\n' "$email" "$admin"
