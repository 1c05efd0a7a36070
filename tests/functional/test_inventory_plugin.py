"""The inventory plugin ``tokenops.tokens.tokens`` through real ``ansible-inventory`` (issue 27).

The sandbox is seeded with tokens of known age, expiry and last use on all five platforms, some
left by the collection (a ``name--2`` generation) and some not; every expectation below is
written from the seed, not from the plugin's own functions.
"""
import json
import pathlib
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from tests.functional.harness import BIN, ansible_env, leaked
from tests.sandbox.cloudflare import ACCOUNT_SCOPE, policy
from tests.sandbox.core import utcnow

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

DAY = timedelta(days=1)
HALF = timedelta(hours=12)
PLATFORM_GROUPS = ("tokenops_cloudflare", "tokenops_cloudtruth", "tokenops_pactflow",
                   "tokenops_pulumi", "tokenops_tfe")
FLAG_GROUPS = ("tokenops_expired", "tokenops_expiring", "tokenops_never_expires",
               "tokenops_unused", "tokenops_never_used")


class Recent:
    """Equal to a timestamp (ISO 8601 text) of the last ten minutes: the times the sandbox sets
    itself (a credential's own token, created at start-up and used by the listing)."""

    def __eq__(self, other):
        if not isinstance(other, str):
            return False
        moment = datetime.strptime(other, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return timedelta(0) <= utcnow() - moment < timedelta(minutes=10)

    def __repr__(self):
        return "<a time of the last ten minutes>"


RECENT = Recent()


def iso(moment):
    return None if moment is None else moment.astimezone(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def token(platform, api_url, scope, kind, token_id, *, name=None, description=None,
          status="active", owner=None, generation=1, created=None, issued=None, expires=None,
          used=None, age=None, expires_in=None, never_expires="from expires", flags=()):
    """An expected host: its ``tokenops_token`` and the flag groups it is in."""
    issued = created if issued is None else issued
    variable = dict(
        platform=platform, api_url=api_url, scope=scope, kind=kind, id=token_id, name=name,
        description=description, status=status, owner=owner, generation=generation,
        created_at=created if isinstance(created, Recent) else iso(created),
        issued_at=issued if isinstance(issued, Recent) else iso(issued),
        expires_at=iso(expires), last_used_at=used if isinstance(used, Recent) else iso(used),
        age_days=age, expires_in_days=expires_in,
        never_expires=(expires is None) if never_expires == "from expires" else never_expires)
    return dict(variable=variable, flags=set(flags))


@pytest.fixture
def estate(sandbox):
    """Seed the five platforms; return ``(connections, {host: expected})``."""
    now = utcnow()
    tfe, cloudflare, pulumi = sandbox["tfe"], sandbox["cloudflare"], sandbox["pulumi"]
    cloudtruth, pactflow = sandbox["cloudtruth"], sandbox["pactflow"]
    expected = {}

    def add(host, entry):
        assert host not in expected
        expected[host] = entry

    # TFE: a described token and the generation a rotation left, a legacy token that expired.
    org = tfe.organization
    deployers, ops = tfe.add_team("deployers"), tfe.add_team("ops")
    owner = ("users", tfe.admin_user_id)
    deploy, _secret = tfe.add_token(deployers, "deploy", created_at=now - 400 * DAY,
                                    expired_at=now + 10 * DAY + HALF, last_used_at=now - 100 * DAY)
    deploy2, _secret = tfe.add_token(deployers, "deploy--2", created_at=now - 5 * DAY, expired_at=None)
    legacy, _secret = tfe.add_token(ops, None, created_at=now - 50 * DAY, expired_at=now - HALF,
                                    last_used_at=now - 2 * DAY)
    for host, token_id, description, team, times, more in (
            ("tfe_deploy_" + deploy, deploy, "deploy", deployers,
             dict(created=now - 400 * DAY, expires=now + 10 * DAY + HALF,
                  used=now - 100 * DAY, age=400, expires_in=10),
             dict(flags=("expiring", "unused"))),
            ("tfe_deploy--2_" + deploy2, deploy2, "deploy--2", deployers,
             dict(created=now - 5 * DAY, age=5), dict(generation=2,
                                                      flags=("never_expires", "never_used"))),
            ("tfe_legacy_" + legacy, legacy, None, ops,
             dict(created=now - 50 * DAY, expires=now - HALF, used=now - 2 * DAY, age=50,
                  expires_in=-1), dict(status="expired", flags=("expired",)))):
        add(host, token("tfe", tfe.url, "%s/%s" % (org, team), "legacy" if description is None
                        else "described", token_id, name=description, description=description,
                        owner=owner[1], **times, **more))

    # Cloudflare: user tokens (one disabled, never used), an account token rolled 10 days ago.
    ci, _secret = cloudflare.add_token("ci", issued_on=now - 200 * DAY)
    cloudflare._tokens[ci].last_used_on = (now - DAY).replace(microsecond=0)
    old_bot, _secret = cloudflare.add_token("old-bot", issued_on=now - 300 * DAY, status="disabled",
                                            expires_on=now + 20 * DAY + HALF)
    workers, _secret = cloudflare.add_token(
        "workers", account_id=cloudflare.account_id, issued_on=now - 30 * DAY,
        modified_on=now - 10 * DAY, expires_on=now + 5 * DAY + HALF,
        policies=[policy("Workers Scripts Write",
                         resources={"%s.%s" % (ACCOUNT_SCOPE, cloudflare.account_id): "*"})])
    cloudflare._tokens[workers].last_used_on = (now - 3 * DAY).replace(microsecond=0)
    add("cloudflare_ci_" + ci, token("cloudflare", cloudflare.url, "user", "user", ci, name="ci",
                                     created=now - 200 * DAY, used=now - DAY, age=200,
                                     flags=("never_expires",)))
    add("cloudflare_old-bot_" + old_bot, token(
        "cloudflare", cloudflare.url, "user", "user", old_bot, name="old-bot", status="disabled",
        created=now - 300 * DAY, expires=now + 20 * DAY + HALF, age=300, expires_in=20,
        flags=("expiring", "unused", "never_used")))
    add("cloudflare_workers_" + workers, token(
        "cloudflare", cloudflare.url, "account/" + cloudflare.account_id, "account", workers,
        name="workers", created=now - 30 * DAY, issued=now - 10 * DAY,
        expires=now + 5 * DAY + HALF, used=now - 3 * DAY, age=10, expires_in=5,
        flags=("expiring",)))
    add("cloudflare_Sandbox_admin_" + cloudflare.admin_token_id, token(
        "cloudflare", cloudflare.url, "user", "user", cloudflare.admin_token_id,
        name="Sandbox admin", created=RECENT, used=RECENT, age=0, flags=("never_expires",)))

    # Pulumi: personal, organization and team tokens.
    laptop, _secret = pulumi.add_personal_token("laptop", created=now - 120 * DAY,
                                                last_used=now - 100 * DAY)
    ci_org, _secret = pulumi.add_org_token("ci-org", created=now - 20 * DAY,
                                           expires=now + 300 * DAY + HALF, last_used=now - DAY)
    deployer, _secret = pulumi.add_team_token(pulumi.team_name, "platform-deployer",
                                              created=now - 100 * DAY)
    login = pulumi.user_login
    add("pulumi_laptop_" + laptop, token(
        "pulumi", pulumi.url, "user", "personal", laptop, description="laptop", owner=login,
        created=now - 120 * DAY, used=now - 100 * DAY, age=120,
        flags=("never_expires", "unused")))
    add("pulumi_sandbox_admin_" + pulumi.admin_token_id, token(
        "pulumi", pulumi.url, "user", "personal", pulumi.admin_token_id,
        description="sandbox admin", owner=login, created=RECENT, used=RECENT, age=0,
        flags=("never_expires",)))
    add("pulumi_ci-org_" + ci_org, token(
        "pulumi", pulumi.url, pulumi.org_name, "organization", ci_org, name="ci-org",
        description="", owner=login, created=now - 20 * DAY, expires=now + 300 * DAY + HALF,
        used=now - DAY, age=20, expires_in=300))
    add("pulumi_platform-deployer_" + deployer, token(
        "pulumi", pulumi.url, "%s/%s" % (pulumi.org_name, pulumi.team_name), "team", deployer,
        name="platform-deployer", description="", owner=login, created=now - 100 * DAY,
        age=100, flags=("never_expires", "unused", "never_used")))

    # CloudTruth: one account rekeyed 95 days ago and never used, one expiring and in use.
    alice = cloudtruth.add_user("alice", role="ADMIN")
    backup, _secret = cloudtruth.add_service_account("backup", description="Backup job",
                                                     created_at=now - 200 * DAY,
                                                     key_created=now - 95 * DAY, owner=alice)
    release, _secret = cloudtruth.add_service_account("release", created_at=now - 30 * DAY,
                                                      key_expires_at=now + 20 * DAY + HALF)
    cloudtruth.account(release).last_used_at = now - DAY
    add("cloudtruth_backup_" + backup.replace("|", "_"), token(
        "cloudtruth", cloudtruth.url, "organization", "service_account", backup, name="backup",
        description="Backup job", owner=alice, created=now - 200 * DAY, issued=now - 95 * DAY,
        age=95, flags=("never_expires", "unused", "never_used")))
    add("cloudtruth_release_" + release.replace("|", "_"), token(
        "cloudtruth", cloudtruth.url, "organization", "service_account", release,
        name="release", description="", created=now - 30 * DAY,
        expires=now + 20 * DAY + HALF, used=now - DAY, age=30, expires_in=20,
        flags=("expiring",)))

    # PactFlow: the caller's two tokens; it tells no time of them.
    for kind in ("read-only", "read-write"):
        listed = pactflow.token_by_type(kind)
        add("pactflow_%s_%s" % (kind, listed["uuid"]), token(
            "pactflow", pactflow.url, "user", kind, listed["uuid"], name=kind,
            description=listed["description"], never_expires=None))

    def conn(platform, **options):
        return dict(platform=platform, api_url=sandbox[platform].url,
                    api_token=sandbox[platform].admin_token, **options)

    connections = [
        conn("pactflow"), conn("tfe", organization=org), conn("cloudflare"),
        conn("cloudflare", account_id=cloudflare.account_id), conn("pulumi"),
        conn("pulumi", kind="organization", organization=pulumi.org_name),
        conn("pulumi", kind="team", organization=pulumi.org_name, team=pulumi.team_name),
        conn("cloudtruth")]
    return connections, expected


# -- running ansible-inventory --------------------------------------------------------------------
def unwrap(value):
    """ansible-inventory's JSON without its ``__ansible_unsafe`` markers."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def write_config(tmp_path, config, name="estate.tokens.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict({"plugin": "tokenops.tokens.tokens"}, **config),
                                   sort_keys=False))
    path.chmod(0o600)
    return path


def inventory(tmp_path, source, *args, env=None, check=True):
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), *args],
                          capture_output=True, text=True, env=ansible_env(tmp_path, env),
                          cwd=tmp_path, timeout=300, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def listed(proc):
    """``(hostvars, {group: direct hosts})`` of ``ansible-inventory --list``."""
    data = unwrap(json.loads(proc.stdout))
    hostvars = data.pop("_meta")["hostvars"]
    groups = {name: set(body.get("hosts", [])) for name, body in data.items()}
    return hostvars, groups


def graphed(text):
    """``{group: direct hosts}`` of ``ansible-inventory --graph``."""
    groups, stack = {}, []
    for line in text.splitlines():
        if "--" not in line:
            continue
        depth = line.index("|--") // 3 if "|--" in line else 0
        name = line.split("|--", 1)[-1].rstrip(":").strip()
        del stack[depth:]
        if name.startswith("@"):
            groups.setdefault(name[1:], set())
            stack.append(name[1:])
        elif stack:
            groups[stack[-1]].add(name)
    return groups


def expected_groups(expected):
    groups = {name: set() for name in PLATFORM_GROUPS + FLAG_GROUPS}
    for host, entry in expected.items():
        groups["tokenops_" + entry["variable"]["platform"]].add(host)
        for flag in entry["flags"]:
            groups["tokenops_" + flag].add(host)
    return groups


# -- tests ----------------------------------------------------------------------------------------
def test_list_and_graph_show_every_token_with_its_variables_and_groups(sandbox, estate,
                                                                       tmp_path):
    connections, expected = estate
    source = write_config(tmp_path, {"connections": connections})
    sandbox.log.clear()
    proc = inventory(tmp_path, source, "--list")
    hostvars, groups = listed(proc)
    assert set(hostvars) == set(expected)
    for host, entry in expected.items():
        assert hostvars[host] == {"ansible_connection": "local",
                                  "tokenops_token": entry["variable"]}, host
    wanted = expected_groups(expected)
    assert {name: hosts for name, hosts in groups.items() if name.startswith("tokenops_")} \
        == {name: hosts for name, hosts in wanted.items() if hosts}
    # Read only: every request a GET, one connection listing per credential and scope.
    assert {entry.method for entry in sandbox.log.select()} == {"GET"}

    graph = graphed(inventory(tmp_path, source, "--graph").stdout)
    assert {name: hosts for name, hosts in graph.items() if name.startswith("tokenops_")} \
        == {name: hosts for name, hosts in wanted.items() if hosts}
    written = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file()
                        and p != source)
    assert leaked(sandbox, proc.stdout, proc.stderr, written) == []


def test_groups_follow_expiring_within_and_unused_for(sandbox, estate, tmp_path):
    connections, expected = estate
    source = write_config(tmp_path, {"connections": connections, "expiring_within": "7d",
                                     "unused_for": "150d"})
    _hostvars, groups = listed(inventory(tmp_path, source, "--list"))
    expiring = {host for host, entry in expected.items()
                if entry["variable"]["expires_in_days"] is not None
                and 0 <= entry["variable"]["expires_in_days"] < 7}
    assert expiring == {h for h in expected if h.startswith("cloudflare_workers_")}
    assert groups["tokenops_expiring"] == expiring
    # Idle for 150 days: only the disabled Cloudflare token, issued 300 days ago, never used.
    assert groups["tokenops_unused"] == {h for h in expected
                                         if h.startswith("cloudflare_old-bot_")}


def test_keyed_groups_compose_and_groups(sandbox, estate, tmp_path):
    connections, expected = estate
    source = write_config(tmp_path, {
        "connections": connections,
        "keyed_groups": [{"key": "tokenops_token.kind", "prefix": "kind"},
                         {"key": "tokenops_token.owner", "prefix": "owner",
                          "default_value": "nobody"}],
        "groups": {"older_than_a_year": "tokenops_token.age_days is not none and "
                                        "tokenops_token.age_days > 365"},
        "compose": {"token_label": "tokenops_token.platform ~ ':' ~ tokenops_token.id",
                    "days_left": "tokenops_token.expires_in_days"}})
    hostvars, groups = listed(inventory(tmp_path, source, "--list"))
    assert set(hostvars) == set(expected)
    kinds = {}
    for host, entry in expected.items():
        kinds.setdefault("kind_" + entry["variable"]["kind"].replace("-", "_"), set()).add(host)
        assert hostvars[host]["token_label"] == "%s:%s" % (entry["variable"]["platform"],
                                                           entry["variable"]["id"])
        assert hostvars[host]["days_left"] == entry["variable"]["expires_in_days"]
    for name, hosts in kinds.items():
        assert groups[name] == hosts, name
    assert groups["owner_nobody"] == {h for h, e in expected.items()
                                      if e["variable"]["owner"] is None}
    assert groups["owner_alice"] == {h for h, e in expected.items()
                                     if e["variable"]["owner"] == "alice"}
    assert groups["older_than_a_year"] == {h for h in expected if h.startswith("tfe_deploy_")}


def test_second_call_with_the_cache_sends_no_request(sandbox, estate, tmp_path):
    connections, expected = estate
    cache = tmp_path / "cache"
    source = write_config(tmp_path, {
        "connections": connections, "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(cache), "cache_timeout": 600})
    sandbox.log.clear()
    first = inventory(tmp_path, source, "--list")
    assert sandbox.log.select(), "the first call lists the platforms"
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files, "the first call writes the cache"

    sandbox.log.clear()
    second = inventory(tmp_path, source, "--list")
    assert sandbox.log.select() == []
    assert listed(second) == listed(first)
    assert set(listed(second)[0]) == set(expected)

    cached = "\n".join(p.read_text() for p in files)
    credentials = [c["api_token"] for c in connections]
    assert leaked(sandbox, cached, extra=credentials) == []
    assert "value" not in json.dumps(json.loads(files[0].read_text()))

    # --flush-cache reads the platforms again; so does a change of what is listed.
    inventory(tmp_path, source, "--list", "--flush-cache")
    assert sandbox.log.select()
    sandbox.log.clear()
    write_config(tmp_path, {"connections": connections[:2], "cache": True,
                            "cache_plugin": "ansible.builtin.jsonfile",
                            "cache_connection": str(cache), "cache_timeout": 600})
    hostvars, _groups = listed(inventory(tmp_path, source, "--list"))
    assert {e.platform for e in sandbox.log.select()} == {"pactflow", "tfe"}
    assert {h.split("_")[0] for h in hostvars} == {"pactflow", "tfe"}


def test_a_broken_connection_fails_only_its_part(sandbox, estate, tmp_path):
    connections, expected = estate
    _dead_id, dead = sandbox["cloudflare"].add_token("revoked")
    sandbox.secrets.revoke(dead)
    broken = [dict(connections[2], api_token=dead),
              dict(connections[5], api_url="http://127.0.0.1:9", max_retry_wait=0)]
    source = write_config(tmp_path, {"connections": connections[:2] + broken[:1]
                                     + connections[3:5] + broken[1:] + connections[6:]})
    proc = inventory(tmp_path, source, "--list")
    hostvars, _groups = listed(proc)
    lost = {h for h, e in expected.items()
            if (e["variable"]["platform"], e["variable"]["scope"]) in
            (("cloudflare", "user"), ("pulumi", sandbox["pulumi"].org_name))}
    assert lost
    assert set(hostvars) == set(expected) - lost
    assert "connections[2] (cloudflare)" in proc.stderr and "HTTP 401" in proc.stderr
    assert "connections[5] (pulumi)" in proc.stderr
    assert leaked(sandbox, proc.stdout, proc.stderr, extra=[broken[0]["api_token"]]) == []

    # strict: the whole source fails, and says why.
    write_config(tmp_path, {"connections": connections[:2] + broken[:1], "strict": True})
    proc = inventory(tmp_path, source, "--list", env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"},
                     check=False)
    assert proc.returncode != 0
    assert "connections[2] (cloudflare)" in proc.stderr and "strict" in proc.stderr
    assert leaked(sandbox, proc.stdout, proc.stderr, extra=[broken[0]["api_token"]]) == []
    proc = inventory(tmp_path, source, "--list")
    assert listed(proc)[0] == {}


def test_bad_options_fail_before_any_request_naming_the_option(sandbox, tmp_path):
    credential = sandbox["tfe"].admin_token
    source = write_config(tmp_path, {"connections": [
        {"platform": "tfe", "api_url": sandbox["tfe"].url, "api_token": credential},
        {"platform": "pulumi", "kind": "team", "organization": "acme",
         "api_url": sandbox["pulumi"].url, "api_token": credential},
        {"platform": "cloudflare", "account_id": "not-hex", "api_token": credential},
        {"platform": "cloudflare", "api_token": credential, "zone": "x"},
        {"platform": "github", "api_token": credential},
        {"platform": "cloudtruth", "api_url": "ftp://example.com", "api_token": credential},
        {"platform": "pactflow", "api_url": sandbox["pactflow"].url}]})
    sandbox.log.clear()
    proc = inventory(tmp_path, source, "--list", env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"},
                     check=False)
    assert proc.returncode != 0
    for text in ("connections[0] (tfe): missing required arguments: organization",
                 "connections[1] (pulumi).team: required when kind is team",
                 "connections[2] (cloudflare).account_id:",
                 "connections[3] (cloudflare): zone. Supported parameters include",
                 "connections[4].platform: must be one of",
                 "connections[5] (cloudtruth).api_url: must start with https://",
                 "connections[6] (pactflow).api_token: no credential given; set api_token or "
                 "the PACT_BROKER_TOKEN environment variable"):
        assert text in proc.stderr, text
    assert sandbox.log.select() == []
    assert credential not in proc.stdout + proc.stderr


def test_options_from_templates_vault_and_environment(sandbox, tmp_path):
    """api_token from a lookup, from a vaulted extra var, from an inline vault value; api_url and
    api_token from the platform's environment variables (what AWX credentials inject)."""
    pulumi, cloudflare = sandbox["pulumi"], sandbox["cloudflare"]
    tfe, cloudtruth = sandbox["tfe"], sandbox["cloudtruth"]
    password = tmp_path / "vault-password"
    password.write_text("inventory vault password\n")
    env = ansible_env(tmp_path)

    def vault(*args, **kwargs):
        return subprocess.run([str(BIN / "ansible-vault"), args[0], "--vault-password-file",
                               str(password), *args[1:]], capture_output=True, text=True,
                              env=env, check=True, **kwargs).stdout

    inline = vault("encrypt_string", "--stdin-name", "api_token", input=tfe.admin_token)
    vars_file = tmp_path / "vault.yml"
    vars_file.write_text(yaml.safe_dump({"vault_cloudtruth_key": cloudtruth.admin_token}))
    vault("encrypt", str(vars_file))
    source = tmp_path / "vaulted.tokens.yml"
    source.write_text(
        "plugin: tokenops.tokens.tokens\nconnections:\n"
        "  - platform: pulumi\n    api_url: %s\n"
        "    api_token: \"{{ lookup('ansible.builtin.env', 'MY_PULUMI_TOKEN') }}\"\n"
        "  - platform: cloudtruth\n    api_url: %s\n    api_token: \"{{ vault_cloudtruth_key }}\"\n"
        "  - platform: tfe\n    api_url: %s\n    organization: %s\n    %s"
        "  - platform: cloudflare\n"
        % (pulumi.url, cloudtruth.url, tfe.url, tfe.organization,
           inline.replace("\n", "\n    ").rstrip(" ")))
    team = tfe.add_team("vaulted")
    tfe_token, _secret = tfe.add_token(team, "from-vault")
    account, _secret = cloudtruth.add_service_account("from-vault")
    sandbox.log.clear()
    proc = inventory(tmp_path, source, "--list", "-e", "@" + str(vars_file),
                     "--vault-password-file", str(password),
                     env={"MY_PULUMI_TOKEN": pulumi.admin_token,
                          "CLOUDFLARE_API_TOKEN": cloudflare.admin_token,
                          "CLOUDFLARE_BASE_URL": cloudflare.url})
    hostvars, _groups = listed(proc)
    assert "tfe_from-vault_" + tfe_token in hostvars
    assert "cloudtruth_from-vault_" + account.replace("|", "_") in hostvars
    assert "pulumi_sandbox_admin_" + pulumi.admin_token_id in hostvars
    assert "cloudflare_Sandbox_admin_" + cloudflare.admin_token_id in hostvars
    assert {e.status for e in sandbox.log.select()} == {200}
    # ansible-inventory itself shows every extra variable among each host's variables, the
    # vaulted one included (docs/inventory.md says so): nothing else may hold a secret.
    for variables in hostvars.values():
        assert variables.pop("vault_cloudtruth_key") == cloudtruth.admin_token
    assert leaked(sandbox, json.dumps(hostvars), proc.stderr) == []


def test_only_files_named_tokens_yml_are_read(sandbox, tmp_path):
    source = write_config(tmp_path, {"connections": [
        {"platform": "pulumi", "api_url": sandbox["pulumi"].url,
         "api_token": sandbox["pulumi"].admin_token}]}, name="estate.yml")
    sandbox.log.clear()
    proc = inventory(tmp_path, source, "--list")
    assert listed(proc)[0] == {}
    assert sandbox.log.select() == []
    renamed = pathlib.Path(source).rename(tmp_path / "estate.tokens.yaml")
    assert listed(inventory(tmp_path, renamed, "--list"))[0]


def test_inventory_source_and_job_under_ansible_runner(sandbox, estate, tmp_path, monkeypatch):
    """As AWX uses it (docs/awx.md): an inventory source from a project, whose credentials reach
    it as the environment variables AWX credential types inject; ``ansible-inventory --list
    --export`` (the inventory update), then a job on a smart-inventory-like group."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("PATH", ansible_env(tmp_path)["PATH"])   # runner finds ansible-*
    connections, expected = estate
    private = tmp_path / "runner"
    project = private / "project"
    project.mkdir(parents=True)
    # The project's file holds no credential: each platform's comes from its AWX credential.
    by_env = {"pactflow": ("PACT_BROKER_TOKEN", "PACT_BROKER_BASE_URL"),
              "tfe": ("TFE_TOKEN", "TFE_ADDRESS"), "pulumi": ("PULUMI_ACCESS_TOKEN", None),
              "cloudflare": ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_BASE_URL"),
              "cloudtruth": ("CLOUDTRUTH_API_KEY", "CLOUDTRUTH_SERVER_URL")}
    envvars = {k: v for k, v in ansible_env(tmp_path).items() if k.startswith("ANSIBLE_")}
    sources = []
    for connection in connections:
        token_var, url_var = by_env[connection["platform"]]
        envvars[token_var] = connection["api_token"]
        source = {k: v for k, v in connection.items() if k != "api_token"}
        if url_var:
            envvars[url_var] = source.pop("api_url")
        sources.append(source)
    write_config(project, {"connections": sources})

    listing = ansible_runner.get_inventory(
        action="list", inventories=[str(project / "estate.tokens.yml")], response_format="json",
        export=True, envvars=envvars, quiet=True, private_data_dir=str(private))
    out, err = listing
    exported = unwrap(out if isinstance(out, dict) else json.loads(out))
    assert set(exported["_meta"]["hostvars"]) == set(expected)
    assert set(exported["tokenops_expiring"]["hosts"]) == expected_groups(expected)[
        "tokenops_expiring"]

    (project / "expiring.yml").write_text(yaml.safe_dump([{
        "name": "Tokens that expire soon", "hosts": "tokenops_expiring", "gather_facts": False,
        "tasks": [{"name": "Say which", "ansible.builtin.debug": {
            "msg": "{{ tokenops_token.platform }} {{ tokenops_token.name }} expires in "
                   "{{ tokenops_token.expires_in_days }} days"}}]}]))
    result = ansible_runner.run(private_data_dir=str(private), playbook="expiring.yml",
                                inventory=str(project / "estate.tokens.yml"), envvars=envvars,
                                quiet=True)
    assert result.status == "successful", result.stdout.read()
    events_of = [e for e in result.events if e.get("event") == "runner_on_ok"]
    assert {e["event_data"]["host"] for e in events_of} == expected_groups(expected)[
        "tokenops_expiring"]
    produced = [p for p in private.rglob("*") if p.is_file()
                and not {"project", "env"} & set(p.relative_to(private).parts)
                and p.name != "command"]
    artifacts = "\n".join(p.read_text(errors="replace") for p in produced)
    assert leaked(sandbox, json.dumps(list(result.events)), artifacts, json.dumps(exported),
                  err or "") == []
