"""The rotation role at scale, and under Cloudflare's rate limit (parts 3 and 4 of the bench)."""
import json
import pathlib
import resource
import subprocess
import tempfile
import time

from tests.functional.harness import BIN, ansible_env
from tests.functional.test_rotate_role import role_playbook
from tests.sandbox import Sandbox
from tests.sandbox.core import days_ago

PLATFORMS = ("pulumi", "tfe", "cloudflare", "cloudtruth", "pactflow")


def seed(sandbox, count, due_share=0.5):
    """``count`` tokens spread evenly over the five platforms, ``due_share`` of them old."""
    tokens = []
    for platform in PLATFORMS:
        tokens += seed_platform(sandbox, platform, count // len(PLATFORMS), due_share)
    return tokens


def seed_platform(sandbox, platform, count, due_share=0.5):
    """``count`` tokens on one platform, ``due_share`` of them old enough to be due (90 days)."""
    due_count = int(count * due_share)

    def age(index):
        return days_ago(120) if index < due_count else days_ago(10)

    tokens = SEEDERS[platform](sandbox[platform], count, age)
    for item in tokens:
        item["max_age"] = "90d"
    return tokens


def _pulumi(pulumi, count, age):
    conn = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    for index in range(count):
        pulumi.add_personal_token("scale-%03d" % index, created=age(index))
    return [{"provider": "pulumi", "id": "pulumi-%03d" % index,
             "params": dict(conn, description="scale-%03d" % index)} for index in range(count)]


def _tfe(tfe, count, age):
    conn = {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}
    teams = [tfe.add_team("scale-team-%02d" % number) for number in range(10)]
    for index in range(count):
        tfe.add_token(teams[index % 10], description="scale-%03d" % index, created_at=age(index))
    return [{"provider": "tfe", "id": "tfe-%03d" % index,
             "params": dict(conn, team="scale-team-%02d" % (index % 10),
                            description="scale-%03d" % index)} for index in range(count)]


def _cloudflare(cloudflare, count, age):
    cloudflare.user_token_quota = 10000
    conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    for index in range(count):
        cloudflare.add_token("scale-%03d" % index, issued_on=age(index))
    return [{"provider": "cloudflare", "id": "cloudflare-%03d" % index,
             "params": dict(conn, name="scale-%03d" % index)} for index in range(count)]


def _cloudtruth(cloudtruth, count, age):
    conn = {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token}
    for index in range(count):
        cloudtruth.add_service_account("scale-%03d" % index, key_created=age(index))
    return [{"provider": "cloudtruth", "id": "cloudtruth-%03d" % index,
             "params": dict(conn, name="scale-%03d" % index)} for index in range(count)]


def _pactflow(pactflow, count, age):
    # PactFlow lists only the caller's own two tokens: each item is a system account whose
    # read-write token rotates its read-only one. The age of a PactFlow token is unknown, so
    # the first run rotates them all (the report says so) and later runs count from it.
    tokens = []
    for index in range(count):
        account = pactflow.add_system_account("scale-%03d" % index)
        credential = pactflow.token_by_type("read-write", account)["value"]
        tokens.append({"provider": "pactflow", "id": "pactflow-%03d" % index,
                       "params": {"api_url": pactflow.url, "api_token": credential,
                                  "type": "read-only"}})
    return tokens


SEEDERS = {"pulumi": _pulumi, "tfe": _tfe, "cloudflare": _cloudflare,
           "cloudtruth": _cloudtruth, "pactflow": _pactflow}


def run_role(work, tokens, sinks):
    """Run the role once; return (seconds, peak RSS in MiB of the largest process, report)."""
    for item in tokens:
        item["deliver"] = [{"type": "file", "path": str(sinks / item["id"])}]
    playbook = role_playbook(work, tokens)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)],
                          capture_output=True, text=True, env=ansible_env(work), cwd=work,
                          timeout=900, check=False)
    seconds = time.perf_counter() - started
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024.0
    if proc.returncode != 0:
        raise RuntimeError("rotation run failed:\n" + proc.stdout[-3000:] + proc.stderr[-2000:])
    report = json.loads((work / "report" / "report.json").read_text())
    return seconds, peak, report


def actions(report):
    counted = {}
    for row in report["tokens"]:
        counted[row["action"]] = counted.get(row["action"], 0) + 1
    return counted


#: threads the engine plans or rotates with at once across connections (``run_groups``): the
#: concurrency the floor divides by (within a connection it may use more for due tokens, so
#: the floor of a rotation run is, if anything, too high)
ENGINE_CONCURRENCY = 8


def empty_playbook_seconds(work, repeats=3):
    """Median wall time of ``ansible-playbook`` over a play with no task, in this environment."""
    playbook = work / "empty.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  connection: local\n"
                        "  tasks: []\n")
    samples = []
    for _round in range(repeats):
        started = time.perf_counter()
        subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)],
                       capture_output=True, env=ansible_env(work), cwd=work, check=True)
        samples.append(time.perf_counter() - started)
    return sorted(samples)[len(samples) // 2]


def scale(counts, latency, repeats=1):
    """Part 3: per size, the run with half due, then ``repeats`` runs with nothing due; each
    with the floor measured in the same sandbox and directory (``floor``)."""
    runs = []
    for count in counts:
        with Sandbox(latency=latency) as sandbox, tempfile.TemporaryDirectory() as tmp:
            work = pathlib.Path(tmp)
            sinks = work / "sinks"
            sinks.mkdir()
            tokens = seed(sandbox, count)
            empty = empty_playbook_seconds(work)
            kinds = ["first run (half due; PactFlow's age is unknown, so all of its tokens "
                     "are due)"] + ["next run"] * repeats
            for kind in kinds:
                sandbox.log.clear()
                seconds, peak, report = run_role(work, tokens, sinks)
                done = actions(report)
                requests = len(sandbox.log.select())
                runs.append(dict(count=count, kind=kind, seconds=seconds, peak=peak,
                                 requests=requests, rotated=done.get("rotated", 0),
                                 failed=_fails(done), empty=empty, latency=latency,
                                 floor=floor(empty, requests, latency)))
    return runs


def floor(empty, requests, latency):
    """What a run cannot beat: Ansible's own start-up (an empty playbook) plus its requests'
    added latency spread over the threads the engine may use."""
    return empty + requests * latency / ENGINE_CONCURRENCY


def _fails(done):
    return done.get("failed", 0)


def rate_limited(count=100, limit=20, window=5.0):
    """Part 4: ``count`` Cloudflare tokens rotated while the sandbox enforces a request budget.

    Cloudflare allows 1,200 requests per 5 minutes (4 per second); the bench keeps that rate
    with a much shorter window (``limit`` per ``window`` seconds), so that the budget, not the
    run's own work, decides how long 100 rotations take. The same run without a limit is
    measured first: what the budget allows is that time plus the windows it forces to wait for.
    """
    unlimited = _cloudflare_rotation(count, None, window)
    limited = _cloudflare_rotation(count, limit, window)
    spent = limited["spent"]
    forced = ((spent - 1) // limit) * window
    limited.update(unlimited_seconds=unlimited["seconds"], forced=forced,
                   allowed=unlimited["seconds"] + forced, limit=limit, window=window)
    return limited


def _cloudflare_rotation(count, limit, window):
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        sinks = work / "sinks"
        sinks.mkdir()
        cloudflare = sandbox["cloudflare"]
        cloudflare.user_token_quota = 10000
        conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
        tokens = []
        for index in range(count):
            cloudflare.add_token("limited-%03d" % index, issued_on=days_ago(120))
            tokens.append({"provider": "cloudflare", "id": "cloudflare-%03d" % index,
                           "params": dict(conn, name="limited-%03d" % index), "max_age": "90d"})
            if limit:
                # The short window stands for Cloudflare's five minutes: the items say so, as a
                # user would for a limit lower than the published one.
                tokens[-1]["limits"] = {"requests": limit, "seconds": window}
        if limit:
            cloudflare.enforce_rate_limit(limit, window)
        seconds, _peak, report = run_role(work, tokens, sinks)
        entries = sandbox.log.select("cloudflare")
        refused = sum(1 for e in entries if e.status == 429)
        # The budget is per credential: the check of each new secret spends that secret's own.
        limiter = cloudflare.rate_limiter
        spent = limiter.admitted.get(cloudflare.admin_token, 0) if limiter else None
        done = actions(report)
        live = sum(1 for item in tokens
                   if sandbox.secrets.is_live((sinks / item["id"]).read_text()))
        return dict(tokens=count, rotated=done.get("rotated", 0), failed=done.get("failed", 0),
                    delivered_live=live, accepted=len(entries) - refused, refused_429=refused,
                    spent=spent, seconds=seconds)
