#!/bin/sh
# A recording fake `docker` for tests. Appends its argv as one JSON array per line to
# $FAKE_DOCKER_LOG, then exits 0 -- or exits 1 with a message on stderr when the
# space-joined argv contains $FAKE_DOCKER_FAIL.
line="["
sep=""
for arg in "$@"; do
  escaped=$(printf '%s' "$arg" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
  line="$line$sep\"$escaped\""
  sep=","
done
printf '%s]\n' "$line" >> "${FAKE_DOCKER_LOG:-/dev/null}"
if [ -n "$FAKE_DOCKER_FAIL" ]; then
  case " $* " in
    *"$FAKE_DOCKER_FAIL"*)
      echo "fake docker: failing on purpose: $*" >&2
      exit 1
      ;;
  esac
fi
exit 0
