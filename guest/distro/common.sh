# Helpers shared by the distro-kernel recipes (sourced, not run).
# EMBER_CACHE (default ~/.cache/ember) holds every artifact, never the repo.

distro_cache=${EMBER_CACHE:-$HOME/.cache/ember}
distro_keep=2 # entries kept of each kind

export LC_ALL=C

say() { printf '  %-8s%s\n' "$1" "$2"; }
die() { echo "guest/distro: error: $*" >&2; exit 1; }

pkgver() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null ||
		die "Debian package $1 is not installed (run: make deps)"
}

need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "missing tool: $t (run: make deps)"
	done
}

# recipe_key TAG FILE...: 16 hex digits naming a cache entry (stdin adds lines).
recipe_key() {
	local tag=$1
	shift
	{ echo "$tag"; cat; cat "$@"; } | sha256sum | cut -c1-16
}

# One distro builder at a time. Not guest/build.sh's lock (a kernel build
# there takes minutes), and no scratch named tmp.* (it removes those).
cache_lock() {
	mkdir -p "$distro_cache"
	exec 9>"$distro_cache/.lock-distro"
	if ! flock -n 9; then
		say WAIT "another build holds $distro_cache/.lock-distro" >&2
		flock 9
	fi
	# Leftovers of an interrupted build (we hold the lock).
	rm -rf "$distro_cache"/distro-tmp.*
}

# Sets $tmp to a fresh scratch directory in the cache, removed on exit
# unless renamed into place (not a $(...) function: the list lives here).
distro_tmpdirs=()
distro_cleanup() { [ ${#distro_tmpdirs[@]} -eq 0 ] || rm -rf "${distro_tmpdirs[@]}"; }
trap distro_cleanup EXIT
newtmp() {
	tmp=$(mktemp -d "$distro_cache/distro-tmp.$1.XXXXXX")
	distro_tmpdirs+=("$tmp")
}

# prune KIND KEEP_DIR: all but the most recently used entries of a kind.
prune() {
	touch "$2"
	ls -1dt "$distro_cache/$1"-* 2>/dev/null | tail -n +$((distro_keep + 1)) | while read -r old; do
		[ "$old" = "$2" ] || rm -rf "$old"
	done
}
