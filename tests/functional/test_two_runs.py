"""Two runs over the same tokens with their own state directories converge (issue 23, item 6).

Two AWX job templates (or a disaster-recovery controller) run the role over the same nine tokens
on five platforms and deliver to the same consumers, each with its own state directory, so
neither sees the other's lock or journal. They run at once, then one after the other. After the
two later runs: one token per identity, and every consumer holds a secret that works; a run
that met the other's work says so in its report.
"""
import json
import shutil
import subprocess

from tests.functional.harness import leaked
from tests.functional.test_rotate_role import BIN, ansible_env, file_sink, role_playbook
from tests.functional.test_rotate_role import collect
from tests.sandbox.core import days_ago
from ansible_collections.tokenops.tokens.plugins.module_utils._generations import generation_of


def nine_tokens(sandbox, sinks):
    """Nine due tokens on five platforms; ``(items, identities)``: ``identities()`` gives, per
    label, the ids of the live tokens of that identity."""
    pulumi, tfe, cloudflare = sandbox["pulumi"], sandbox["tfe"], sandbox["cloudflare"]
    pactflow, cloudtruth = sandbox["pactflow"], sandbox["cloudtruth"]
    pulumi.add_personal_token("two-personal", created=days_ago(120))
    pulumi.add_personal_token("two-personal-b", created=days_ago(120))
    pulumi.add_org_token("two-org", created=days_ago(120))
    team = tfe.add_team("two-team")
    tfe.add_token(team, "two-described", created_at=days_ago(120))
    legacy_team = tfe.add_team("two-legacy")
    tfe.add_token(legacy_team, created_at=days_ago(120))
    cloudflare.add_token("two-replace", issued_on=days_ago(120))
    cloudflare.add_token("two-roll", issued_on=days_ago(120))
    cloudtruth.add_service_account("two-ct", created_at=days_ago(120))
    p = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    t = {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}
    c = {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}

    def item(provider, label, params, max_age="90d"):
        return {"provider": provider, "id": label, "params": params, "max_age": max_age,
                "deliver": [file_sink(sinks / label)]}

    items = [
        item("pulumi", "pulumi-personal", dict(p, description="two-personal")),
        item("pulumi", "pulumi-personal-b", dict(p, description="two-personal-b")),
        item("pulumi", "pulumi-org", dict(p, kind="organization",
                                          organization=pulumi.org_name, name="two-org")),
        item("tfe", "tfe-described", dict(t, team="two-team", description="two-described")),
        item("tfe", "tfe-legacy", dict(t, team="two-legacy")),
        item("cloudflare", "cloudflare-replace", dict(c, name="two-replace")),
        item("cloudflare", "cloudflare-roll", dict(c, name="two-roll", rotation="roll")),
        item("pactflow", "pactflow", {"api_url": pactflow.url,
                                      "api_token": pactflow.admin_token, "type": "read-only"},
             max_age="30d"),
        item("cloudtruth", "cloudtruth", {"api_url": cloudtruth.url,
                                          "api_token": cloudtruth.admin_token, "name": "two-ct"}),
    ]

    def identities():
        found = {
            "pulumi-personal": [x["id"] for x in pulumi.tokens("personal")
                                if x["description"] == "two-personal"],
            "pulumi-personal-b": [x["id"] for x in pulumi.tokens("personal")
                                  if x["description"] == "two-personal-b"],
            "pulumi-org": [x["id"] for x in pulumi.tokens()
                           if generation_of(x.get("name"), "two-org") is not None],
            "tfe-described": [x["id"] for x in tfe.tokens(team)
                              if generation_of(x["attributes"].get("description"),
                                               "two-described") is not None],
            "tfe-legacy": [x["id"] for x in tfe.tokens(legacy_team)],
            "cloudflare-replace": [x["id"] for x in cloudflare.tokens()
                                   if x["name"] == "two-replace"],
            "cloudflare-roll": [x["id"] for x in cloudflare.tokens() if x["name"] == "two-roll"],
            "pactflow": [pactflow.token_by_type("read-only")["uuid"]],
            "cloudtruth": [a.id for a in cloudtruth.accounts()
                           if a.user is not None and a.user.name == "two-ct"],
        }
        return found

    return items, identities


def start(tmp_path, job, tokens):
    """One job: its own state and report directories, the consumers' sinks shared."""
    work = tmp_path / job
    work.mkdir(exist_ok=True)
    playbook = role_playbook(work, tokens, extra={"rotate_fail_fast": False})
    return subprocess.Popen([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ansible_env(work), cwd=work)


def finish(tmp_path, job, proc):
    output = proc.communicate(timeout=300)[0]
    return collect(tmp_path / job, tmp_path / job, proc.returncode, output, "")


def test_two_runs_with_their_own_state_directories_converge(sandbox, tmp_path):
    sinks = tmp_path / "consumers"
    sinks.mkdir()
    tokens, identities = nine_tokens(sandbox, sinks)
    # At once: every request that issues a secret is answered 4 s late, so that both runs have
    # read their listings before either issues anything, as two jobs started together do.
    for platform in ("pulumi", "tfe", "cloudflare", "pactflow", "cloudtruth"):
        for method in ("POST", "PUT"):
            sandbox.faults.add("delay", platform=platform, method=method, delay=4, times=None)
    first = [start(tmp_path, "job-a", tokens), start(tmp_path, "job-b", tokens)]
    runs = [finish(tmp_path, "job-a", first[0]), finish(tmp_path, "job-b", first[1])]
    sandbox.faults.clear()
    both = [row for run in runs for row in run.rows().values() if row["action"] == "rotated"]
    assert len(both) > len(tokens), "the runs did not overlap: the case proves nothing"
    # Then one after the other: within these two runs, everything converges.
    for job in ("job-a", "job-b"):
        runs.append(finish(tmp_path, job, start(tmp_path, job, tokens)))
    later = runs[2:]
    for run in later:
        assert run.rc == 0, run.output
    duplicates = dict((label, ids) for label, ids in identities().items() if len(ids) != 1)
    assert duplicates == {}, "duplicates left: %s" % duplicates
    dead = [item["id"] for item in tokens
            if not sandbox.secrets.is_live((sinks / item["id"]).read_text().strip())]
    assert dead == [], "consumers with a dead secret: %s" % dead
    said = json.dumps([run.report for run in runs])
    assert "another run over this token" in said
    # And a third pair converges: nothing left to do.
    sandbox.log.clear()
    for job in ("job-a", "job-b"):
        run = finish(tmp_path, job, start(tmp_path, job, tokens))
        assert run.rc == 0, run.output
        assert {row["action"] for row in run.rows().values()} == {"not due"}, run.rows()
    assert set(sandbox.log.methods()) == {"GET"}
    assert leaked(sandbox, *[run.output for run in runs]) == []
    shutil.rmtree(sinks)
