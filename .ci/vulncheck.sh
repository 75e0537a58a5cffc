#!/usr/bin/env bash
# govulncheck against a local copy of the Go vulnerability database (make vulncheck).
#
# The public database (vuln.go.dev) is not reachable from CI, so the database is built
# from the golang.org/x/vulndb module that the Go module proxy serves: its data/osv
# folder indexed with its own cmd/indexdb, into a cache folder outside the repository.
# Reachable vulnerabilities in third-party modules fail; those in the standard library
# of the Go toolchain that runs this are printed only (build releases with the newest
# Go patch release). Neither tool is added to go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."

VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
cache=${VROAUTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vroauth}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
db="$cache/vulndb/$VULNDB_VERSION"

if [ ! -f "$db/index/db.json" ]; then
	echo "== building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
	# Outside the module, so that go.mod and go.sum are not touched.
	src=$(cd "$cache" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
	if [ ! -d "$src/data/osv" ]; then
		echo "vulncheck: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv folder" >&2
		exit 1
	fi
	tmp="$db.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$(dirname "$db")"
	(cd "$cache" && go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$tmp")
	rm -rf "$db"
	mv "$tmp" "$db"
fi

go test ./.ci/vulncheck # the filter below is tested before it is trusted
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "file://$db" -format json ./... >"$out"
go run ./.ci/vulncheck <"$out"
