#!/usr/bin/env bash
# Entrypoint of wb-local/postgres: the official postgres image's contract (see the
# Dockerfile), written again for Debian's postgresql-15.
set -Eeo pipefail

# `docker run image -c x=y` means `postgres -c x=y`.
if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

# VAR or VAR_FILE (the file's contents), never both.
file_env() {
	local var="$1" def="${2:-}"
	local fileVar="${var}_FILE"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
		exit 1
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(<"${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

if [ "$1" = 'postgres' ]; then
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

	# Started as root: own PGDATA and the socket directory, then run as postgres.
	if [ "$(id -u)" = '0' ]; then
		mkdir -p "$PGDATA" /var/run/postgresql
		chmod 00700 "$PGDATA" || :
		chmod 03775 /var/run/postgresql || :
		find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
		chown postgres:postgres /var/run/postgresql
		exec gosu postgres "${BASH_SOURCE[0]}" "$@"
	fi

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
			cat >&2 <<-'EOM'
				Error: Database is uninitialized and superuser password is not specified.
				       You must specify POSTGRES_PASSWORD to a non-empty value for the
				       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
				       (Or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection
				       without a password; not recommended.)
			EOM
			exit 1
		fi

		echo "Initialising a new database in $PGDATA"
		# shellcheck disable=SC2086
		initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
			$POSTGRES_INITDB_ARGS
		{
			echo
			echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
		} >>"$PGDATA/pg_hba.conf"

		# A server on the Unix socket only while the database and init scripts are set up,
		# so nothing connecting over TCP mistakes it for the real one.
		PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -w \
			-o "-c listen_addresses='' -p 5432" start
		export PGPASSWORD="${POSTGRES_PASSWORD:-}"
		psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
		if [ "$POSTGRES_DB" != 'postgres' ]; then
			"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
				CREATE DATABASE :"db" ;
			EOSQL
		fi
		for f in /docker-entrypoint-initdb.d/*; do
			case "$f" in
			*.sh) echo "running $f"; . "$f" ;;
			*.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
			*) ;;
			esac
		done
		PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
		unset PGPASSWORD
		echo "PostgreSQL init process complete; ready for start up."
	else
		echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
	fi
fi

exec "$@"
