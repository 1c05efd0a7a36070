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
from tests.bench.estate import LISTED, MANY, inventory_run, role_run  # noqa: E402
from tests.bench.scale import (  # noqa: E402
    ENGINE_CONCURRENCY, RATE_LIMITED, rate_limited, scale,
)
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
    parser.add_argument("--parts", default="1,2,3,4,5", help="which parts to measure")
    parser.add_argument("--estate-count", type=int, default=5000,
                        help="tokens the inventory plugin lists in part 5")
    parser.add_argument("--estate-latency", type=float, default=0.02,
                        help="seconds the sandbox adds to every request of part 5's listings")
    parser.add_argument("--estate-repeats", type=int, default=5,
                        help="alternated runs per figure of part 5's inventory")
    parser.add_argument("--role-count", type=int, default=50000,
                        help="tokens of part 5's large role run (0: skip it)")
    parser.add_argument("--role-repeats", type=int, default=3,
                        help="runs with and without the hygiene and metrics, each, in part 5")
    parser.add_argument("--update", action="store_true",
                        help="keep the parts not measured from the existing file, and say in "
                             "each measured part when and where it was measured")
    args = parser.parse_args()

    measured = machine()
    header = ["# Benchmarks", "",
              "Written by `make bench` (`python -m tests.bench`); every figure below comes from "
              "one run of that command against the sandbox.", "", "Machine: " + measured, ""]

    parts = args.parts.split(",")
    builders = {"1": part1, "2": lambda: part2(args), "3": lambda: part3(args), "4": part4,
                "5": lambda: part5(args)}
    out = pathlib.Path(args.out)
    kept = split_parts(out.read_text()) if args.update and out.exists() else {}
    if kept:
        header = kept.pop("header")
        header[2] = ("Written by `make bench` (`python -m tests.bench`) against the sandbox: the "
                     "figures of a part come from one run of that command; a part measured on its "
                     "own (`--parts N --update`) says so.")
    result = {}
    for part in sorted(builders):
        if part in parts:
            result[part] = builders[part]()
            if kept:
                result[part][1:1] = ["", "Measured on its own (`--parts %s --update`): %s"
                                     % (part, measured)]
        elif part in kept:
            result[part] = kept[part]
    sections = header + [line for part in sorted(result) for line in result[part]]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(sections))
    print("wrote %s" % out)


def split_parts(text):
    """``{"header": lines, "1": lines, ...}`` of a benchmarks.md (parts start ``## N.``)."""
    found, current = {"header": []}, "header"
    for line in text.split("\n"):
        if line.startswith("## ") and line[3:].split(".", 1)[0].isdigit():
            current = line[3:].split(".", 1)[0]
            found[current] = []
        found[current].append(line)
    return found


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
    runs = scale(sizes, args.latency, args.scale_repeats, compare=True)
    # Nothing due in the large runs but PactFlow's tokens (their age is unknown to a new journal),
    # so that the first run does not spend minutes within the request budgets.
    big = scale([500, args.big], 0.0, args.scale_repeats, due_share=0.0) if args.big else []
    described = (
        "The role over %s tokens spread evenly over the five platforms, %d ms added to every "
        "request by the sandbox, one file sink per token%s. The list is in the inventory "
        "(`group_vars`); the role is called with `include_role` and `rolespec_validate: false` "
        "(the engine checks every item itself before any request), and for comparison as "
        "`roles:`, where ansible-core first checks the role's argument spec, and with the list "
        "in a play's `vars_files`, which ansible-core reads again for every task. Each size runs "
        "once with tokens due, then %d time(s) finding nothing due (the median is used). Peak "
        "memory is the run's largest process (`wait4`). The floor is measured in the same "
        "sandbox and directory: the median wall time of an empty playbook, plus the longer of "
        "the run's requests times the added latency divided by the %d threads the engine runs "
        "connections with, and the time the default request budgets allow for each credential's "
        "requests (the budget column; the issue's floor is the latency part alone)."
        % (", ".join(map(str, sizes)), round(args.latency * 1000),
           "; then 500 and %d tokens with no added latency and nothing due but PactFlow's in "
           "their first run" % args.big if args.big else "", args.scale_repeats,
           ENGINE_CONCURRENCY))
    rows = [(r["count"], "%d ms" % round(r["latency"] * 1000), r["kind"], r["rotated"],
             "%.2f s" % r["seconds"], "%.2f s" % r["floor"], "%.2f s" % r["budget"],
             "%.2f" % (r["seconds"] / r["floor"]), "%.0f MiB" % r["peak"] if r["peak"] else "",
             r["requests"], r["failed"]) for r in runs + big]
    for row in rows:
        print("  " + " | ".join(str(cell) for cell in row), flush=True)
    goals = scale_goals(runs, big, args)
    for goal in goals:
        print("  " + goal, flush=True)
    return ["## 3. Scale: the rotation role over many tokens", "", described, "",
            table(["tokens", "added latency", "run", "rotated", "wall time", "floor",
                   "of which budget", "ratio", "peak memory", "requests", "failed"], rows), "",
            "Goals (medians):", ""] + goals + [""]


def _median_run(runs, count, kind, invocation="no-rolespec"):
    chosen = sorted((r for r in runs if r["count"] == count and r["invocation"] == invocation
                     and r["kind"].startswith(kind)), key=lambda r: r["seconds"])
    return chosen[len(chosen) // 2] if chosen else None


def _verdict(ok):
    return "met" if ok else "not met"


def _none_due_goal(run, label):
    ratio = run["seconds"] / run["floor"]
    return ("- 500 tokens, nothing due, %s: <= 3.0 s and <= 3x the floor: **%s** (%.2f s, floor "
            "%.2f s, ratio %.2f; %d rotated)"
            % (label, _verdict(run["seconds"] <= 3.0 and ratio <= 3.0), run["seconds"],
               run["floor"], ratio, run["rotated"]))


def scale_goals(runs, big, args):
    goals = []
    none_due = _median_run(runs, 500, "next run")
    if none_due:
        goals.append(_none_due_goal(none_due, "`rolespec_validate: false`"))
    checked = _median_run(runs, 500, "next run", "roles")
    if checked:
        goals.append(_none_due_goal(checked, "`roles:` (ansible-core's role argument check "
                                             "included)"))
    first = _median_run(runs, 500, "first")
    if first:
        ratio = first["seconds"] / first["floor"]
        latency_floor = first["empty"] + first["requests"] * first["latency"] / ENGINE_CONCURRENCY
        goals.append("- 500 tokens, %d due (file sinks): <= 2x the floor: **%s** (%.2f s, floor "
                     "%.2f s of which the request budgets %.2f s, ratio %.2f; to the latency "
                     "floor alone, %.2f s: ratio %.2f)"
                     % (first["rotated"], _verdict(ratio <= 2.0), first["seconds"],
                        first["floor"], first["budget"], ratio, latency_floor,
                        first["seconds"] / latency_floor))
    small, large = _median_run(big, 500, "next run"), _median_run(big, args.big, "next run")
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
    rows = []
    for name in RATE_LIMITED:
        print("rate limit %s ..." % name, flush=True)
        figures = rate_limited(name)
        ratio = figures["seconds"] / figures["allowed"]
        met = (figures["failed"] == 0 and figures["delivered_live"] == figures["tokens"]
               and figures["refused_429"] <= 5 and ratio <= 1.10)
        enforced, budget = figures["enforced"], figures["budget"]
        rows.append((name, "%d per %g s" % enforced, "%d per %g s" % budget,
                     figures["tokens"], figures["rotated"], figures["failed"],
                     figures["delivered_live"], figures["accepted"], figures["refused_429"],
                     "%.1f s" % figures["unlimited_seconds"], "%.1f s" % figures["seconds"],
                     "%.1f s" % figures["allowed"], "%.2f" % ratio,
                     "met" if met else "**not met**"))
        print("  " + " | ".join(str(cell) for cell in rows[-1]), flush=True)
    return ["## 4. Rate limits", "",
            "200 tokens per platform rotated by the role while the sandbox enforces that "
            "platform's rate limit per credential: TFE's published 30 per second, Pulumi's and "
            "CloudTruth's assumed 10 per second (neither publishes a number), and Cloudflare's "
            "1,200 per 5 minutes kept as its rate, 4 per second, in a window of 20 per 5 s (the "
            "items' `limits` say so, as a user would for a limit lower than the published one), "
            "so that the budget decides the run's length. PactFlow is left out: each of its "
            "tokens is rotated with its own credential. The client waits out each 429 for the "
            "time the platform's headers give. What the budget allows: the same run without a "
            "limit plus the windows of the role's budget that the admin credential's requests "
            "must wait for; each new secret's check spends that secret's own budget. Goal: no "
            "failure, at most a handful (5) of 429 answers, within 10% of what the budget "
            "allows.", "",
            table(["platform", "enforced", "role's budget", "tokens", "rotated", "failed tokens",
                   "sinks holding a live secret", "requests accepted", "429 answers",
                   "without a limit", "wall time", "budget allows", "ratio", "goal"], rows), ""]


def part5(args):
    print("estate: inventory over %d tokens ..." % args.estate_count, flush=True)
    inv = inventory_run(args.estate_count, args.estate_latency, args.estate_repeats)
    plugin, cache = inv["plugin"] / inv["floor"], inv["cache"] / inv["floor"]
    rows = [("listing the platforms", "%d" % inv["requests"], "%.2f s" % inv["plugin"],
             "%.2f s" % inv["floor"], "%.2f" % plugin, "<= 1.5",
             _verdict(plugin <= 1.5)),
            ("from the inventory cache", "0", "%.2f s" % inv["cache"], "%.2f s" % inv["floor"],
             "%.2f" % cache, "<= 1.15", _verdict(cache <= 1.15))]
    for row in rows:
        print("  " + " | ".join(row), flush=True)
    lines = ["## 5. The token estate", "",
             "### The inventory plugin", "",
             "`ansible-inventory --list` with `tokenops.tokens.tokens` over %d tokens (%d hosts: "
             "%d on each of TFE, Cloudflare, Pulumi and CloudTruth, and the two of PactFlow's one "
             "credential), one connection per platform, %d ms added by the sandbox to every "
             "request; the same with the inventory cache on (`ansible.builtin.jsonfile`, filled "
             "first). The floor: `ansible-inventory --list` printing the same hosts, variables and "
             "groups (checked equal) from a static inventory (a JSON file read by the `yaml` "
             "inventory plugin), measured in the same run. Medians of %d runs, taken in "
             "alternation." % (inv["count"], inv["hosts"], inv["count"] // len(LISTED),
                               round(inv["latency"] * 1000), inv["repeats"]), "",
             table(["run", "requests", "wall time", "floor", "ratio", "goal", "verdict"], rows),
             ""]
    if args.role_count:
        print("estate: the role over %d tokens ..." % args.role_count, flush=True)
        lines += role_section(role_run(args.role_count, args.role_repeats))
    return lines


def role_section(big):
    runs = big["runs"]
    median = {side: statistics.median(r["seconds"] for r in runs[side]) for side in runs}
    peak = {side: max(r["peak"] for r in runs[side]) for side in runs}
    added = median["with"] / median["without"] - 1
    rows = []
    for side, title in (("with", "hygiene and metrics file (the defaults, plus "
                                 "`rotate_metrics_file`)"),
                        ("without", "`rotate_hygiene: false`, no metrics")):
        done = runs[side][0]["actions"]
        rows.append((title, "%.1f s" % median[side], "%.0f MiB" % peak[side],
                     runs[side][0]["requests"], ", ".join("%d %s" % (n, a)
                                                          for a, n in sorted(done.items()))))
    goals = ["- %d tokens, nothing due, no added latency: <= 60 s and <= 1 GiB: **%s** (%.1f s, "
             "%.0f MiB)" % (big["count"], _verdict(median["with"] <= 60 and peak["with"] <= 1024),
                            median["with"], peak["with"]),
             "- the hygiene and the metrics add <= 10%% to the run: **%s** (%+.1f%%)"
             % (_verdict(added <= 0.10), added * 100)]
    for goal in goals:
        print("  " + goal, flush=True)
    return ["### The rotation role over %d tokens" % big["count"], "",
            "%d tokens, %d on each of TFE (ten teams), Cloudflare, Pulumi and CloudTruth (the "
            "platforms whose credentials hold many tokens), nothing due, no added latency, one "
            "file sink each. `rotate_tokens` is in the inventory as a JSON vars file "
            "(`group_vars/all/rotate.json`: ansible-core reads JSON about three times faster, in "
            "less than half the memory, than the same list in YAML; docs/rotation.md, Long "
            "lists), the role called with `include_role` and `rolespec_validate: false`. Runs "
            "with the report's hygiene and the metrics file alternate with runs without them, "
            "%d of each; the wall time is their median, the peak memory (the run's largest "
            "process, `wait4`) their largest." % (big["count"], big["count"] // len(MANY),
                                                  big["repeats"]), "",
            table(["run", "wall time", "peak memory", "requests", "rows"], rows), "",
            "Goals:", ""] + goals + [""]


if __name__ == "__main__":
    main()
