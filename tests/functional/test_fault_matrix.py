"""The fault matrix (issue 9): platform x rotation step x fault.

Each cell injects one fault into one step of a rotation, runs the rotation engine (the code the
role runs, called in-process so that 200 runs take seconds), then one clean run, then one more.
A cell passes when, after the clean run:

- every consumer (the file sink) holds a secret the sandbox accepts;
- exactly one token of that identity exists on the platform, and the report names it;
- the run after that converges: nothing due, only reads sent.

Issue 16 adds rows and checks of the failing run itself. Every consumer starts with the current
secret; after the failing run:

- a sink that fails its check before issuing ("vault sink check": a vault sink whose password
  file is missing, "sink fails": a file where the sink's directory should be) leaves every
  request that changes anything unsent and the consumer's secret working;
- on an in-place platform, a check of the new secret that cannot conclude (500, timeout, drop,
  malformed answer) still leaves the consumer holding a secret that works;
- "lost x2" and "lost x3": that many create answers lost in a row, then a clean run.

Issue 22 adds two rows, each with its own column, whose failing run must itself rotate (the
transient answer is asked again) and must not take the caller's credential for dead:

- "identity": the lookup of who api_token is (made before a rotation that could lock the caller
  out, or after one to tell whether the caller's own credential died) answers a transient
  refusal once ("transient x1"): Cloudflare's 403 code 10000 on verify, elsewhere a 401.
  PactFlow has no such lookup here: it tells the caller's token by the values its listing shows.
  CloudTruth looks only without a rekey window, so its row rotates with keep_previous_for: 0.
- "lag": every secret issued by the run is refused for a second while it propagates ("lag 1s",
  the sandbox's propagation_lag switch).

Issues 22 and 23 add a second matrix (``test_wire_fault_matrix``): the listing as a step, and the
wire faults of hostile servers: one 500 (the failing run itself must succeed where the request
is safe to repeat), a trickled answer (the request's deadline ends it), an oversized body,
deeply nested JSON, and a Retry-After in the year 99999 (ignored, never a crash: the run backs
off and succeeds on every step).

Issue 24 adds a column per fault of the secret-store sinks (real OpenBao and moto servers,
``tests/stores.py``), at the deliver step; their clean runs deliver to a file, a ``vault_kv``
and an ``aws_secretsmanager`` sink, and every one of them must hold the working secret:

- "vault_kv check": the Vault server is unreachable, and "aws check": ``key`` names a field of a
  secret that is not JSON. Both fail before issuing, as the other sink faults;
- "aws write denied": the identity may read the secret but not write it (IAM), which no check
  before issuing can tell: the write fails after the secret was issued. Where the previous
  secret still works it stays, and the sinks written before are put back;
- "vault_kv changed" (on one platform of each kind): another writer changes the Vault secret
  while the new one is being issued, so the check-and-set write fails. Where the previous secret
  still works, as above; in place, where it is dead, the sinks written before are not put back
  to it (nothing is rolled back over a dead secret): their consumers keep the live one.

Issue 25's sinks, which keep no earlier version and never give a value back (a GitHub Actions
secret, a TFE variable, in the sandbox), get a column per fault that matters, each on one
platform that keeps its previous secret (Pulumi) and, for a write after issuing, one that
replaces it in place (PactFlow), since the two must end differently:

- "github check" (the token is refused: 401 on the public key) and "tfe check" (the workspace
  is not found) fail before issuing, as the other sink faults;
- "github lost answer" and "tfe lost answer": every write of the secret or the variable acts,
  then its answer is lost: the sink reads the secret's ``updated_at`` or the variable's
  ``version-id`` again and finds its write (delivered after all). A sink that took the new
  secret must never be left holding a secret that was then revoked (nor, in place, be the only
  one to hold the live secret while the others were put back to the dead one).

After the failing run of these columns, every consumer (the file and the CI sink) holds a secret
the platform accepts, and the clean runs deliver to both.

The matrix is printed with a verdict in every cell; any failing cell fails the test.
"""
import concurrent.futures
import json
import pathlib
import re
import threading
import time
import traceback

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._generations import generation_of
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_engine import (
    finish_step, issue_step,
)

from tests.sandbox import Sandbox
from tests.sandbox.core import credential_digest, days_ago

# Each fault: how to inject it (sandbox fault keyword arguments) into a matched request.
FAULTS = {
    "500": dict(action="status", status=500, message="injected server error", times=None),
    "429 x3": dict(action="status", status=429, message="rate limited", times=3,
                   headers={"Retry-After": "0"}),
    "timeout": dict(action="delay", delay=1.5, times=None),
    "drop": dict(action="drop", times=None),
    "lost response": dict(action="lost_response", times=None),
    "malformed": dict(action="malformed", times=None),
    "401": dict(action="status", status=401, message="unauthorized", times=None),
    "lost x2": dict(action="lost_response", times=2),
    "lost x3": dict(action="lost_response", times=3),
}
#: the wire faults of hostile servers (issues 22, 23), and the steps each is tried on
WIRE_FAULTS = {
    "500 once": dict(action="status", status=500, message="injected server error", times=1),
    "trickle": dict(action="trickle", where="body", interval=0.5, size=64, times=None),
    "oversize": dict(action="huge_body", where="declared", size=32 << 20, times=None),
    "deep JSON": dict(action="deep_json", times=None),
    "Retry-After 99999": dict(action="status", status=429, message="rate limited", times=1,
                              headers={"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"}),
}
WIRE_STEPS = {"500 once": ("list", "verify", "revoke"),
              "trickle": ("list", "issue", "verify", "revoke"),
              "oversize": ("list", "issue"), "deep JSON": ("list", "issue"),
              "Retry-After 99999": ("list", "issue", "verify", "revoke")}
#: the faults of the first matrix also tried on the listing
LIST_FAULTS = ("500", "drop")
#: faults the failing run itself gets over (on the steps whose requests may be repeated)
HEALED = {"500 once": ("list", "verify", "revoke"),
          "Retry-After 99999": ("list", "issue", "verify", "revoke")}
TRANSIENT = "transient x1"
LAG = "lag 1s"
LAG_SECONDS = 1.0
SINK_FAULT = "sink fails"
VAULT_FAULT = "vault sink check"
STORE_CHECK_FAULTS = ("vault_kv check", "aws check")
STORE_WRITE_FAULT = "aws write denied"
VAULT_CHANGED = "vault_kv changed"
STORE_FAULTS = STORE_CHECK_FAULTS + (STORE_WRITE_FAULT, VAULT_CHANGED)
CI_CHECK_FAULTS = ("github check", "tfe check")
CI_WRITE_FAULTS = ("github lost answer", "tfe lost answer")
CI_FAULTS = CI_CHECK_FAULTS + CI_WRITE_FAULTS
#: the platforms a column runs on (the others: every platform)
ONLY = {VAULT_CHANGED: ("pulumi", "pactflow"), "github check": ("pulumi",),
        "tfe check": ("pulumi",), "github lost answer": ("pulumi", "pactflow"),
        "tfe lost answer": ("pulumi", "pactflow")}
SINK_FAULTS = (SINK_FAULT, VAULT_FAULT) + STORE_CHECK_FAULTS + CI_CHECK_FAULTS
LOST_IN_A_ROW = ("lost x2", "lost x3")
INCONCLUSIVE = ("500", "timeout", "drop", "malformed")
STEPS = ("issue", "verify", "deliver", "revoke", "identity", "lag")
#: the faults of a step of their own (issue 22): they apply to it alone
OWN_FAULTS = {"identity": TRANSIENT, "lag": LAG}
WIRE_MATRIX_STEPS = ("list", "issue", "verify", "revoke")
# A request's deadline covers connecting, the headers and the body: 1 s keeps a loaded
# machine's answers within it; the "timeout" fault answers after 1.5 s.
CONNECTION = {"timeout": 1.0, "max_retry_wait": 2.0, "max_verify_wait": 2}
#: a cell runs a few short rotations; one that takes longer waited beyond what CONNECTION allows
#: (a server's Retry-After a day away once held every later request of the run for a minute)
CELL_SECONDS = 60
#: what the CI sinks take of it (they verify nothing)
SINK_CONNECTION = {"timeout": CONNECTION["timeout"], "max_retry_wait": CONNECTION["max_retry_wait"]}
#: cells run at once: a cell mostly waits (timeouts, Retry-After, propagation lag), and each has
#: its own sandbox, state directory and store paths
CELL_THREADS = 8


class Target:
    """One platform's token under test: how to seed it, find it and hit each step."""

    def __init__(self, platform, seed, identity, requests, caller_params=None):
        self.platform = platform
        self.seed = seed              # seed(sandbox) -> role item without deliver
        self.identity = identity      # identity(sandbox) -> [(token id, secret)] of the token
        self.requests = requests      # step -> (method, path regex) or None (not a request)
        #: item options under which the rotation looks up who api_token is ("identity" row)
        self.caller_params = caller_params or {}


def pulumi_seed(sandbox):
    pulumi = sandbox["pulumi"]
    pulumi.add_personal_token("matrix", created=days_ago(120))
    return {"provider": "pulumi", "id": "pulumi",
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": "matrix", **CONNECTION}, "max_age": "90d"}


def pulumi_identity(sandbox):
    pulumi = sandbox["pulumi"]
    return [(t["id"], pulumi.secret_of(t["id"])) for t in pulumi.tokens("personal")
            if t["description"] == "matrix"]


def pactflow_seed(sandbox):
    pactflow = sandbox["pactflow"]
    return {"provider": "pactflow", "id": "pactflow",
            "params": {"api_url": pactflow.url, "api_token": pactflow.admin_token,
                       "type": "read-only", **CONNECTION}, "max_age": "30d"}


def pactflow_identity(sandbox):
    token = sandbox["pactflow"].token_by_type("read-only")
    return [(token["uuid"], token["value"])]


def cloudtruth_seed(sandbox):
    cloudtruth = sandbox["cloudtruth"]
    cloudtruth.add_service_account("matrix", key_created=days_ago(120))
    return {"provider": "cloudtruth", "id": "cloudtruth",
            "params": {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token,
                       "name": "matrix", **CONNECTION}, "max_age": "90d"}


def cloudtruth_identity(sandbox):
    cloudtruth = sandbox["cloudtruth"]
    found = []
    for account in cloudtruth.accounts():
        if account.user is not None and account.user.name == "matrix":
            usable = account.usable_keys(cloudtruth.now())
            newest = max(usable, key=lambda key: key.created) if usable else None
            found.append((account.id, newest.value if newest else None))
    return found


def tfe_seed(sandbox):
    tfe = sandbox["tfe"]
    team_id = tfe.add_team("matrix")
    tfe.add_token(team_id, description="matrix", created_at=days_ago(120))
    return {"provider": "tfe", "id": "tfe",
            "params": {"api_url": tfe.url, "api_token": tfe.admin_token,
                       "organization": tfe.organization, "team": "matrix",
                       "description": "matrix", **CONNECTION}, "max_age": "90d"}


def tfe_identity(sandbox):
    tfe = sandbox["tfe"]
    team_id = tfe.team_by_name("matrix")
    # every generation of the description (matrix, matrix--2, ...) is this identity
    return [(t["id"], tfe.secret_of(t["id"])) for t in tfe.tokens(team_id)
            if generation_of(t["attributes"].get("description"), "matrix") is not None]


def cloudflare_seed(sandbox):
    cloudflare = sandbox["cloudflare"]
    cloudflare.add_token("matrix", issued_on=days_ago(120))
    return {"provider": "cloudflare", "id": "cloudflare",
            "params": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                       "name": "matrix", **CONNECTION}, "max_age": "90d"}


def cloudflare_identity(sandbox):
    return [(t["id"], t["value"]) for t in sandbox["cloudflare"].tokens()
            if t["name"] == "matrix"]


TARGETS = [
    Target("pulumi", pulumi_seed, pulumi_identity, {
        "list": ("GET", r"^/api/user/tokens$"),
        "issue": ("POST", r"^/api/user/tokens$"),
        "verify": ("GET", r"^/api/user$"),
        "revoke": ("DELETE", r"^/api/user/tokens/"),
        # a personal token cannot be told apart from the caller's others: after the rotation
        # the run asks whether the caller's own credential still works
        "identity": ("GET", r"^/api/user$"),
    }),
    Target("pactflow", pactflow_seed, pactflow_identity, {
        "list": ("GET", r"^/settings/tokens$"),
        "issue": ("POST", r"/regenerate$"),
        "verify": ("GET", r"^/settings/tokens$"),
        "revoke": None,          # regenerated in place: nothing is left to revoke
        "identity": None,        # told by the listed values, no lookup of its own
    }),
    Target("tfe", tfe_seed, tfe_identity, {
        "list": ("GET", r"/team-tokens$"),
        "issue": ("POST", r"/authentication-tokens$"),
        "verify": ("GET", r"/account/details$"),
        "revoke": ("DELETE", r"^/api/v2/authentication-tokens/"),    # the previous generation
        "identity": ("GET", r"/account/details$"),     # is it a token of the caller's team?
    }),
    Target("cloudflare", cloudflare_seed, cloudflare_identity, {
        "list": ("GET", r"^/client/v4/user/tokens$"),
        "issue": ("POST", r"^/client/v4/user/tokens$"),     # the role replaces by default
        "verify": ("GET", r"^/client/v4/user/tokens/verify$"),
        "revoke": ("DELETE", r"^/client/v4/user/tokens/[0-9a-f]+$"),
        "identity": ("GET", r"^/client/v4/user/tokens/verify$"),   # 403 code 10000 (switch)
    }),
    Target("cloudtruth", cloudtruth_seed, cloudtruth_identity, {
        "list": ("GET", r"^/api/v1/serviceaccounts/$"),
        "issue": ("POST", r"/rekey/$"),
        "verify": ("GET", r"^/api/v1/users/current/$"),
        "revoke": None,          # rekeyed in place: nothing is left to revoke
        "identity": ("GET", r"^/api/v1/users/current/$"),
    }, caller_params={"keep_previous_for": "0"}),
]


def rotation(tokens, work):
    """One run of the role's steps, without task-file sinks: issue, then finish."""
    state, report = str(work / "state"), str(work / "report")
    issued = issue_step(tokens, state, fail_fast=False)
    return finish_step(tokens, state, report, issued["rows"], issued["outcomes"], [])


def applicable(target, step, fault):
    if target.platform not in ONLY.get(fault, (target.platform,)):
        return False
    if target.requests.get(step, "") is None:
        return False
    if step == "list":
        return fault in LIST_FAULTS or fault in WIRE_FAULTS
    if fault in WIRE_FAULTS:
        return step in WIRE_STEPS[fault]
    if step in OWN_FAULTS or fault in OWN_FAULTS.values():
        return OWN_FAULTS.get(step) == fault and (step == "lag" or target.requests[step])
    if fault in SINK_FAULTS or fault in (STORE_WRITE_FAULT, VAULT_CHANGED) + CI_WRITE_FAULTS:
        return step == "deliver"
    if fault in LOST_IN_A_ROW:
        return step == "issue"
    return step != "deliver" and target.requests[step] is not None


def failing_run_check(target, sandbox, fault, step, sink, previous, failing, item, ci=None):
    """What the failing run must leave (issue 16); None when it did."""
    if step in HEALED.get(fault, ()):
        actions = [(row["action"], row.get("error")) for row in (failing or {}).get("rows", [])]
        if [action for action, error in actions] != ["rotated"]:
            return "a fault the run should get over failed it: %s" % actions
        if not sandbox.secrets.is_live(sink.read_text().strip()):
            return "a fault the run got over left the consumer with a dead secret"
    if fault in CI_WRITE_FAULTS:
        held = {"file": sink.read_text().strip(), fault.split()[0]: ci.held(fault)}
        dead = [where for where, secret in held.items() if not sandbox.secrets.is_live(secret)]
        if dead:
            return "after the failed write, %s hold%s a secret the platform rejects" % (
                " and ".join(dead), "" if len(dead) > 1 else "s")
    if fault in SINK_FAULTS:
        if sandbox.log.writes():
            return "a sink failed its check, yet the failing run sent %s" % [
                (e.method, e.path) for e in sandbox.log.writes()]
        if sink.read_text() != previous or not sandbox.secrets.is_live(previous):
            return "a sink failed its check, yet the consumer's secret changed or died"
    in_place = target.requests["revoke"] is None
    if fault in (STORE_WRITE_FAULT, VAULT_CHANGED) and in_place:
        if not sandbox.secrets.is_live(sink.read_text().strip()):
            return ("in place, the store's write failed and the file written before it was put "
                    "back over the dead previous secret")
    if step in OWN_FAULTS:
        row = failing["rows"][0]
        if row["action"] != "rotated":
            return "the transient answer failed the run: %s" % (row.get("error") or row)
        if any("was the credential in api_token" in note for note in row.get("notes") or []):
            return "a transient refusal was taken for the caller's credential dying"
        if not sandbox.secrets.is_live(sink.read_text().strip()):
            return "the consumer holds a dead secret after the run"
    if step == "identity":
        method, path = target.requests["identity"]
        caller = credential_digest(item["params"]["api_token"])
        answers = [e.status for e in sandbox.log.select(target.platform, method)
                   if re.search(path, e.path) and e.credential_digest == caller]
        if not answers or answers[0] not in (401, 403) or 200 not in answers[1:]:
            return "the transient identity answer was not asked again: %s" % answers
    if fault in (STORE_WRITE_FAULT, VAULT_CHANGED) and not in_place:
        if sink.read_text() != previous or not sandbox.secrets.is_live(previous):
            return "the store's write failed, yet the consumer lost its working secret"
        if len(target.identity(sandbox)) != 1:
            return "the store's write failed, yet the unused new token was kept"
    if step == "verify" and fault in INCONCLUSIVE and in_place:
        if not sandbox.secrets.is_live(sink.read_text().strip()):
            return "an inconclusive check left the consumer with a dead secret"
    return None


class StoreSinks:
    """The store sinks of a cell: a Vault path and an AWS secret holding the consumer's secret,
    working sinks for the clean runs, and the broken one of the cell's fault."""

    def __init__(self, openbao, moto, label, previous):
        from tests.stores import unique  # pylint: disable=import-outside-toplevel
        self.openbao, self.moto = openbao, moto
        self.path, self.name = unique("matrix/%s" % label), unique("matrix-%s" % label)
        openbao.write(self.path, {"token": previous})
        moto.client().create_secret(Name=self.name, SecretString=json.dumps(
            {"token": previous, "other": "kept"}))
        self.token = openbao.token([openbao.writer_policy([self.path])])
        self.reader = moto.user(["secretsmanager:DescribeSecret",
                                 "secretsmanager:GetSecretValue"])

    def working(self):
        return [{"type": "vault_kv", "url": self.openbao.url, "token": self.token,
                 "path": self.path},
                self.moto.sink(self.name, key="token")]

    def broken(self, fault, tmp_path):
        if fault == "vault_kv check":
            from tests.stores import free_port  # pylint: disable=import-outside-toplevel
            return {"type": "vault_kv", "url": "http://127.0.0.1:%d" % free_port(),
                    "token": self.token, "path": self.path}
        if fault == "aws check":
            plain = self.name + "-plain"
            self.moto.client().create_secret(Name=plain, SecretString="not json")
            return self.moto.sink(plain, key="token")
        if fault == VAULT_CHANGED:
            return self.working()[0]
        return self.moto.sink(self.name, key="token", access_key=self.reader[0],
                              secret_key=self.reader[1])

    def change_while_issuing(self, sandbox, target):
        """Another writer changes the Vault secret while the issuing request is answered (after
        the check before issuing read its version, before the sink writes)."""
        method, path = target.requests["issue"]
        sandbox.faults.add("delay", platform=target.platform, method=method, path=path,
                           delay=0.2, times=1)     # below the timeout: answered
        previous = self.openbao.read(self.path)

        def write_when_issuing():
            deadline = time.monotonic() + 30
            while not sandbox.log.select(target.platform, method) and \
                    time.monotonic() < deadline:
                time.sleep(0.02)
            self.openbao.write(self.path, dict(previous, rotated_by="someone else"))

        thread = threading.Thread(target=write_when_issuing, daemon=True)
        thread.start()
        return thread

    def held(self):
        """What the consumers of each store read (None: they disagree)."""
        vault = self.openbao.read(self.path)
        aws = self.moto.current(self.name, "token")
        return vault["token"] if vault and vault["token"] == aws else None

    def versions(self):
        return (self.openbao.metadata(self.path)["current_version"],
                sorted(self.moto.stages(self.name)))


class CiSinks:
    """The CI sinks of a cell: a GitHub repository secret and a TFE workspace variable holding
    the consumer's secret, in the cell's sandbox; working sinks for the clean runs, and the
    broken one (or the faults) of the cell's fault."""

    REPOSITORY, WORKSPACE, KEY = "tokenops/matrix", "matrix", "MATRIX_TOKEN"

    def __init__(self, sandbox, previous):
        self.github, self.tfe = sandbox["github"], sandbox["tfe"]
        self.sandbox = sandbox
        self.github.add_repo(self.REPOSITORY)
        self.github.put_secret(self.KEY, previous, repository=self.REPOSITORY)
        self.tfe.add_workspace(self.WORKSPACE)
        self.tfe.add_variable(self.KEY, previous, workspace=self.WORKSPACE)

    def github_sink(self, **more):
        return dict({"type": "github_secret", "repository": self.REPOSITORY, "key": self.KEY,
                     "api_url": self.github.url, "token": self.github.admin_token,
                     **SINK_CONNECTION}, **more)

    def tfe_sink(self, **more):
        return dict({"type": "tfe_variable", "organization": self.tfe.organization,
                     "workspace": self.WORKSPACE, "key": self.KEY, "api_url": self.tfe.url,
                     "api_token": self.tfe.admin_token, **SINK_CONNECTION}, **more)

    def working(self, fault):
        return [self.github_sink() if fault.startswith("github") else self.tfe_sink()]

    def broken(self, fault):
        faults = self.sandbox.faults
        if fault == "github check":
            return self.github_sink(token="ghp_" + "0" * 36)
        if fault == "tfe check":
            return self.tfe_sink(workspace="nowhere")
        if fault == "github lost answer":
            faults.add("lost_response", platform="github", method="PUT", path="/secrets/",
                       times=None)
            return self.github_sink()
        for method in ("POST", "PATCH"):      # the variable's writes, not the listing
            faults.add("lost_response", platform="tfe", method=method, path="/vars",
                       times=None)
        return self.tfe_sink()

    def held(self, fault):
        """What the consumers of the sink of ``fault`` read."""
        if fault.startswith("github"):
            return self.github.secret_value(self.KEY, repository=self.REPOSITORY)
        return self.tfe.variable(self.KEY, workspace=self.WORKSPACE)["value"]


def cell(target, step, fault, tmp_path, openbao=None, moto=None):
    """Run one cell; return None when it passes, else why not."""
    with Sandbox() as sandbox:
        item = target.seed(sandbox)
        consumers = tmp_path / "consumers"
        consumers.mkdir(parents=True)
        sink = consumers / target.platform
        previous = target.identity(sandbox)[0][1]
        sink.write_text(previous)
        sink.chmod(0o600)
        sandbox.log.clear()
        injected = None
        if fault == SINK_FAULT:
            blocker = tmp_path / "not-a-directory"
            blocker.write_text("a file where the sink's directory should be\n")
            broken = dict(item, deliver=[{"type": "file", "path": str(sink)},
                                         {"type": "file", "path": str(blocker / "sink")}])
            first_tokens = [broken]
        elif step == "lag":
            sandbox[target.platform].propagation_lag = LAG_SECONDS
            first_tokens = [dict(item, deliver=[{"type": "file", "path": str(sink)}])]
        elif step == "identity":
            item = dict(item, params=dict(item["params"], **target.caller_params))
            injected = inject_transient_identity(target, sandbox, item)
            first_tokens = [dict(item, deliver=[{"type": "file", "path": str(sink)}])]
        elif fault == VAULT_FAULT:
            broken = dict(item, deliver=[
                {"type": "file", "path": str(sink)},
                {"type": "vault_file", "path": str(consumers / "vault"),
                 "vault_password_file": str(tmp_path / "missing-password")}])
            first_tokens = [broken]
        elif fault in STORE_FAULTS:
            stores = StoreSinks(openbao, moto, target.platform, previous)
            first_tokens = [dict(item, deliver=[{"type": "file", "path": str(sink)},
                                                stores.broken(fault, tmp_path)])]
        elif fault in CI_FAULTS:
            ci = CiSinks(sandbox, previous)
            sandbox.log.clear()
            first_tokens = [dict(item, deliver=[{"type": "file", "path": str(sink)},
                                                ci.broken(fault)])]
        else:
            method, path = target.requests[step]
            options = dict(FAULTS.get(fault) or WIRE_FAULTS[fault])
            if step == "verify":
                # Only the check of the new secret: the listing uses the admin credential.
                options["unless_credential"] = item["params"]["api_token"]
            injected = sandbox.faults.add(platform=target.platform, method=method, path=path,
                                          **options)
            first_tokens = [dict(item, deliver=[{"type": "file", "path": str(sink)}])]
        tokens = [dict(item, deliver=[{"type": "file", "path": str(sink)}])]
        if fault in STORE_FAULTS:
            tokens = [dict(item, deliver=tokens[0]["deliver"] + stores.working())]
        if fault in CI_FAULTS:
            tokens = [dict(item, deliver=tokens[0]["deliver"] + ci.working(fault))]

        if fault == STORE_WRITE_FAULT:
            moto.enforce_iam(True)
        writer = stores.change_while_issuing(sandbox, target) if fault == VAULT_CHANGED else None
        try:
            failing = rotation(first_tokens, tmp_path)   # the failing run: it may say failed
        finally:
            if fault == STORE_WRITE_FAULT:
                moto.enforce_iam(False)
            if writer is not None:
                writer.join(30)
        if fault in CI_WRITE_FAULTS and not [f for f in sandbox.faults._faults if f.hits]:
            return "the fault never hit a request: the cell proves nothing"
        if step == "lag":
            sandbox[target.platform].propagation_lag = 0
            if not refused_while_propagating(sandbox, target, item):
                return "no new secret was refused while it propagated: the cell proves nothing"
        elif fault not in SINK_FAULTS + STORE_FAULTS + CI_FAULTS and injected.hits == 0:
            return "the fault never hit a request: the cell proves nothing"
        while fault in LOST_IN_A_ROW and 0 < injected.hits < injected.times:
            hits = injected.hits
            rotation(first_tokens, tmp_path)      # the next run loses the next answers
            if injected.hits == hits:
                break       # nothing left to create (PactFlow re-reads a lost secret at once)
        why = failing_run_check(target, sandbox, fault, step, sink, previous, failing, item,
                                ci if fault in CI_FAULTS else None)
        if why is not None:
            return why
        sandbox.faults.clear()
        clean = rotation(tokens, tmp_path)
        # A write the server makes after its client gave up (the "timeout" fault holds it past
        # the client's timeout, then acts) must be counted too: judge once the server is done.
        if not sandbox.wait_idle():
            return "the sandbox is still serving requests after 30 s"
        if not sink.exists():
            return "the consumer has no secret after the clean run"
        held = sink.read_text().strip()
        if not sandbox.secrets.is_live(held):
            return "the consumer holds a secret the platform rejects"
        existing = target.identity(sandbox)
        if len(existing) != 1:
            return "%d tokens of this identity exist: %s" % (len(existing),
                                                             [i for i, s in existing])
        token_id, secret = existing[0]
        if secret != held:
            return "the consumer does not hold the current token's secret"
        named = {row.get("token_id") for row in clean["rows"]}
        if token_id not in named:
            return "the report names %s, the platform holds %s" % (named, token_id)
        if fault in STORE_FAULTS:
            if stores.held() != held:
                return "the stores' consumers do not read the consumer's working secret"
            versions = stores.versions()
        if fault in CI_FAULTS and ci.held(fault) != held:
            return "the CI sinks' consumers do not read the consumer's working secret"
        sandbox.log.clear()
        again = rotation(tokens, tmp_path)
        if {row["action"] for row in again["rows"]} != {"not due"}:
            return "the next run did not converge: %s" % [(r["action"], r.get("error"))
                                                          for r in again["rows"]]
        if sandbox.log.writes():
            return "the converged run wrote: %s" % [(e.method, e.path)
                                                    for e in sandbox.log.writes()]
        if fault in STORE_FAULTS and stores.versions() != versions:
            return "the converged run wrote a new store version"
    return None


class SwitchHits:
    """The hits of a platform switch that counts down (Cloudflare's transient_verify_errors)."""

    def __init__(self, platform, switch, times):
        self.platform, self.switch, self.times = platform, switch, times
        setattr(platform, switch, times)

    @property
    def hits(self):
        return self.times - getattr(self.platform, self.switch)


def inject_transient_identity(target, sandbox, item):
    """One transient refusal of the lookup of who api_token is."""
    if target.platform == "cloudflare":
        return SwitchHits(sandbox["cloudflare"], "transient_verify_errors", 1)
    method, path = target.requests["identity"]
    return sandbox.faults.add(action="status", status=401, message="transient", times=1,
                              platform=target.platform, method=method, path=path,
                              only_credential=item["params"]["api_token"])


def refused_while_propagating(sandbox, target, item):
    """Whether the check of a new secret met the lag (a 401/403 with another credential)."""
    method, path = target.requests["verify"]
    admin = credential_digest(item["params"]["api_token"])
    return any(e.status in (401, 403) and e.credential_digest != admin
               for e in sandbox.log.select(target.platform, method) if re.search(path, e.path))


def test_fault_matrix(tmp_path_factory, capsys, openbao, moto):
    run_matrix(STEPS, list(FAULTS) + [SINK_FAULT, VAULT_FAULT] + list(STORE_FAULTS)
               + list(CI_FAULTS) + list(OWN_FAULTS.values()), tmp_path_factory, capsys, openbao,
               moto)


def test_wire_fault_matrix(tmp_path_factory, capsys):
    """Issues 22 and 23: the listing as a step, and hostile servers' answers."""
    run_matrix(WIRE_MATRIX_STEPS, list(LIST_FAULTS) + list(WIRE_FAULTS), tmp_path_factory,
               capsys)


def run_matrix(steps, columns, tmp_path_factory, capsys, openbao=None, moto=None):
    """Run every applicable cell of ``steps`` x ``columns`` on every target; print the table.

    Cells run in threads, ``CELL_THREADS`` at once, except those that switch on IAM
    enforcement in the shared moto server ("aws write denied"): that switch would deny every
    other cell's AWS writes, so those run one at a time after the others."""
    verdicts, failures = {}, {}
    cells = []
    for target in TARGETS:
        for step in steps:
            for fault in columns:
                if applicable(target, step, fault):
                    cells.append((target, step, fault, pathlib.Path(tmp_path_factory.mktemp(
                        "%s-%s-%s" % (target.platform, step, fault.replace(" ", ""))))))
                else:
                    verdicts[target.platform, step, fault] = "n/a"

    def judge(target, step, fault, work):
        started = time.monotonic()
        try:
            why = cell(target, step, fault, work, openbao, moto)
        except Exception:  # noqa: BLE001 (a crash is a failed cell, reported below)
            why = "crashed: " + traceback.format_exc(limit=3)
        took = time.monotonic() - started
        if why is None and took > CELL_SECONDS:
            why = ("took %.0f s: some wait outlived the connection's max_retry_wait "
                   "(%s s)" % (took, CONNECTION["max_retry_wait"]))
        verdicts[target.platform, step, fault] = "pass" if why is None else "FAIL"
        if why is not None:
            failures[target.platform, step, fault] = why

    alone = [c for c in cells if c[2] == STORE_WRITE_FAULT]
    with concurrent.futures.ThreadPoolExecutor(CELL_THREADS) as pool:
        for done in [pool.submit(judge, *c) for c in cells if c not in alone]:
            done.result()
    for c in alone:
        judge(*c)
    lines = ["| platform | step | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for target in TARGETS:
        for step in steps:
            lines.append("| %s | %s | %s |" % (target.platform, step, " | ".join(
                verdicts[target.platform, step, fault] for fault in columns)))
    with capsys.disabled():
        print("\nfault matrix: %d cells run, %d failed\n%s" % (len(cells), len(failures),
                                                               "\n".join(lines)))
    assert failures == {}, "\n".join("%s/%s/%s: %s" % (key + (why,))
                                     for key, why in sorted(failures.items()))


@pytest.mark.parametrize("fault", ["lost response", "timeout", "500"])
def test_a_create_without_an_answer_is_repeated_only_after_looking(tmp_path, fault):
    """After a create whose answer was lost, the engine lists before it creates again, removes
    what the lost create made, and never leaves two new tokens."""
    with Sandbox() as sandbox:
        item = pulumi_seed(sandbox)
        sink = tmp_path / "sink"
        sandbox.faults.add(platform="pulumi", method="POST", path=r"^/api/user/tokens$",
                           **FAULTS[fault])
        rotation([dict(item, deliver=[{"type": "file", "path": str(sink)}])], tmp_path)
        assert sandbox.wait_idle()
        sent = [(e.method, e.fault) for e in sandbox.log.select("pulumi")]
        posts = [index for index, (method, _fault) in enumerate(sent) if method == "POST"]
        assert posts, sent
        for earlier, later in zip(posts, posts[1:]):
            between = [method for method, _fault in sent[earlier + 1:later]]
            assert "GET" in between, "created again without looking first: %s" % sent
        assert len(pulumi_identity(sandbox)) <= 2, "more than one replacement exists"
