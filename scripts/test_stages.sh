#!/usr/bin/env bash
# make test: every stage of the project's checks, each timed.
# The pytest stages keep both cores busy (pytest-xdist), so they run first, one after the other,
# their output shown as it comes; the tests that mostly wait for a platform's pace (pytest marker
# "paced") run on their own, so that no other work slows the sandbox they count 429s against. The
# stages after them are mostly one process each (ansible-test, ansible-lint, galaxy-importer, nox,
# Sphinx), so they run in two lanes at once; each stage's output goes to
# build/test-logs/<stage>.log and is shown whole when the stage ends, so the lanes never
# interleave. Every stage runs even when an earlier one failed; the run fails if any did,
# and ends with the table of stage times.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
logs="$root/build/test-logs"
rm -rf "$logs" && mkdir -p "$logs"
cd "$root" || exit 1

FIRST=(pytest-2.21 pytest-2.19 pytest-paced)
LANE_A=(sanity-2.21 units integration lint docs-check)
LANE_B=(sanity-2.19 build galaxy-import ee fresh-install nox changelog-check docsite)

# stage NAME [live]: run `make NAME`, record "NAME ok|FAILED SECONDS" in $logs/times.
stage() {
  local name="$1" live="${2:-}" start=$SECONDS status=ok
  # Each stage is a make of its own: "-o build" keeps the stages that need the built tarball
  # from building it again (lane B builds it once, first).
  local make=(make --no-print-directory -o build "$name")
  [ "$name" != build ] || make=(make --no-print-directory build)
  if [ -n "$live" ]; then
    echo "=== $name"
    "${make[@]}" 2>&1 | tee "$logs/$name.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=FAILED
  else
    "${make[@]}" >"$logs/$name.log" 2>&1 || status=FAILED
    # one lane prints at a time
    ( flock 9; echo "=== $name"; cat "$logs/$name.log" ) 9>"$logs/.print"
  fi
  echo "$name $status $((SECONDS - start))" >>"$logs/times"
  echo "=== $name: $status after $((SECONDS - start)) s"
}

lane() { for name in "$@"; do stage "$name"; done; }

start=$SECONDS
for name in "${FIRST[@]}"; do stage "$name" live; done
lane "${LANE_A[@]}" &
lane_a=$!
lane "${LANE_B[@]}"
wait "$lane_a"

echo
echo "make test: stage times (seconds; the two lanes after pytest ran at once)"
awk '{ printf "  %-16s %-7s %5d\n", $1, $2, $3 }' "$logs/times"
echo "  total                    $((SECONDS - start))"
if grep -q ' FAILED ' "$logs/times"; then
  echo "make test: failed: $(awk '$2 == "FAILED" { printf "%s ", $1 }' "$logs/times")(logs in build/test-logs)" >&2
  exit 1
fi
echo "make test: all checks passed"
