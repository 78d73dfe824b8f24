#!/bin/bash
# Prints the Debian mirror apt already uses for SUITE (default bookworm):
# the first URI of /etc/apt/sources.list or sources.list.d/*.{list,sources}
# that serves SUITE itself (not SUITE-security or SUITE-updates). Read at
# run time so that no host name is written into the repository.
set -euo pipefail
suite=${1:-bookworm}
shopt -s nullglob
uri=$(
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [options] URI SUITE COMPONENT...
		sed -E 's/\[[^]]*\]//' "$f" | awk -v s="$suite" '$1 == "deb" && $3 == s {print $2}'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		# deb822 stanzas: Types, URIs, Suites (blank line between stanzas).
		awk -v s="$suite" '
			function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && enabled != "no") print uris; types = uris = suites = enabled = "" }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "uris:" { uris = $2 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "enabled:" { enabled = tolower($2) }
			END { flush() }' "$f"
	done | head -n 1
)
[ -n "$uri" ] || { echo "guest/distro/mirror.sh: apt has no source for $suite" >&2; exit 1; }
echo "$uri"
