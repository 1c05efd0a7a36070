"""Another local user against a run of root (issue 23, items 1 and 2).

Each case plays the attacker as a second local user (created for the test, steps run through
``setpriv``) in a directory like ``/tmp``, then runs the role as root against the sandbox, which
knows every secret and every request, and checks that nothing was steered.
"""
import json
import os
import stat
import subprocess

from tests.functional.harness import leaked, module_task, run_playbook
from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.functional.test_rotate_role_safety import pulumi_item
from tests.sandbox.core import days_ago

#: the other user's program: once the run's task-file sink starts, replace handoff.json with one
#: that has finish revoke a token of the other user's choice
REPLACE_HANDOFF = """
    import json, os, sys, time
    state, started, replaced, label, victim = sys.argv[1:]
    deadline = time.time() + 60
    while not os.path.exists(started):
        if time.time() > deadline:
            sys.exit("the run never reached its task-file sink")
        time.sleep(0.05)
    row = dict(label=label, provider="pulumi", platform="Pulumi Cloud", token_id="new",
               previous_id=victim, age_days=0, expires_at=None, action="rotated", reason="due",
               overlaps=True, in_place=False, delivered=[], notes=[], error=None)
    outcome = dict(label=label, provider="pulumi", previous={"id": victim}, token={"id": "new"},
                   superseded=[], delivered=[], earlier=None, unverified=None,
                   previous_fate=None)
    planted = os.path.join(state, ".planted")
    with open(planted, "w") as handle:
        json.dump({"rows": [row], "outcomes": [outcome]}, handle)
    os.rename(planted, os.path.join(state, "handoff.json"))
    open(replaced, "w").close()
"""

#: a task-file sink that gives the other user time to act
WAIT_FOR = """\
- name: Deliver, slowly
  ansible.builtin.shell: >-
    touch {started}; for i in $(seq 300); do [ -e {replaced} ] && exit 0; sleep 0.1; done
"""


def test_a_state_directory_of_another_user_is_refused_before_any_request(
        sandbox, tmp_path, other_user, world_dir):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("steered", created=days_ago(120))
    victim_id, victim_secret = pulumi.add_personal_token("victim", created=days_ago(1))
    # The other user makes the state directory first: theirs, sticky, open to all (as /tmp is).
    state = os.path.join(world_dir, "rotate-state")
    other_user.run(["mkdir", "-m", "1777", state])
    started, replaced = (os.path.join(world_dir, name) for name in ("started", "replaced"))
    deliver = tmp_path / "deliver.yml"
    deliver.write_text(WAIT_FOR.format(started=started, replaced=replaced))
    tokens = [pulumi_item(sandbox, "steered", [
        file_sink(tmp_path / "sink"), {"type": "tasks", "file": str(deliver)}])]
    attacker = other_user.python(REPLACE_HANDOFF, state, started, replaced, "steered",
                                 victim_id, popen=True)
    try:
        run = rotate(tmp_path, tokens, extra={"rotate_state_dir": state,
                                              "rotate_report_dir": str(tmp_path / "report")})
    finally:
        attacker.kill()
        attacker.communicate()
    assert run.rc != 0
    assert "rotate_lock_path: %s is owned by %s, mode 1777" % (state, other_user.name) \
        in run.output
    assert sandbox.log.select() == [], "a request was sent: %s" % sandbox.log.methods()
    assert sandbox.secrets.is_live(victim_secret) and pulumi.token_by_id(victim_id)
    assert sandbox.secrets.is_live(old_secret)
    assert os.listdir(state) == []
    assert_no_leak(sandbox, run)

    # The engine's own steps refuse it too, when the lock is elsewhere.
    run = rotate(tmp_path, tokens, extra={"rotate_state_dir": state,
                                          "rotate_lock_path": str(tmp_path / "lock" / "x.lock"),
                                          "rotate_report_dir": str(tmp_path / "report")})
    assert run.rc != 0
    assert "rotate_state_dir: %s is owned by %s, mode 1777" % (state, other_user.name) \
        in run.output
    assert sandbox.log.select() == []


def test_a_journal_of_another_user_is_reported_and_not_acted_on(sandbox, tmp_path, other_user):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("planted", created=days_ago(10))
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    # A journal that says the token's rotation was delivered and only its previous token is left
    # to revoke: acted on, the run revokes the working token and reports "token not found".
    journal = state / "journal.json"
    tokens = [pulumi_item(sandbox, "planted", [file_sink(tmp_path / "sink")])]
    from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
        validate_items,
    )
    from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import utcnow
    key = validate_items(tokens, utcnow())[0].journal_key
    journal.write_text(json.dumps({"version": 1, "rotated": {}, "entries": {key: {
        "label": "planted", "provider": "pulumi", "step": "delivered", "token_id": "gone",
        "previous_id": old_id, "delivered": ["file:/nowhere"]}}}))
    os.chown(journal, other_user.uid, other_user.gid)
    run = rotate(tmp_path, tokens)
    assert run.rc != 0
    assert "%s belongs to %s, not to root" % (journal, other_user.name) in run.output
    assert sandbox.log.select() == []
    assert sandbox.secrets.is_live(old_secret) and pulumi.token_by_id(old_id)
    assert json.loads(journal.read_text())["entries"][key]["previous_id"] == old_id


def test_a_report_directory_link_of_another_user_is_not_followed(
        sandbox, tmp_path, other_user, world_dir):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("reported", created=days_ago(120))
    # Root's own directory, which the other user would like root to write into.
    target = tmp_path / "root-only"
    target.mkdir(mode=0o700)
    (target / "report.md").write_text("root's file\n")
    link = os.path.join(world_dir, "report")
    other_user.run(["ln", "-s", str(target), link])
    tokens = [pulumi_item(sandbox, "reported", [file_sink(tmp_path / "sink")])]
    run = rotate(tmp_path, tokens, extra={"rotate_report_dir": link})
    assert run.rc != 0
    assert "rotate_report_dir: %s is a symbolic link of user %s" % (link, other_user.name) \
        in run.output
    assert sorted(os.listdir(target)) == ["report.md"]
    assert (target / "report.md").read_text() == "root's file\n"
    assert sandbox.log.select() == [] and sandbox.secrets.is_live(old_secret)

    # A link of root's own is followed; the directory it leads to is checked as any other.
    own = tmp_path / "own-link"
    own.symlink_to(target)
    run = rotate(tmp_path, tokens, name="own-link", extra={"rotate_report_dir": str(own)})
    assert run.rc == 0, run.output
    assert json.loads((target / "report.json").read_text())["tokens"][0]["action"] == "rotated"
    assert stat.S_IMODE(os.stat(target / "report.json").st_mode) == 0o600


# -- modules' secret_dest ------------------------------------------------------------------------

def rotate_task(pulumi, dest, **more):
    return module_task("pulumi_token", "rotated", dict({
        "api_url": pulumi.url, "api_token": pulumi.admin_token, "description": "dest",
        "rotate": "always", "secret_dest": str(dest)}, **more), ignore_errors=True)


def test_secret_dest_pre_created_by_another_user_in_a_shared_directory(
        sandbox, tmp_path, other_user, world_dir):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("dest", created=days_ago(120))
    dest = os.path.join(world_dir, "token")
    other_user.run(["sh", "-c", "umask 022; echo placeholder > %s" % dest])
    run = run_playbook(tmp_path / "refused", [rotate_task(pulumi, dest)])
    assert run["rotated"]["failed"]
    assert "%s belongs to %s, in a directory that other users can write" % (
        dest, other_user.name) in run["rotated"]["msg"]
    assert sandbox.log.writes() == [] and sandbox.secrets.is_live(old_secret)
    assert open(dest).read() == "placeholder\n"

    # Named, the file is the named user's, and the other user cannot read it.
    run = run_playbook(tmp_path / "named", [rotate_task(pulumi, dest, secret_owner="root")])
    assert not run["rotated"].get("failed"), run.output
    info = os.stat(dest)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    assert sandbox.secrets.is_live(open(dest).read().strip())
    assert subprocess.run(other_user.command(["cat", dest]), capture_output=True,
                          check=False).returncode != 0
    assert leaked(sandbox, run.output) == []


def test_secret_dest_through_a_directory_swapped_for_another_users_link(
        sandbox, tmp_path, other_user, world_dir):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("dest", created=days_ago(120))
    consumer = os.path.join(world_dir, "consumer")
    other_user.run(["mkdir", "-m", "0755", consumer])
    root_only = tmp_path / "root-only"
    root_only.mkdir(mode=0o700)
    # The consumer swaps its directory for a link to a directory of root's.
    other_user.run(["mv", consumer, consumer + ".old"])
    other_user.run(["ln", "-s", str(root_only), consumer])
    run = run_playbook(tmp_path / "swapped", [rotate_task(pulumi, os.path.join(consumer, "t"))])
    assert run["rotated"]["failed"]
    assert "%s is a symbolic link of user %s" % (consumer, other_user.name) \
        in run["rotated"]["msg"]
    assert os.listdir(root_only) == []
    assert sandbox.log.writes() == [] and sandbox.secrets.is_live(old_secret)


# -- the role's file sinks --------------------------------------------------------------------

def test_a_sink_pre_created_by_another_user_in_a_shared_directory(
        sandbox, tmp_path, other_user, world_dir):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("shared-sink", created=days_ago(120))
    path = os.path.join(world_dir, "consumer.env")
    other_user.run(["sh", "-c", "umask 022; echo placeholder > %s" % path])
    tokens = [pulumi_item(sandbox, "shared-sink", [file_sink(path, format="env")])]
    run = rotate(tmp_path, tokens, name="refused")
    assert run.rc != 0
    error = run.rows()["shared-sink"]["error"]
    assert "%s belongs to %s, in a directory that other users can write" % (
        path, other_user.name) in error
    assert sandbox.log.writes() == [] and sandbox.secrets.is_live(old_secret)
    assert open(path).read() == "placeholder\n"

    # With the owner named, the file is that user's, 0600 unless the sink says otherwise.
    tokens = [pulumi_item(sandbox, "shared-sink", [file_sink(path, format="env",
                                                             owner="root")])]
    run = rotate(tmp_path, tokens, name="named")
    assert run.rc == 0, run.output
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o600)
    assert subprocess.run(other_user.command(["cat", path]), capture_output=True,
                          check=False).returncode != 0
    assert sandbox.secrets.is_live(open(path).read().split("=", 1)[1].strip())
    assert_no_leak(sandbox, run)


def test_a_sink_directory_swapped_for_another_users_link_is_not_followed(
        sandbox, tmp_path, other_user, world_dir):
    pulumi = sandbox["pulumi"]
    old_id, old_secret = pulumi.add_personal_token("swapped", created=days_ago(120))
    consumer = os.path.join(world_dir, "consumer")
    other_user.run(["mkdir", "-m", "0755", consumer])
    root_only = tmp_path / "root-only"
    root_only.mkdir(mode=0o700)
    other_user.run(["mv", consumer, consumer + ".old"])
    other_user.run(["ln", "-s", str(root_only), consumer])
    tokens = [pulumi_item(sandbox, "swapped", [file_sink(os.path.join(consumer, "token"))])]
    run = rotate(tmp_path, tokens)
    assert run.rc != 0
    assert "%s is a symbolic link of user %s" % (consumer, other_user.name) \
        in run.rows()["swapped"]["error"]
    assert os.listdir(root_only) == []
    assert sandbox.log.writes() == [] and sandbox.secrets.is_live(old_secret)
