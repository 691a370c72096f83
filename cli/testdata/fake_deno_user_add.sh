#!/bin/sh
# A recording stand-in for `deno` in `wb user` tests: appends its argv and DATABASE_URL
# to $FAKE_DENO_LOG, then prints what server/user_admin.ts prints (one JSON line). With an
# address containing "down", fails the way the script does when Postgres does not answer.
printf '%s\n' "$*" >> "${FAKE_DENO_LOG:-/dev/null}"
printf 'DATABASE_URL=%s\n' "$DATABASE_URL" >> "${FAKE_DENO_LOG:-/dev/null}"
command="$4"
email="$5"
case "$email" in
  *down*) echo "connect ECONNREFUSED 127.0.0.1:5432" >&2; exit 1 ;;
esac
case "$command" in
  list) printf '{"users":[]}\n'; exit 0 ;;
esac
admin=false
[ "$6" = "--admin" ] && admin=true
printf '{"email":"%s","isAdmin":%s,"created":true,"token":"tok/+1","expiresAt":"2026-01-02T00:00:00.000000Z"}\n' "$email" "$admin"
