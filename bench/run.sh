#!/usr/bin/env bash
# bench/run.sh [--quick]: the benchmark of SPEC.md section 8, in one command.
#
# Installs the peers (hey, GNU parallel, curl, GNU time with apt-get; newman with npm
# into a folder outside the checkout), builds simreset, genfleet and the runner, then runs
# bench/runner, which starts the simulators on loopback, measures every row and prints
# one Markdown table on stdout (progress on stderr). See BENCHMARKS.md.
#
#   --quick      small counts, no installs, peers skipped when absent: a smoke run (< 60 s)
#   --rows LIST  measure only these rows (rate,throughput,latency,memory), to rework one
#
# Environment: BENCH_WORK=DIR keeps fleet files, outputs and logs there (default: a
# temporary directory removed at the end); BENCH_NPM_DIR=DIR is where newman is
# installed (default /tmp/simreset-bench-npm).
set -euo pipefail

quick=0
rows=""
while (($#)); do
	case "$1" in
	--quick) quick=1 ;;
	--rows) # for reruns of some rows while working on them; the table of record has all
		rows=${2:?--rows needs a list, e.g. rate,throughput}
		shift
		;;
	*)
		echo "usage: bench/run.sh [--quick] [--rows rate,throughput,latency,memory]" >&2
		exit 2
		;;
	esac
	shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

keep=0
if [[ -n "${BENCH_WORK:-}" ]]; then
	work=$BENCH_WORK
	keep=1
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/simreset-bench.XXXXXX")
fi
npm_dir=${BENCH_NPM_DIR:-/tmp/simreset-bench-npm}

runner_pid=""
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
		# The runner stops its own children (process groups, Pdeathsig) on TERM.
		kill -TERM "$runner_pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$runner_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$runner_pid" 2>/dev/null || true
	fi
	if [[ $keep == 0 ]]; then
		rm -rf "$work"
	else
		echo "bench: outputs and logs kept in $work" >&2
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

installed=false
if [[ $quick == 0 ]]; then
	installed=true
	echo "bench: installing the peers (log: $work/install.log)" >&2
	{
		export DEBIAN_FRONTEND=noninteractive
		timeout 300 apt-get update -qq || true
		# One at a time, so that one that cannot be installed does not keep the others out.
		for pkg in hey parallel curl time python3; do
			timeout 300 apt-get install -y -qq "$pkg" || echo "bench: apt-get install $pkg failed"
		done
		if command -v npm >/dev/null; then
			mkdir -p "$npm_dir"
			timeout 300 npm install --prefix "$npm_dir" --no-audit --no-fund --silent newman@6 ||
				echo "bench: npm install newman failed"
		else
			echo "bench: npm not found: newman skipped"
		fi
	} >"$work/install.log" 2>&1
fi
newman=""
if [[ -x "$npm_dir/node_modules/.bin/newman" ]]; then
	newman="$npm_dir/node_modules/.bin/newman"
fi

echo "bench: building (go build)" >&2
mkdir -p "$work/bin"
timeout 300 go build -o "$work/bin/simreset" .
timeout 300 go build -o "$work/bin/genfleet" ./bench/genfleet
timeout 300 go build -o "$work/bin/runner" ./bench/runner

args=(-simreset "$work/bin/simreset" -genfleet "$work/bin/genfleet" -work "$work"
	-peers "$root/bench/peers" -newman "$newman" -installed="$installed")
if [[ $quick == 1 ]]; then
	args+=(-quick)
fi
if [[ -n "$rows" ]]; then
	args+=(-rows "$rows")
fi
# In the background so that the traps run at once on a signal; the runner bounds every
# step itself, and this outer timeout bounds the whole.
timeout -s TERM 3600 "$work/bin/runner" "${args[@]}" &
runner_pid=$!
wait "$runner_pid"
