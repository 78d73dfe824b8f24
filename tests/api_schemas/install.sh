#!/usr/bin/env bash
# Installs the schema checker's npm packages (package-lock.json, exactly)
# into ~/.cache/ember/node/<hash of the lock>/ once, and prints that
# directory's node_modules, for NODE_PATH. Needs node and npm (Debian:
# nodejs, npm; `make deps` installs them).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
dir=${EMBER_CACHE:-$HOME/.cache/ember}/node/$key
if [ ! -f "$dir/node_modules/ajv/package.json" ]; then
	mkdir -p "$dir"
	cp "$here/package.json" "$here/package-lock.json" "$dir/"
	(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2
fi
echo "$dir/node_modules"
