"""The rotation role at scale, and under Cloudflare's rate limit (parts 3 and 4 of the bench)."""
import json
import os
import pathlib
import subprocess
import tempfile
import time

import yaml

from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
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
    # Cloudflare allows 50 user tokens per user: the sandbox holds more here, and the items roll
    # their tokens' values in place (rotation: roll), since the default replace would add a
    # token beside each and the role's preflight refuses a replace over the quota.
    cloudflare.user_token_quota = 10000
    conn = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}
    for index in range(count):
        cloudflare.add_token("scale-%03d" % index, issued_on=age(index))
    return [{"provider": "cloudflare", "id": "cloudflare-%03d" % index,
             "params": dict(conn, name="scale-%03d" % index, rotation="roll")}
            for index in range(count)]


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


def inventory_playbook(work, tokens):
    """The role's play with its variables in the inventory (``group_vars/all``), where
    ansible-core reads them once per run; ``(inventory, playbook)``.

    Not in a play's ``vars_files``: ansible-core reads an unencrypted ``vars_files`` file again
    for every task (``VariableManager.get_vars`` caches only vault-encrypted ones), which costs
    about 0.1 s per task for 500 tokens whatever the role does (``vars_files_penalty``).
    """
    inventory = work / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    (inventory / "hosts").write_text("localhost ansible_connection=local\n")
    variables = inventory / "group_vars" / "all" / "rotate.yml"
    variables.write_text(yaml.safe_dump({
        "rotate_tokens": tokens, "rotate_state_dir": str(work / "state"),
        "rotate_report_dir": str(work / "report")}, sort_keys=False))
    variables.chmod(0o600)
    playbook = work / "rotate-inventory.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "rotate", "hosts": "localhost", "gather_facts": False,
        "roles": [{"role": "tokenops.tokens.rotate"}]}]))
    return inventory, playbook


#: how the role is called in a scale run: ``roles:`` (ansible-core first checks the role's
#: argument spec, about 2 ms per token), ``include_role`` with ``rolespec_validate: false``
#: (the engine still checks every item before any request), or ``roles:`` with the list in a
#: play's ``vars_files``
INVOCATIONS = ("roles", "no-rolespec", "vars_files")


def _no_rolespec_playbook(work):
    playbook = work / "rotate-no-rolespec.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "rotate", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "rotate", "ansible.builtin.include_role": {
            "name": "tokenops.tokens.rotate", "rolespec_validate": False}}]}]))
    return playbook


def run_role(work, tokens, sinks, invocation="no-rolespec", inventory=None):
    """Run the role once; return (seconds, peak RSS in MiB of the run's largest process, report).

    ``invocation`` is one of ``INVOCATIONS``; ``inventory``: one that already holds the role's
    variables (then called as ``no-rolespec``)."""
    for item in tokens:
        item["deliver"] = [{"type": "file", "path": str(sinks / item["id"])}]
    if inventory is not None:
        playbook = _no_rolespec_playbook(work)
    elif invocation == "vars_files":
        inventory, playbook = "localhost,", role_playbook(work, tokens)
    else:
        inventory, playbook = inventory_playbook(work, tokens)
        if invocation == "no-rolespec":
            playbook = _no_rolespec_playbook(work)
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen([str(BIN / "ansible-playbook"), "-i", str(inventory),
                                 str(playbook)], stdout=out, stderr=subprocess.STDOUT,
                                env=ansible_env(work), cwd=work)
        # wait4: this run's own peak (its largest process, workers included), not the bench's
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise RuntimeError("rotation run failed:\n" + out.read()[-5000:].decode())
    report = json.loads((work / "report" / "report.json").read_text())
    return seconds, usage.ru_maxrss / 1024.0, report


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


FIRST_RUN = ("first run (%s due; PactFlow's age is unknown, so all of its tokens are due)")
NEXT_RUN = "next run"
#: the same no-op run called otherwise (``INVOCATIONS``), for comparison
COMPARED = {"roles": "next run, with ansible-core's check of the role's argument spec (roles:)",
            "vars_files": "next run, rotate_tokens in a play's vars_files"}


def scale(counts, latency, repeats=1, due_share=0.5, compare=False):
    """Part 3: per size, the run with ``due_share`` due, then ``repeats`` runs with nothing due,
    each with the floor measured in the same sandbox and directory (``floor``). The role is
    called with ``include_role`` and ``rolespec_validate: false``; ``compare`` adds the same
    no-op run called as ``roles:`` (``repeats`` times) and with the list in ``vars_files``."""
    runs = []
    for count in counts:
        with Sandbox(latency=latency) as sandbox, tempfile.TemporaryDirectory() as tmp:
            work = pathlib.Path(tmp)
            sinks = work / "sinks"
            sinks.mkdir()
            tokens = seed(sandbox, count, due_share)
            empty = empty_playbook_seconds(work)
            plan = [(FIRST_RUN % ("half" if due_share == 0.5 else "%d%%" % (due_share * 100)),
                     "no-rolespec")] + [(NEXT_RUN, "no-rolespec")] * repeats
            if compare:
                plan += [(COMPARED["roles"], "roles")] * repeats
                plan += [(COMPARED["vars_files"], "vars_files")]
            runs.append(_reading_the_list(work, tokens, count, empty, latency))
            for kind, invocation in plan:
                sandbox.log.clear()
                seconds, peak, report = run_role(work, tokens, sinks, invocation)
                done = actions(report)
                entries = sandbox.log.select()
                runs.append(dict(count=count, kind=kind, invocation=invocation, seconds=seconds,
                                 peak=peak, requests=len(entries),
                                 rotated=done.get("rotated", 0), failed=_fails(done),
                                 empty=empty, latency=latency,
                                 budget=budget_seconds(entries),
                                 floor=floor(empty, entries, latency)))
    return runs


READING = "reference: a one-task play that only reads rotate_tokens from the same inventory"


def _reading_the_list(work, tokens, count, empty, latency):
    """What ansible-core alone spends on the list: a play whose one task reads its length."""
    inventory, _playbook = inventory_playbook(work, tokens)
    playbook = work / "read-the-list.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"ansible.builtin.debug": {"msg": "{{ rotate_tokens | length }}"}}]}]))
    samples = []
    for _round in range(3):
        started = time.perf_counter()
        subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                       capture_output=True, env=ansible_env(work), cwd=work, check=True)
        samples.append(time.perf_counter() - started)
    return dict(count=count, kind=READING, invocation="reference",
                seconds=sorted(samples)[1], peak=0.0, requests=0, rotated=0, failed=0,
                empty=empty, latency=latency, budget=0.0, floor=empty)


def budget_seconds(entries):
    """The least time the collection's default request budgets (below each platform's published
    rate limit) allow for these requests: per credential, every request beyond the first
    window's worth waits its share of a window."""
    counts = {}
    for entry in entries:
        key = (entry.platform, entry.credential_digest)
        counts[key] = counts.get(key, 0) + 1
    longest = 0.0
    for (platform, _digest), count in counts.items():
        limit, seconds = API[platform].rate_limit
        longest = max(longest, max(0, count - limit) * seconds / limit)
    return longest


def floor(empty, entries, latency):
    """What a run cannot beat: Ansible's own start-up (an empty playbook) plus the longer of its
    requests' added latency spread over the threads the engine may use and the time the
    request budgets allow (``budget_seconds``)."""
    return empty + max(len(entries) * latency / ENGINE_CONCURRENCY, budget_seconds(entries))


def _fails(done):
    return done.get("failed", 0)


#: Part 4's platforms; PactFlow is left out: each of its tokens is rotated with its own
#: credential (a system account's read-write token), so no budget is shared between tokens.
RATE_LIMITED = ("tfe", "pulumi", "cloudtruth", "cloudflare")
#: Cloudflare's window is five minutes: the bench keeps its rate (4 requests per second) in a
#: short window, so that the budget, not the run's own work, decides the run's length
CLOUDFLARE_SHORT_WINDOW = (20, 5.0)


def rate_limited(platform, count=200):
    """Part 4: ``count`` rotations on ``platform`` while the sandbox enforces its rate limit.

    The sandbox enforces the published limit (or, where none is published, what it assumes);
    Cloudflare's is kept in a short window (``CLOUDFLARE_SHORT_WINDOW``), which the items'
    ``limits`` state as a user would. The same run without a limit is measured first: what the
    budget allows is that time plus the windows of the role's budget that the admin
    credential's requests must wait for.
    """
    short = CLOUDFLARE_SHORT_WINDOW if platform == "cloudflare" else None
    unlimited = _limited_rotation(platform, count, None)
    limited = _limited_rotation(platform, count, short or "published")
    requests, window = short or API[platform].rate_limit
    spent = limited["spent"]
    forced = ((spent - 1) // requests) * window
    limited.update(platform=platform, unlimited_seconds=unlimited["seconds"], forced=forced,
                   allowed=unlimited["seconds"] + forced, budget=(requests, window),
                   enforced=limited["enforced"])
    return limited


def _limited_rotation(platform, count, limit):
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        sinks = work / "sinks"
        sinks.mkdir()
        service = sandbox[platform]
        tokens = seed_platform(sandbox, platform, count, due_share=1.0)
        if limit == "published":
            service.enforce_published_rate_limit()
        elif limit:
            service.enforce_rate_limit(*limit)
            for item in tokens:
                item["limits"] = {"requests": limit[0], "seconds": limit[1]}
        seconds, _peak, report = run_role(work, tokens, sinks)
        entries = sandbox.log.select(platform)
        refused = sum(1 for e in entries if e.status == 429)
        # The budget is per credential: the check of each new secret spends that secret's own.
        limiter = service.rate_limiter
        spent = limiter.admitted.get(service.admin_token, 0) if limiter else None
        done = actions(report)
        live = sum(1 for item in tokens
                   if sandbox.secrets.is_live((sinks / item["id"]).read_text()))
        return dict(tokens=count, rotated=done.get("rotated", 0), failed=done.get("failed", 0),
                    delivered_live=live, accepted=len(entries) - refused, refused_429=refused,
                    spent=spent, seconds=seconds,
                    enforced=(limiter.limit, limiter.window) if limiter else None)
