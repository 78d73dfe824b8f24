# Helpers for integration tests (sourced by run.sh).

# The accelerators this ember binary has, from `ember --version`.
ember_accels() {
	"$EMBER" --version | sed -n 's/.*backends: \([a-z ]*\).*/\1/p'
}

# write_config FILE KERNEL [BOOT_ARGS] [MEM_MIB] [VCPUS]: a minimal config.
write_config() {
	local file=$1 kernel=$2 args=${3-} mem=${4:-64} vcpus=${5:-1}
	cat >"$file" <<JSON
{
  "boot-source": { "kernel_image_path": "$kernel", "boot_args": "$args" },
  "machine-config": { "vcpu_count": $vcpus, "mem_size_mib": $mem }
}
JSON
}

# run_guest ACCEL NAME [extra ember flags...]: boots $GUESTS/NAME.elf,
# leaves the console+log in $TEST_TMP/NAME-ACCEL.out and returns ember's
# exit code (124 on timeout).
run_guest() {
	local accel=$1 name=$2
	shift 2
	local cfg="$TEST_TMP/$name-$accel.json" out="$TEST_TMP/$name-$accel.out"
	write_config "$cfg" "$GUESTS/$name.elf"
	timeout 20 "$EMBER" --no-api --config-file "$cfg" --accel "$accel" "$@" </dev/null >"$out" 2>&1
}

# need_accel ACCEL: skip (77) when this binary lacks it.
need_accel() {
	case " $(ember_accels) " in
	*" $1 "*) ;;
	*) echo "backend $1 not built in"; exit 77 ;;
	esac
}

# Kills the background processes a test started that are still running
# (the shell's own job table: no stale PID can hit another process).
# run.sh calls it when each test ends, passed or failed, so a failing test
# leaves no VMM or helper behind.
bg_reap() {
	local pids
	pids=$(jobs -pr)
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

# api_record METHOD PATH STATUS BODY_FILE: keeps one API response for the
# schema check run.sh makes at the end (tests/api_schemas/check.js). Every
# helper that calls the API records what it got; a request that got no
# answer (curl's 000) has nothing to check.
api_record() {
	[ -n "${API_RECORDS:-}" ] && [ "$3" != 000 ] || return 0
	local copy
	copy=$(mktemp "$API_RECORDS.d/XXXXXX")
	cp "$4" "$copy" 2>/dev/null || : >"$copy"
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$copy" >>"$API_RECORDS"
}

fail() {
	echo "FAIL: $*"
	exit 1
}
