#!/usr/bin/env bash
# postgres.sh starts the local PostgreSQL cluster (creating one if there is none),
# waits until it accepts connections, creates the role and database the tests use,
# and prints the line that points the PostgreSQL tests at them:
#
#	eval "$(.ci/postgres.sh)" && go test -race ./internal/postgres/
#
# It runs as root on a Debian-style installation (pg_lsclusters, pg_ctlcluster).
# Everything but the export line goes to stderr. It is idempotent.
set -euo pipefail

role=${VROAUTH_PG_ROLE:-vroauth}
password=${VROAUTH_PG_PASSWORD:-vroauth-test}
database=${VROAUTH_PG_DATABASE:-vroauth_test}

log() { echo "postgres.sh: $*" >&2; }

# cluster prints "version name port status" of the first cluster, if any.
cluster() { pg_lsclusters --no-header 2>/dev/null | awk 'NR == 1 { print $1, $2, $3, $4 }'; }

as_postgres() { (cd /tmp && runuser -u postgres -- "$@"); }

if [[ -z "$(cluster)" ]]; then
	version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
	[[ -n "$version" ]] || { log "PostgreSQL is not installed"; exit 1; }
	log "creating cluster $version/main"
	pg_createcluster "$version" main >&2
fi
read -r version name port status <<<"$(cluster)"
if [[ "$status" != online* ]]; then
	log "starting cluster $version/$name"
	pg_ctlcluster "$version" "$name" start >&2
fi

for _ in $(seq 1 60); do
	if as_postgres pg_isready -q -h 127.0.0.1 -p "$port"; then
		break
	fi
	sleep 0.5
done
as_postgres pg_isready -q -h 127.0.0.1 -p "$port" || { log "cluster $version/$name does not answer on port $port"; exit 1; }

# Role and database, idempotently; the values travel as psql variables, never spliced
# into SQL text by the shell.
as_postgres psql -X -q -p "$port" -v ON_ERROR_STOP=1 \
	-v role="$role" -v password="$password" -v database="$database" >&2 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
SQL

echo "export VROAUTH_TEST_POSTGRES=postgres://$role:$password@127.0.0.1:$port/$database?sslmode=disable"
