#!/bin/sh
# Entrypoint of wb-local/redis: the official redis image's, for Debian's redis-server.
set -e

# `docker run image --port 7000` or `docker run image /data/redis.conf`: redis-server's.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# Started as root: the files in /data become the redis user's, then run as it.
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec gosu redis "$0" "$@"
fi

# Files Redis creates (the AOF) are its own alone.
um="$(umask)"
if [ "$um" = '0022' ]; then
	umask 0077
fi

exec "$@"
