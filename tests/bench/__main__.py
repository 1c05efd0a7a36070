"""``python -m tests.bench``: measure, then write docs/benchmarks.md.

Every figure in the document comes from this one run, on this machine, against the sandbox:
requests counted in the sandbox's log, wall times as medians of repeated runs taken in
alternation, so that a noisy neighbour slows both sides alike.
"""
import argparse
import datetime
import os
import pathlib
import platform
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
subprocess.run([str(ROOT / "scripts" / "link_collection.sh")], check=True)
sys.path.insert(0, str(ROOT / "build" / "collections"))
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(ROOT / "build" / "collections")

# pylint: disable=wrong-import-position
from tests.bench.cases import CASES  # noqa: E402
from tests.bench.playbooks import (  # noqa: E402
    marker_task, requests_between_markers, run_once, timed_run,
)
from tests.bench.scale import ENGINE_CONCURRENCY, rate_limited, scale  # noqa: E402
from tests.sandbox import Sandbox  # noqa: E402

EXPECTED_CHANGE = {"create": True, "no-op": False, "update": True, "rotate": True,
                   "delete": True}


def machine():
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ansible = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible"), "--version"],
                             capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return ("%s, %d cores, %s, Python %s, %s; measured %s UTC"
            % (model, os.cpu_count() or 0, platform.platform(terse=True),
               platform.python_version(), ansible,
               datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")))


def module_task(case, conn, args, register):
    return {"name": register, "tokenops.tokens." + case.module: {**conn, **args},
            "register": register, "no_log": True}


def registered(tasks):
    """``tasks`` with their results registered, as a playbook that uses the secret has them
    (a managing task that may issue a secret and keeps it nowhere is refused)."""
    return [dict(task, register=task.get("register", "bench_result")) for task in tasks]


def requests_per_operation(case):
    """One playbook: each operation between two markers; count what the sandbox saw."""
    with Sandbox() as sandbox:
        conn = case.setup(sandbox)
        operations = case.operations(sandbox)
        tasks = []
        for operation in operations:
            if operation.args is not None:
                tasks.append(marker_task(sandbox, case.platform, operation.label))
                tasks.append(module_task(case, conn, operation.args,
                                         operation.label.replace("-", "_")))
        tasks.append(marker_task(sandbox, case.platform, "end"))
        sandbox.log.clear()
        run = run_once(tasks)
        counted = requests_between_markers(sandbox, case.platform)
    rows = []
    for operation in operations:
        if operation.args is None:
            rows.append((case.module, operation.label, "n/a", "n/a", "n/a", operation.why))
            continue
        result = run[operation.label.replace("-", "_")]
        if bool(result["changed"]) != EXPECTED_CHANGE[operation.label]:
            raise RuntimeError("%s %s: changed=%s" % (case.module, operation.label,
                                                      result["changed"]))
        sent = counted[operation.label]
        methods = " ".join(entry.method for entry in sent)
        verdict = "equal" if len(sent) == operation.minimum else "**%+d**" % (
            len(sent) - operation.minimum)
        rows.append((case.module, operation.label, "%d (%s)" % (len(sent), methods),
                     str(operation.minimum), verdict, operation.why))
    return rows


def versus_uri(case, repeats, copies):
    """Wall time per job, collection vs hand-written uri tasks, overhead of a run removed."""
    with Sandbox() as sandbox:
        conn = case.setup(sandbox)
        extra = case.extra_vars(conn)
        run_once(registered(case.collection_jobs(conn)["no-op"]))  # the token exists from here on
        baseline = [{"name": "nothing", "ansible.builtin.debug": {"msg": "baseline"}}]
        rows = []
        for job in ("no-op", "rotation"):
            sides = {"collection": registered(case.collection_jobs(conn)[job]) * copies,
                     "uri": case.uri_jobs(conn)[job] * copies}
            samples = {"collection": [], "uri": [], "baseline": []}
            for _round in range(repeats):          # alternate, so noise hits both sides
                samples["baseline"].append(timed_run(baseline, 1)[0])
                for side, tasks in sides.items():
                    samples[side].append(timed_run(tasks, 1, extra_vars=extra)[0])
            base = statistics.median(samples["baseline"])
            per_job = {side: max(statistics.median(samples[side]) - base, 0.0) / copies
                       for side in sides}
            ratio = per_job["collection"] / per_job["uri"] if per_job["uri"] else float("nan")
            rows.append((case.title, job, "%.2f s" % per_job["collection"],
                         "%.2f s" % per_job["uri"], "%.2f" % ratio,
                         "met" if ratio <= 1.0 else "**missed**",
                         "%d tasks" % (len(sides["uri"]) // copies)))
    return rows


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--repeats", type=int, default=5, help="runs per timed figure")
    parser.add_argument("--copies", type=int, default=4,
                        help="copies of a job in one playbook, to average out its start-up")
    parser.add_argument("--sizes", default="10,100,500", help="token counts for the scale runs")
    parser.add_argument("--latency", type=float, default=0.02,
                        help="seconds the sandbox adds to every request in the scale runs")
    parser.add_argument("--big", type=int, default=5000,
                        help="token count of the large no-op run (0: skip it)")
    parser.add_argument("--scale-repeats", type=int, default=3,
                        help="no-op runs per size in the scale part (the median is used)")
    parser.add_argument("--parts", default="1,2,3,4", help="which parts to measure")
    args = parser.parse_args()

    sections = ["# Benchmarks", "",
                "Written by `make bench` (`python -m tests.bench`); every figure below comes from "
                "one run of that command against the sandbox.", "",
                "Machine: " + machine(), ""]

    parts = set(args.parts.split(","))
    if "1" in parts:
        sections += part1()
    if "2" in parts:
        sections += part2(args)
    if "3" in parts:
        sections += part3(args)
    if "4" in parts:
        sections += part4()

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(sections))
    print("wrote %s" % out)


def part1():
    print("requests per operation ...", flush=True)
    rows = [row for case in CASES for row in requests_per_operation(case)]
    return ["## 1. Requests per operation", "",
            "Counted in the sandbox's request log between marker requests, one module task per "
            "operation, on an account with neighbouring tokens. The minimum is the fewest "
            "requests the platform's API allows for a correct result; the last column says how.",
            "", table(["module", "operation", "sent (methods)", "minimum", "verdict",
                       "why that minimum"], rows), ""]


def part2(args):
    print("collection vs uri ...", flush=True)
    rows = [row for case in CASES for row in versus_uri(case, args.repeats, args.copies)]
    return ["## 2. Against hand-written `ansible.builtin.uri` tasks", "",
            "Wall time per job (median of %d alternated runs, each with %d copies of the job, "
            "minus the median of an empty playbook). Goal: ratio at or below 1.0. The uri jobs "
            "read one page, do not retry and have no check mode." % (args.repeats, args.copies),
            "", table(["token", "job", "collection", "uri", "ratio", "goal", "uri job"], rows),
            ""]


def part3(args):
    sizes = [int(size) for size in args.sizes.split(",")]
    print("scale %s ..." % sizes, flush=True)
    runs = scale(sizes, args.latency, args.scale_repeats)
    big = scale([500, args.big], 0.0, args.scale_repeats) if args.big else []
    described = ("The role over %s tokens spread evenly over the five platforms, %d ms added to "
                 "every request by the sandbox, one file sink per token%s. Each size runs once "
                 "with half due, then %d time(s) "
                 "finding nothing due (the median is used). Peak memory is the largest "
                 "process's resident set. The floor is measured in the same sandbox and "
                 "directory: the median wall time of an empty playbook, plus the run's requests "
                 "times the added latency divided by the %d threads the engine runs connections "
                 "with." % (", ".join(map(str, sizes)), round(args.latency * 1000),
                            "; then 500 and %d tokens with no added latency" % args.big
                            if args.big else "", args.scale_repeats, ENGINE_CONCURRENCY))
    rows = [(r["count"], "%d ms" % round(r["latency"] * 1000), r["kind"], r["rotated"],
             "%.2f s" % r["seconds"], "%.2f s" % r["floor"], "%.2f" % (r["seconds"] / r["floor"]),
             "%.0f MiB" % r["peak"], r["requests"], r["failed"]) for r in runs + big]
    for row in rows:
        print("  " + " | ".join(str(cell) for cell in row), flush=True)
    goals = scale_goals(runs, big, args)
    for goal in goals:
        print("  " + goal, flush=True)
    return ["## 3. Scale: the rotation role over many tokens", "", described, "",
            table(["tokens", "added latency", "run", "rotated", "wall time", "floor", "ratio",
                   "peak memory", "requests", "failed"], rows), "", "Goals:", ""] + goals + [""]


def _median_run(runs, count, first):
    chosen = [r for r in runs if r["count"] == count and r["kind"].startswith("first") == first]
    if not chosen:
        return None
    chosen.sort(key=lambda r: r["seconds"])
    return chosen[len(chosen) // 2]


def _verdict(ok):
    return "met" if ok else "not met"


def scale_goals(runs, big, args):
    goals = []
    none_due = _median_run(runs, 500, False)
    if none_due:
        ratio = none_due["seconds"] / none_due["floor"]
        goals.append("- 500 tokens, nothing due: <= 3.0 s and <= 3x the floor: **%s** (%.2f s, "
                     "floor %.2f s, ratio %.2f; %d rotated, see the notes)"
                     % (_verdict(none_due["seconds"] <= 3.0 and ratio <= 3.0),
                        none_due["seconds"], none_due["floor"], ratio, none_due["rotated"]))
    first = _median_run(runs, 500, True)
    if first:
        ratio = first["seconds"] / first["floor"]
        goals.append("- 500 tokens, %d due (file sinks): <= 2x the floor: **%s** (%.2f s, floor "
                     "%.2f s, ratio %.2f)" % (first["rotated"], _verdict(ratio <= 2.0),
                                              first["seconds"], first["floor"], ratio))
    small, large = _median_run(big, 500, False), _median_run(big, args.big, False)
    if small and large:
        slope = (large["seconds"] - small["seconds"]) / (args.big - 500)
        flat = large["seconds"] / args.big <= small["seconds"] / 500 * 1.05
        goals.append("- %d tokens, nothing due, no added latency: <= 15 s and <= 300 MiB: **%s** "
                     "(%.2f s, %.0f MiB)" % (args.big, _verdict(large["seconds"] <= 15 and
                                                                large["peak"] <= 300),
                                             large["seconds"], large["peak"]))
        goals.append("- seconds per token falling or flat from 500 to %d: **%s** (%.4f s -> "
                     "%.4f s per token)" % (args.big, _verdict(flat), small["seconds"] / 500,
                                            large["seconds"] / args.big))
        goals.append("- the cost of one more token in a no-op run (slope 500 -> %d): %.2f ms"
                     % (args.big, slope * 1000))
    return goals


def part4():
    print("rate limit ...", flush=True)
    figures = rate_limited()
    ratio = figures["seconds"] / figures["allowed"]
    met = figures["failed"] == 0 and figures["delivered_live"] == figures["tokens"] \
        and ratio <= 1.10
    return ["## 4. Rate limits", "",
            "%(tokens)d Cloudflare tokens rotated by the role while the sandbox enforces "
            "Cloudflare's rate (1,200 requests per 5 minutes, 4 per second) with a short window "
            "of %(limit)d requests per %(window).0f s, so that the budget decides the run's "
            "length. The client waits out each 429 for the time the platform's headers give. "
            "What the budget allows: the same run without a limit (%(unlimited_seconds).1f s) "
            "plus the windows the admin credential's %(spent)d requests must wait for "
            "(%(forced).0f s); each new secret's check spends that secret's own budget."
            % figures, "",
            table(["tokens", "rotated", "failed tokens", "sinks holding a live secret",
                   "requests accepted", "429 answers", "wall time", "budget allows", "ratio",
                   "goal (no failure, within 10%)"],
                  [(figures["tokens"], figures["rotated"], figures["failed"],
                    figures["delivered_live"], figures["accepted"], figures["refused_429"],
                    "%.1f s" % figures["seconds"], "%.1f s" % figures["allowed"],
                    "%.2f" % ratio, "met" if met else "**missed**")]), ""]


if __name__ == "__main__":
    main()
