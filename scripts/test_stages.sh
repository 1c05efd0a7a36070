#!/usr/bin/env bash
# make test: every stage of the project's checks, each timed.
# All stages run at once, as five chains, so that what one chain spends waiting (a trickling
# server, a timeout, a platform's pace, pip) another spends working; the scheduler's priorities
# (nice) say who gets a core first when they compete:
#   - the rate-limit tests (pytest marker "paced"): little CPU, minutes of waiting for a platform's
#     pace; first, so that no other work delays the requests whose 429s they count;
#   - pytest on 2.21 (two workers, pytest-xdist) and on 2.19 (the "core" tests, one worker): next,
#     as some of their tests bound the wall time of a run against a hostile server; 2.21 a little
#     ahead, as it has the most to run;
#   - two lanes of the stages that are mostly one process each (ansible-test, ansible-lint,
#     galaxy-importer, nox, Sphinx): last, they only fill the cores the others leave.
# Each stage's output goes to build/test-logs/<stage>.log and is shown whole when the stage
# ends, so chains never interleave. Every stage runs even when another failed; the run fails if
# any did, and ends with the table of stage times.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
logs="$root/build/test-logs"
rm -rf "$logs" && mkdir -p "$logs"
cd "$root" || exit 1

LANE_A=(sanity-2.21 units integration lint docs-check)
LANE_B=(sanity-2.19 build galaxy-import ee fresh-install nox changelog-check docsite)

# stage NICENESS NAME [VAR=VALUE...]: run `make NAME` at that niceness, show its log, and record
# "NAME ok|FAILED WALL-SECONDS CPU-SECONDS" in $logs/times.
stage() {
  local niceness="$1" name="$2" start=$SECONDS status=ok
  shift 2
  # Each stage is a make of its own: "-o build" keeps the stages that need the built tarball
  # from building it again (lane B builds it once, first).
  local make=(make --no-print-directory -o build "$name" "$@")
  [ "$name" != build ] || make=(make --no-print-directory build)
  # bash's time: the CPU seconds (user + system) of the stage and every process it waited for
  local TIMEFORMAT='%U %S' cpu
  { time nice -n "$niceness" "${make[@]}" >"$logs/$name.log" 2>&1 || status=FAILED; } \
    2>"$logs/.$name.cpu"
  cpu="$(awk '{ printf "%d", $1 + $2 }' "$logs/.$name.cpu")"
  # one chain prints at a time
  ( flock 9; echo "=== $name"; cat "$logs/$name.log"
    echo "=== $name: $status after $((SECONDS - start)) s, $cpu s of CPU" ) 9>"$logs/.print"
  echo "$name $status $((SECONDS - start)) $cpu" >>"$logs/times"
}

lane() { for name in "$@"; do stage 12 "$name"; done; }

start=$SECONDS
stage 0 pytest-paced &
# The newest line, the longest stage, with a worker per core and a little ahead of 2.19 (one
# worker, a third of the work), which fills what its workers leave while they wait (a trickling
# server, a killed run's timeout) and still gets about half a core when all three work. A third
# 2.21 worker packed the cores as well but cost a tenth more CPU (each worker has its own
# OpenBao, moto and sandboxes).
stage 3 pytest-2.21 PYTEST_WORKERS=2 &
stage 6 pytest-2.19 PYTEST_WORKERS=1 &
lane "${LANE_A[@]}" &
lane "${LANE_B[@]}" &
wait

echo
echo "make test: stage times (seconds; every chain ran at once: the rate-limit tests, pytest on"
echo "each line, and two lanes of the other stages, each lane's stages one after the other)"
printf "  %-16s %-7s %5s %5s\n" stage outcome wall CPU
awk '{ printf "  %-16s %-7s %5d %5d\n", $1, $2, $3, $4; cpu += $4 }
     END { printf "  %-16s %-7s %5d %5d\n", "total", "", '"$((SECONDS - start))"', cpu }' "$logs/times"
if grep -q ' FAILED ' "$logs/times"; then
  echo "make test: failed: $(awk '$2 == "FAILED" { printf "%s ", $1 }' "$logs/times")(logs in build/test-logs)" >&2
  exit 1
fi
echo "make test: all checks passed"
