#!/bin/sh
# A recording fake `docker` for tests. Appends its argv as one JSON array per line to
# $FAKE_DOCKER_LOG, then exits 0 -- or exits 1 with a message on stderr when the
# space-joined argv contains $FAKE_DOCKER_FAIL.
#
# Like docker it remembers the containers (with their state) and networks it created, with
# their label, in $FAKE_DOCKER_LOG.state: `ps -a --filter label=...` and `network ls
# --filter label=...` list them, `inspect` shows a container's state, `stop` exits it,
# `rm` / `network rm` forget them (`rm` prints each name it removed); `run` of a name in use, `rm` of a running container
# without -f and `network create` of an existing network fail with docker's messages. A
# failing `run` still creates its container (docker creates before it starts). `exec ... redis-cli PING` answers PONG
# (FLUSHDB: OK);
# `pull` prints a transcript like docker's when its output is not a terminal; `image inspect`
# finds the images named in $FAKE_DOCKER_IMAGES.
line="["
sep=""
for arg in "$@"; do
  escaped=$(printf '%s' "$arg" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
  line="$line$sep\"$escaped\""
  sep=","
done
printf '%s]\n' "$line" >> "${FAKE_DOCKER_LOG:-/dev/null}"

state="${FAKE_DOCKER_LOG:-/tmp/fake-docker}.state"
touch "$state"
fail=""
if [ -n "$FAKE_DOCKER_FAIL" ]; then
  case " $* " in *"$FAKE_DOCKER_FAIL"*) fail=1 ;; esac
fi
failing() {
  echo "fake docker: failing on purpose: $*" >&2
  exit 1
}
forget() { # kind name
  grep -v "^$1 $2 " "$state" > "$state.tmp" || true
  mv "$state.tmp" "$state"
}
status_of() { # container name -> its state, or nothing
  grep "^container $1 " "$state" | cut -d' ' -f3
}
set_status() { # name status
  sed -e "s/^container $1 [a-z]* /container $1 $2 /" "$state" > "$state.tmp"
  mv "$state.tmp" "$state"
}
option() { # name args...: value after the option
  want="$1"
  shift
  prev=""
  for a in "$@"; do
    [ "$prev" = "$want" ] && { printf '%s' "$a"; return; }
    prev="$a"
  done
}
labelled() { # kind label
  grep "^$1 .* $2\$" "$state" | cut -d' ' -f2
}

case "$1" in
  run)
    name=$(option --name "$@")
    if [ -n "$name" ] && [ -n "$(status_of "$name")" ]; then
      echo "docker: Error response from daemon: Conflict. The container name \"/$name\" is already in use." >&2
      exit 125
    fi
    if [ -n "$name" ]; then
      if [ -n "$fail" ]; then created=created; else created=running; fi
      echo "container $name $created $(option --label "$@")" >> "$state"
    fi
    ;;
  *)
    [ -n "$fail" ] && failing "$@"
    ;;
esac
[ -n "$fail" ] && failing "$@"

case "$1" in
  rm)
    shift
    force=""
    for a in "$@"; do [ "$a" = "-f" ] && force=1; done
    for a in "$@"; do
      case "$a" in
        -*) ;;
        *)
          if [ -z "$(status_of "$a")" ]; then
            echo "Error response from daemon: No such container: $a" >&2
            exit 1
          fi
          if [ "$(status_of "$a")" = running ] && [ -z "$force" ]; then
            echo "Error response from daemon: You cannot remove a running container $a. Stop the container before attempting removal or force remove" >&2
            exit 1
          fi
          forget container "$a"
          echo "$a"
          ;;
      esac
    done
    ;;
  stop)
    for a in "$@"; do name="$a"; done
    if [ -z "$(status_of "$name")" ]; then
      echo "Error response from daemon: No such container: $name" >&2
      exit 1
    fi
    set_status "$name" exited
    ;;
  inspect)
    for a in "$@"; do name="$a"; done
    if [ -z "$(status_of "$name")" ]; then
      echo "Error: No such object: $name" >&2
      exit 1
    fi
    echo "$(status_of "$name") 2025-01-01T00:00:00.000000000Z"
    ;;
  ps)
    filter=$(option --filter "$@")
    labelled container "${filter#label=}"
    ;;
  network)
    case "$2" in
      create)
        for a in "$@"; do name="$a"; done
        if grep -q "^network $name " "$state"; then
          echo "Error response from daemon: network with name $name already exists" >&2
          exit 1
        fi
        echo "network $name - $(option --label "$@")" >> "$state"
        ;;
      rm)
        shift 2
        for a in "$@"; do
          if ! grep -q "^network $a " "$state"; then
            echo "Error response from daemon: network $a not found" >&2
            exit 1
          fi
          forget network "$a"
        done
        ;;
      inspect)
        grep -q "^network $3 " "$state" || { echo "Error: No such network: $3" >&2; exit 1; }
        echo "[]"
        ;;
      ls)
        filter=$(option --filter "$@")
        labelled network "${filter#label=}"
        ;;
    esac
    ;;
  exec)
    case " $* " in
      *" redis-cli PING "*) echo PONG ;;
      *" redis-cli FLUSHDB "*) echo OK ;;
    esac
    ;;
  image)
    # `image inspect <ref>`: present when $FAKE_DOCKER_IMAGES (space-separated) names it.
    for a in "$@"; do ref="$a"; done
    case " $FAKE_DOCKER_IMAGES " in
      *" $ref "*) echo "sha256:0000" ;;
      *) echo "Error response from daemon: No such image: $ref" >&2; exit 1 ;;
    esac
    ;;
  pull)
    printf '%s: Pulling from library/%s\n' "${2#*:}" "${2%%:*}"
    echo "a1b2c3d4e5f1: Pulling fs layer"
    echo "a1b2c3d4e5f2: Pulling fs layer"
    echo "a1b2c3d4e5f3: Already exists"
    echo "a1b2c3d4e5f1: Download complete"
    echo "a1b2c3d4e5f1: Pull complete"
    echo "a1b2c3d4e5f2: Pull complete"
    echo "Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000"
    echo "Status: Downloaded newer image for $2"
    echo "docker.io/library/$2"
    ;;
esac
exit 0
