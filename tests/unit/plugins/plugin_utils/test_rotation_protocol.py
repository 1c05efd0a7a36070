"""The rotation protocol of one token (issue 24), driven against an in-memory platform and
in-memory sinks, with the real journal, planner and recovery: no ansible-playbook, no HTTP.

Each run below is what the role's issue and finish steps do for one connection group: plan
(which reads the journal and recovers from it), then walk each due token through the protocol;
task-file sinks are "run" by the test between the two steps, as the role runs them."""
import datetime
import json
import pathlib
import re
import types

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    RotationPolicy, isoformat,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import TokenAdapter
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import (
    UNUSABLE_HERE as UNUSABLE_HERE_OUTCOME, Verification,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_protocol as protocol
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import Journal
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    Item, _ids_matching, plan_group,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import (
    CHECKED, CHECKING, DELIVERED, DONE, ISSUED, ISSUING, ROLLED_BACK, STEPS, UNDONE,
    UNUSABLE_HERE, UNVERIFIED, VERIFIED, ProtocolError, Rotation,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import (
    TYPES, Sink, SinkError, make_sink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.tasks import CheckTasks

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
LONG_AGO = NOW - datetime.timedelta(days=400)
URL = "https://fake.invalid"
LABEL = "ci"
SUCCESS = [ISSUING, ISSUED, VERIFIED, DELIVERED, CHECKED, DONE]
CHECKED_SUCCESS = [ISSUING, ISSUED, VERIFIED, CHECKING, CHECKED, DONE]


class Crash(BaseException):
    """The run dies here (a SIGKILL): nothing after it runs, no except clause catches it."""


# -- an in-memory platform ------------------------------------------------------------------------

class Platform:
    """Tokens by id, each with a name and one secret; ``live`` holds the secrets that work."""

    def __init__(self):
        self.tokens = {}
        self.live = set()
        self.issued = []            # every secret ever issued: the journal must hold none
        self.writes = 0
        self.serial = 0
        self.verify_answer = "accept"   # accept, refuse, inconclusive
        self.issue_error = None
        self.lose_issue_answer = False
        self.delete_error = None

    def _secret(self):
        self.serial += 1
        secret = "fake-secret-%04d-%s" % (self.serial, "x" * 24)
        self.issued.append(secret)
        self.live.add(secret)
        return secret

    def add(self, name, created):
        secret = self._secret()
        token_id = "tok-%d" % self.serial
        self.tokens[token_id] = dict(id=token_id, name=name, serial=self.serial,
                                     created_at=isoformat(created), secret=secret)
        return token_id, secret

    def live_tokens(self):
        return sorted(t["id"] for t in self.tokens.values() if t["secret"] in self.live)


class FakeAdapter(TokenAdapter):
    """A platform adapter over :class:`Platform` (the class is made per test: ``platform``,
    ``overlaps``)."""

    platform = None
    verify_path = "/verify"

    @staticmethod
    def _meta(raw):
        return dict(id=raw["id"], created_at=raw["created_at"], expires_at=None)

    def scope_key(self):
        return "all"

    def list_scope(self):
        return [dict((k, v) for k, v in t.items() if k != "secret")
                for t in self.platform.tokens.values()]

    def find_in(self, listing):
        found = [raw for raw in listing if raw["name"] == self.params["name"]]
        return self._meta(max(found, key=lambda raw: raw["serial"])) if found else None

    def issue_replacement(self, current):
        platform = self.platform
        platform.writes += 1
        if platform.issue_error is not None:
            raise platform.issue_error
        if self.overlaps:
            token_id, secret = platform.add(self.params["name"], NOW)
        else:
            token = platform.tokens[current["id"]]
            platform.live.discard(token["secret"])
            token["secret"] = secret = platform._secret()
            token["created_at"] = isoformat(NOW)
            token_id = token["id"]
        if platform.lose_issue_answer:
            platform.lose_issue_answer = False
            raise Crash("the answer to the issuing request never came back")
        return self._meta(platform.tokens[token_id]), secret

    def delete(self, current):
        platform = self.platform
        platform.writes += 1
        if platform.delete_error is not None:
            raise platform.delete_error
        token = platform.tokens.pop(current["id"], None)
        if token:
            platform.live.discard(token["secret"])

    def check_secret(self, secret, token=None):
        if self.platform.verify_answer == "unusable here":
            return Verification(UNUSABLE_HERE_OUTCOME, "the token's IP condition excludes here")
        return super().check_secret(secret, token)

    def verify(self, secret):
        answer = self.platform.verify_answer
        if answer == "inconclusive":
            raise TokenOpsError("GET /verify: 503 Service Unavailable")
        return answer == "accept" and secret in self.platform.live

    def follow_credential(self, previous, secret):
        return False


class Provider:
    name = "fakecloud"
    title = "Fake Cloud"
    api = API["pulumi"]         # only for the (unused) HTTP client that planning makes
    token_env = "FAKE_TOKEN"

    def __init__(self, adapter_class):
        self.adapter_class = adapter_class


# -- in-memory sinks ------------------------------------------------------------------------------

class MemorySink(Sink):
    """A versioned store: each write adds a version; a write replayed with the same journal
    record adds none; rollback writes the preflight version back."""

    type = "memory"
    OPTIONS = ("type", "name")
    can_read_back = True
    can_roll_back = True

    def __init__(self, name, label=LABEL, provider="fakecloud"):
        super().__init__(dict(type=self.type, name=name), "rotate_tokens[%s].deliver" % label,
                         label, provider)
        self.versions = [dict(secret=None, request=None)]
        self.fail_write = None
        self.crash_after_write = False
        #: the write happens, then its answer is lost (a store that acted and dropped the reply)
        self.lose_answer = False

    @property
    def target(self):
        return "memory:" + self.options["name"]

    def describe(self):
        return self.target

    @property
    def current(self):
        return self.versions[-1]["secret"]

    def preflight(self):
        return len(self.versions) - 1

    def journal_record(self, token):
        return dict(request="req-%s-%d" % (token.get("id"), len(self.versions)))

    def write(self, secret, token, record):
        if self.fail_write:
            raise SinkError("%s: %s" % (self.describe(), self.fail_write))
        if any(v["request"] == record["request"] for v in self.versions):
            return
        self.versions.append(dict(secret=secret, request=record["request"]))
        if self.crash_after_write:
            raise Crash("killed after writing %s" % self.describe())
        if self.lose_answer:
            self.lose_answer = False
            raise SinkError("%s: no answer" % self.describe(), maybe_written=True)

    def read_back(self):
        return self.current

    def rollback(self, state):
        self.versions.append(dict(self.versions[state], request=None))

    def export_state(self, state):
        return state

    def import_state(self, data):
        return data


class ConfirmedSink(MemorySink):
    """A store that others may write: every run reads it back and checks its secret."""

    confirms_each_run = True


class World:
    """One token (``ci``) on the fake platform with its sinks, a state directory, and runs."""

    def __init__(self, tmp_path, overlaps=True, sinks=None, task_file=False, check=False):
        self.tmp_path = tmp_path
        self.platform = Platform()
        self.adapter_class = type("Adapter", (FakeAdapter,), dict(platform=self.platform,
                                                                  overlaps=overlaps))
        self.previous_id, self.previous_secret = self.platform.add(LABEL, LONG_AGO)
        self.sinks = [MemorySink("a"), MemorySink("b"), MemorySink("c")] if sinks is None \
            else sinks
        for sink in self.sinks:
            if isinstance(sink, MemorySink):
                sink.versions[0]["secret"] = self.previous_secret
        self.task_consumer = None
        if task_file:
            path = tmp_path / "deliver.yml"
            path.write_text("- name: push\n  ansible.builtin.debug: {msg: hidden}\n")
            self.sinks.append(make_sink(dict(type="tasks", file=str(path)),
                                        "rotate_tokens[ci].deliver[%d]" % len(self.sinks),
                                        LABEL, "fakecloud", "FAKE_TOKEN"))
            self.task_consumer = self.previous_secret
        self.state_dir = str(tmp_path / "state")
        self.rotations = []
        self.check_file = None
        if check:
            self.check_file = tmp_path / "check.yml"
            self.check_file.write_text("- name: probe\n  ansible.builtin.debug: {msg: hidden}\n")
        #: what the consumer check was given, run by run
        self.checked = []

    def item(self):
        provider = Provider(self.adapter_class)
        # max_verify_wait 0: a refusal counts at once (asking again: test_verification.py)
        params = dict(api_url=URL, api_token="fake-credential", name=LABEL, max_verify_wait=0)
        check = None if self.check_file is None else CheckTasks.for_item(
            str(self.check_file), "rotate_tokens[ci].check_tasks", LABEL, "fakecloud")
        return Item(0, {}, LABEL, provider, params, RotationPolicy("due", "90d"), self.sinks,
                    ("fakecloud", URL, "fake-credential", True, None, None),
                    self.adapter_class(None, params, NOW), check=check)

    def run(self, crash_at=None, task_failed=False, check_failure=None, one_process=False,
            carry_states=True):
        """One run of the role for the token: the issue step, the task files and the consumer
        check, the finish step. Returns the token's report row."""
        journal = Journal(self.state_dir)
        item = self.item()
        client, plans = plan_group([item], journal, NOW)
        planned = plans[0]
        assert planned.error is None, planned.error
        row = planned.row(NOW)
        if not (planned.due or planned.retire_now_ids or planned.finish_entry):
            return row
        rotation = crashing(crash_at)(item, client, journal, NOW, row)
        self.rotations.append(rotation)

        def known_ids():
            return [token_id for token_id, raw in _ids_matching(item, client, planned.listing,
                                                                NOW)]

        row = rotation.start(planned, planned.adapter, known_ids)
        if not rotation.awaiting:
            assert check_failure is None, "no consumer check ran"
            return row
        # The role runs the task files, then the consumer check, with the new secret, between
        # the steps.
        failed = None
        if item.task_sinks:
            assert [d["file"] for d in rotation.deliveries] == [self.sinks[-1].file]
            if not task_failed:
                self.task_consumer = rotation.deliveries[0]["secret"]
            failed = [dict(label=LABEL, file=self.sinks[-1].file)] if task_failed else None
        if item.check is not None:
            assert [c["file"] for c in rotation.checks] == [str(self.check_file)]
            self.checked.append(rotation.checks[0]["secret"])
        if one_process:
            return rotation.after_task_files(failed, check_failure)
        # The finish step runs in another process: it gets the outcome, as JSON, and the
        # preflight states the role kept in memory (a no_log result), and nothing else.
        outcome = json.loads(json.dumps(rotation.outcome()))
        states = json.loads(json.dumps(rotation.carried_states())) if carry_states else None
        resumed = crashing(crash_at)(self.item(), client, Journal(self.state_dir), NOW, row)
        resumed.path = rotation.path
        self.rotations.append(resumed)
        return resumed.resume(outcome, states).after_task_files(failed, check_failure)

    # -- what must hold ---------------------------------------------------------------------------
    @property
    def journal(self):
        path = pathlib.Path(self.state_dir) / "journal.json"
        return json.loads(path.read_text()) if path.exists() else {"entries": {}}

    def consumers(self):
        held = {}
        for sink in self.sinks:
            if sink.runs_as_task_file:
                held[sink.describe()] = self.task_consumer
            else:
                held[sink.describe()] = sink.read_back()
        return held

    def assert_no_leak(self):
        path = pathlib.Path(self.state_dir) / "journal.json"
        text = path.read_text() if path.exists() else ""
        for secret in self.platform.issued:
            assert secret not in text, "a secret is in the journal"
        for rotation in self.rotations:
            assert not any(secret in json.dumps(rotation.outcome())
                           for secret in self.platform.issued), "a secret is in the outcome"

    def assert_converged(self):
        """One live token of the identity, every consumer holds its secret, nothing left in the
        journal, and another run changes nothing."""
        live = self.platform.live_tokens()
        assert len(live) == 1 and list(self.platform.tokens) == live, self.platform.tokens
        secret = self.platform.tokens[live[0]]["secret"]
        assert set(self.consumers().values()) == {secret}, self.consumers()
        assert self.journal["entries"] == {}
        writes = self.platform.writes
        row = self.run()
        assert row["action"] == "not due" and self.platform.writes == writes, row
        self.assert_no_leak()


def crashing(crash_at):
    """A :class:`Rotation` that dies right after reaching ``crash_at`` (None: never)."""
    class Crashing(Rotation):
        def _to(self, step, journal=None, **fields):
            super()._to(step, journal, **fields)
            if step == crash_at:
                raise Crash("killed after %s" % step)
    return Crashing


# -- the step table -------------------------------------------------------------------------------

def test_the_step_table_is_closed_and_every_journaled_step_can_be_recovered():
    for step in STEPS.values():
        assert set(step.successors) <= set(STEPS), step.name
        if step.journaled:
            assert step.recovery is not None, step.name
    reachable, todo = set(), [protocol.FIRST]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(STEPS[name].successors)
    assert reachable == set(STEPS), "a step no rotation can reach"
    assert protocol.recovery_of("from-a-newer-version") is None


def test_no_step_name_is_spelled_outside_the_protocol_module():
    plugins = pathlib.Path(protocol.__file__).resolve().parents[1]
    names = "|".join(re.escape(name) for name in STEPS if name not in (DELIVERED, DONE))
    spelled = re.compile(r"""(['"])(%s)\1|step\s*=\s*['"]""" % names)
    found = []
    for path in plugins.rglob("*.py"):
        if path.name == "_rotation_protocol.py":
            continue
        found += ["%s: %s" % (path.name, m.group(0)) for m in spelled.finditer(path.read_text())]
    assert found == []


def test_a_step_out_of_order_is_refused(tmp_path):
    world = World(tmp_path)
    rotation = Rotation(world.item(), None, Journal(world.state_dir), NOW, {})
    with pytest.raises(ProtocolError, match="delivered cannot follow None"):
        rotation._to(DELIVERED)
    rotation._to(ISSUING)
    with pytest.raises(ProtocolError, match="verified cannot follow issuing"):
        rotation._to(VERIFIED)


# -- one run --------------------------------------------------------------------------------------

@pytest.mark.parametrize("overlaps", [True, False], ids=["overlap", "in-place"])
def test_a_due_token_is_issued_verified_delivered_everywhere_and_the_previous_revoked(
        tmp_path, overlaps):
    world = World(tmp_path, overlaps=overlaps)
    row = world.run()
    assert row["action"] == "rotated", row
    assert world.rotations[0].path == SUCCESS
    new = world.platform.tokens[row["token_id"]]["secret"]
    assert set(world.consumers().values()) == {new}
    assert world.previous_secret not in world.platform.live
    assert (world.previous_id in world.platform.tokens) is (not overlaps)
    assert row["delivered"] == ["memory:a", "memory:b", "memory:c"]
    if not overlaps:
        assert protocol.IN_PLACE_NOTE in row["notes"]
    journal = world.journal
    assert journal["entries"] == {}
    assert [r["token_id"] for r in journal["rotated"].values()] == [row["token_id"]]
    world.assert_converged()


def test_a_refused_secret_is_undone_where_the_previous_one_still_works(tmp_path):
    world = World(tmp_path, overlaps=True)
    world.platform.verify_answer = "refuse"
    row = world.run()
    assert row["action"] == "failed" and "did not accept the new secret" in row["error"]
    assert "the unused new token" in row["error"]
    assert world.rotations[0].path == [ISSUING, ISSUED, UNDONE]
    assert world.platform.live_tokens() == [world.previous_id]
    assert set(world.consumers().values()) == {world.previous_secret}
    assert world.journal["entries"] == {}
    assert row["token_id"] == world.previous_id and row["previous_id"] is None
    world.assert_no_leak()


def test_an_inconclusive_check_where_the_previous_one_still_works_is_undone(tmp_path):
    world = World(tmp_path, overlaps=True)
    world.platform.verify_answer = "inconclusive"
    row = world.run()
    assert row["action"] == "failed" and "the check failed: GET /verify: 503" in row["error"]
    assert world.rotations[0].path == [ISSUING, ISSUED, UNDONE]
    assert set(world.consumers().values()) == {world.previous_secret}
    assert world.platform.live_tokens() == [world.previous_id]


def test_a_refused_secret_in_place_is_not_delivered_and_the_next_run_rotates_again(tmp_path):
    world = World(tmp_path, overlaps=False)
    world.platform.verify_answer = "refuse"
    row = world.run()
    assert row["action"] == "failed" and "replaces secrets in place" in row["error"]
    assert world.rotations[0].path == [ISSUING, ISSUED]
    assert set(world.consumers().values()) == {world.previous_secret}, "delivered a refused one"
    assert [e["step"] for e in world.journal["entries"].values()] == [ISSUED]
    world.platform.verify_answer = "accept"
    row = world.run()
    assert row["action"] == "rotated" and "rotating again" in row["reason"], row
    world.assert_converged()


def test_an_inconclusive_check_in_place_delivers_then_the_next_run_checks_again(tmp_path):
    world = World(tmp_path, overlaps=False)
    world.platform.verify_answer = "inconclusive"
    row = world.run()
    assert row["action"] == "rotated"
    assert world.rotations[0].path == [ISSUING, ISSUED, UNVERIFIED, DELIVERED, CHECKED, DONE]
    assert any("delivered, not verified" in note for note in row["notes"])
    new = world.platform.tokens[world.previous_id]["secret"]
    assert set(world.consumers().values()) == {new}
    entries = list(world.journal["entries"].values())
    assert [(e["step"], e["token_id"]) for e in entries] == [(UNVERIFIED, world.previous_id)]
    # Still inconclusive: the record stays.
    row = world.run()
    assert any("still not verified" in note for note in row["notes"])
    assert len(world.journal["entries"]) == 1
    # Now the platform answers: the record is closed, nothing issued.
    world.platform.verify_answer = "accept"
    writes = world.platform.writes
    row = world.run()
    assert any("checked now: it works" in note for note in row["notes"])
    assert world.platform.writes == writes
    world.assert_converged()


@pytest.mark.parametrize("overlaps", [True, False], ids=["overlap", "in-place"])
def test_a_secret_unusable_from_here_by_design_is_delivered_and_not_rotated_again(
        tmp_path, overlaps):
    """Issue 22: neither undone as refused nor checked again in a loop; the previous secret is
    retired as after any delivery."""
    world = World(tmp_path, overlaps=overlaps)
    world.platform.verify_answer = "unusable here"
    row = world.run()
    assert row["action"] == "rotated", row
    assert world.rotations[0].path == [ISSUING, ISSUED, UNUSABLE_HERE, DELIVERED, CHECKED, DONE]
    assert "delivered, not verified: the token's IP condition excludes here" in row["notes"]
    world.assert_converged()


def test_an_unverified_secret_the_platform_then_refuses_is_rotated_again(tmp_path):
    world = World(tmp_path, overlaps=False)
    world.platform.verify_answer = "inconclusive"
    world.run()
    world.platform.live.clear()             # the delivered secret turns out not to work
    world.platform.verify_answer = "accept"
    row = world.run()
    assert row["action"] == "rotated" and "refused by the platform" in row["reason"]
    world.assert_converged()


@pytest.mark.parametrize("overlaps", [True, False], ids=["overlap", "in-place"])
def test_a_failed_issue_keeps_the_previous_secret_or_the_journal_entry(tmp_path, overlaps):
    world = World(tmp_path, overlaps=overlaps)
    world.platform.issue_error = TokenOpsError("POST /tokens: 500")
    row = world.run()
    assert row["action"] == "failed" and "issuing a new secret failed" in row["error"]
    steps = [e["step"] for e in world.journal["entries"].values()]
    if overlaps:
        assert world.rotations[0].path == [ISSUING, UNDONE] and steps == []
    else:
        assert world.rotations[0].path == [ISSUING] and steps == [ISSUING]
    world.platform.issue_error = AmbiguousWriteError("POST /tokens: no answer")
    row = world.run()
    assert "Whether a new secret was issued is unknown" in row["error"]
    assert [e["step"] for e in world.journal["entries"].values()] == [ISSUING]
    world.platform.issue_error = None
    assert world.run()["action"] == "rotated"
    world.assert_converged()


def test_delivery_failing_on_the_second_of_three_sinks_leaves_every_sink_as_it_was(tmp_path):
    consumer = tmp_path / "consumer.env"
    consumer.write_text("FAKE_TOKEN=before\n")
    consumer.chmod(0o640)
    first = make_sink(dict(type="file", path=str(consumer), format="env"),
                      "rotate_tokens[ci].deliver[0]", LABEL, "fakecloud", "FAKE_TOKEN")
    second, third = MemorySink("b"), MemorySink("c")
    world = World(tmp_path, sinks=[first, second, third])
    second.fail_write = "denied"
    row = world.run()
    assert row["action"] == "failed"
    assert row["error"] == (
        "delivery failed: memory:b: denied; put back: file:%s. The previous secret still works "
        "until it is revoked after a new one reached every sink, and every sink holds it; the "
        "unused new token %s was deleted" % (consumer, world.rotations[0].token["id"]))
    assert world.rotations[0].path == [ISSUING, ISSUED, VERIFIED, UNDONE]
    assert consumer.read_text() == "FAKE_TOKEN=before\n", "the first sink was not put back"
    assert oct(consumer.stat().st_mode & 0o777) == oct(0o640)
    assert [v["secret"] for v in third.versions] == [world.previous_secret], "third was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["consumer.env", "state"]
    assert world.platform.live_tokens() == [world.previous_id]
    assert world.journal["entries"] == {}
    second.fail_write = None
    assert world.run()["action"] == "rotated"
    assert first.read_back() == second.current == third.current
    world.assert_no_leak()


class WriteOnceSink(MemorySink):
    """A store that keeps no earlier version (a GitHub secret, a TFE variable)."""

    can_read_back = False
    can_roll_back = False


def test_a_failure_after_a_sink_that_cannot_be_put_back_keeps_the_secret_it_holds(tmp_path):
    held, failing = WriteOnceSink("held"), MemorySink("failing")
    world = World(tmp_path, sinks=[held, failing], overlaps=True)
    failing.fail_write = "denied"
    row = world.run()
    assert row["action"] == "failed"
    new_id = world.rotations[0].token["id"]
    assert row["error"] == (
        "delivery failed: memory:failing: denied; memory:held holds the new secret (not put back: "
        "this store keeps no earlier version). The new token %s is kept for it, and the previous "
        "secret still works for every other sink: the next run rotates again and revokes both "
        "once every sink holds a newer secret" % new_id)
    assert held.current == world.platform.tokens[new_id]["secret"]
    assert sorted(world.platform.live_tokens()) == sorted([world.previous_id, new_id]), \
        "the new token stays alive for the consumers of the sink that holds it"
    entry = list(world.journal["entries"].values())[0]
    assert entry["delivered"] == ["memory:held"]
    failing.fail_write = None
    assert world.run()["action"] == "rotated"
    assert new_id not in world.platform.live_tokens()
    world.assert_converged()


class StageFails(MemorySink):
    """A store whose staging meets a bug (a library's surprise): nothing was written."""

    def stage(self, secret, token, record):
        raise RuntimeError("a surprise quoting %s" % secret)


class RollbackFails(MemorySink):
    """A store whose rollback meets a bug."""

    def rollback(self, state):
        raise KeyError("versions")


#: per failure: the sinks of the token, the failing one last but one or last
DELIVERY_FAILURES = {
    "refused after a rollbackable sink": lambda: [MemorySink("a"), _failing(MemorySink("b"))],
    "refused after a write-once sink": lambda: [WriteOnceSink("once"), _failing(MemorySink("b"))],
    "answer lost": lambda: [MemorySink("a"), _losing(MemorySink("b")), MemorySink("c")],
    "write-once answer lost": lambda: [_losing(WriteOnceSink("once")), MemorySink("b")],
    "stage fails on the second": lambda: [MemorySink("a"), StageFails("b"), MemorySink("c")],
    "rollback fails": lambda: [RollbackFails("a"), _failing(MemorySink("b"))],
    "first of two refused": lambda: [_failing(MemorySink("a")), MemorySink("b")],
}


def _failing(sink):
    sink.fail_write = "denied"
    return sink


def _losing(sink):
    sink.lose_answer = True
    return sink


@pytest.mark.parametrize("overlaps", [True, False], ids=["overlap", "in-place"])
@pytest.mark.parametrize("case", list(DELIVERY_FAILURES))
def test_a_failed_delivery_says_truly_where_the_new_secret_went(tmp_path, case, overlaps):
    """Whatever failed, the message names every sink that holds (or may hold) the new secret,
    never says every sink holds the previous one while one does not, and the new token lives
    exactly as long as a sink may hold it. In place nothing is put back over the dead previous
    secret, and a failed sink does not keep the others from the new one."""
    sinks = DELIVERY_FAILURES[case]()
    world = World(tmp_path, sinks=sinks, overlaps=overlaps)
    row = world.run()
    error = row["error"]
    assert row["action"] == "failed", row
    new = world.rotations[0].token
    new_secret = [s for s in world.platform.issued if s != world.previous_secret][0]
    held = dict((sink.describe(), sink.current) for sink in sinks)
    with_new = [d for d, secret in held.items() if secret == new_secret]
    for described in with_new:
        assert ("%s holds the new secret" % described in error
                or "%s may hold it" % described in error
                or re.search(r"%s( and [^;]+)? hold the new secret" % re.escape(described),
                             error)), (described, error)
    if with_new:
        assert "every sink holds it" not in error and "no sink" not in error, error
    assert new_secret not in error, "the secret is in the message"
    if overlaps:
        assert world.platform.tokens.get(new["id"]) is not None or not with_new, \
            "the new token was deleted although a sink holds it"
        assert world.previous_secret in world.platform.live
        if not with_new:
            assert "unused new token %s was deleted" % new["id"] in error, error
            assert set(held.values()) == {world.previous_secret}
    else:
        written = [s.describe() for s in sinks
                   if not (s.fail_write or isinstance(s, StageFails))]
        assert set(written) <= set(with_new), "a written sink was put back over a dead secret"
        assert ("replaces secrets in place: the previous secret stopped working when the new one "
                "was issued, so the next run rotates again") in error, error
    # The next run converges whatever the failure left.
    for sink in sinks:
        sink.fail_write, sink.lose_answer = None, False
        if isinstance(sink, StageFails):
            sink.stage = types.MethodType(MemorySink.stage, sink)
    assert world.run()["action"] == "rotated"
    world.assert_converged()


def test_a_sink_that_fails_its_preflight_stops_the_token_before_anything_is_issued(tmp_path):
    world = World(tmp_path, sinks=[MemorySink("a"), make_sink(
        dict(type="file", path=str(tmp_path / "missing" / "f")), "rotate_tokens[ci].deliver[1]",
        LABEL, "fakecloud", "FAKE_TOKEN")])
    row = world.run()
    assert row["action"] == "failed" and "none was issued" in row["error"]
    assert "does not exist" in row["error"]
    assert world.platform.writes == 0 and world.rotations[0].path == []


def test_each_sink_s_journal_record_is_kept_before_it_is_written(tmp_path):
    world = World(tmp_path, task_file=True)
    seen = []

    class Watching(MemorySink):
        def write(self, secret, token, record):
            entries = list(world.journal["entries"].values())
            seen.append(entries[0]["sink_records"][self.describe()])
            super().write(secret, token, record)

    world.sinks[1] = Watching("b")
    world.sinks[1].versions[0]["secret"] = world.previous_secret
    world.run()
    assert seen == [dict(request="req-%s-1" % world.rotations[0].token["id"])]
    world.assert_converged()


# -- a run killed after each step, then the next run ---------------------------------------------

@pytest.mark.parametrize("overlaps", [True, False], ids=["overlap", "in-place"])
@pytest.mark.parametrize("step", SUCCESS + ["answer lost", "mid-delivery"] + [
    "checked:" + step for step in (CHECKING, CHECKED, DONE)])
def test_a_run_killed_after_each_step_is_finished_by_the_next(tmp_path, overlaps, step):
    check = step.startswith("checked:")
    step = step.split(":")[-1]
    world = World(tmp_path, overlaps=overlaps, check=check)
    if step == "answer lost":
        world.platform.lose_issue_answer = True
    if step == "mid-delivery":
        world.sinks[0].crash_after_write = True
    with pytest.raises(Crash):
        world.run(crash_at=step)
    world.sinks[0].crash_after_write = False
    world.assert_no_leak()
    if overlaps:
        assert world.previous_secret in world.platform.live or step in (DONE,), \
            "the previous secret was revoked before the run was done"
        if step == CHECKING:
            steps = [e["step"] for e in world.journal["entries"].values()]
            assert steps == [CHECKING], steps
    row = world.run()
    assert row["action"] in ("rotated", "not due"), row
    world.assert_converged()


@pytest.mark.parametrize("step", [ISSUING, ISSUED, DELIVERED])
def test_a_journal_written_by_1_0_0_is_finished(tmp_path, step):
    """Journals of release 1.0.0, as it wrote them (keys, fields and step names), after a run
    killed at each journaled step: the new code finishes them."""
    world = World(tmp_path, overlaps=True)
    key = "fakecloud %s name=%s label=%s" % (URL, LABEL, LABEL)
    new_id = None
    entry = {"delivered": [], "known_ids": [world.previous_id], "label": LABEL,
             "overlaps": True, "previous_id": world.previous_id, "provider": "fakecloud",
             "started_at": "2026-11-29T12:00:00Z", "step": step, "superseded": [],
             "token_id": None}
    if step != ISSUING:
        new_id, secret = world.platform.add(LABEL, NOW - datetime.timedelta(days=1))
        entry["token_id"] = new_id
    if step == DELIVERED:
        entry["delivered"] = ["memory:a", "memory:b", "memory:c"]
        for sink in world.sinks:
            sink.versions.append(dict(secret=secret, request=None))
    state = pathlib.Path(world.state_dir)
    state.mkdir(mode=0o700)
    (state / "journal.json").write_text(json.dumps(
        {"entries": {key: entry}, "rotated": {}, "version": 1}, indent=2, sort_keys=True) + "\n")
    row = world.run()
    if step == DELIVERED:
        assert "revoking it now" in " ".join(row["notes"]) and row["action"] == "not due"
        assert world.platform.live_tokens() == [new_id]
    else:
        assert row["action"] == "rotated", row
        assert new_id is None or new_id not in world.platform.tokens, "the orphan was kept"
    world.assert_converged()


def test_a_journal_entry_under_the_legacy_label_key_is_finished(tmp_path):
    world = World(tmp_path, overlaps=False)
    state = pathlib.Path(world.state_dir)
    state.mkdir(mode=0o700)
    entry = {"delivered": [], "label": LABEL, "previous_id": world.previous_id,
             "provider": "fakecloud", "step": ISSUED, "token_id": world.previous_id}
    (state / "journal.json").write_text(json.dumps(
        {"entries": {"fakecloud/%s" % LABEL: entry}, "version": 1}))
    row = world.run()
    assert row["action"] == "rotated" and "in place (step issued)" in row["reason"]
    world.assert_converged()


# -- task files, and the consumer check with rollback ---------------------------------------------

def test_task_file_sinks_run_between_the_steps_then_the_previous_is_revoked(tmp_path):
    world = World(tmp_path, task_file=True)
    row = world.run()
    assert row["action"] == "rotated" and protocol.AWAITING not in row["notes"]
    assert world.rotations[0].path == SUCCESS
    assert row["delivered"][-1] == "tasks:%s" % (tmp_path / "deliver.yml")
    world.assert_converged()


def test_a_failed_task_file_keeps_the_previous_secret_and_the_new_token_for_the_sinks(tmp_path):
    world = World(tmp_path, task_file=True)
    row = world.run(task_failed=True)
    assert row["action"] == "failed" and "also stays" in row["error"]
    assert world.previous_secret in world.platform.live
    assert len(world.platform.live_tokens()) == 2
    row = world.run()
    assert row["action"] == "rotated"
    assert any("superseded token" in note for note in row["notes"])
    world.assert_converged()


def test_a_passed_consumer_check_runs_between_the_steps_then_the_previous_is_revoked(tmp_path):
    world = World(tmp_path, check=True)
    row = world.run()
    assert row["action"] == "rotated", row
    assert world.rotations[0].path == CHECKED_SUCCESS
    new = world.platform.tokens[row["token_id"]]["secret"]
    assert world.checked == [new], "the check did not get the new secret"
    world.assert_converged()


def test_the_checking_step_is_journaled_before_the_check_runs(tmp_path):
    """The issue step ends at checking: a run killed while the role runs the check leaves an
    entry whose recovery rotates again, never one that revokes the previous secret."""
    world = World(tmp_path, check=True)
    journal = Journal(world.state_dir)
    item = world.item()
    client, plans = plan_group([item], journal, NOW)
    rotation = Rotation(item, client, journal, NOW, plans[0].row(NOW))
    rotation.start(plans[0], plans[0].adapter, list)
    assert rotation.awaiting and rotation.checks
    entries = list(world.journal["entries"].values())
    assert [(e["step"], e["delivered"]) for e in entries] == [
        (CHECKING, ["memory:a", "memory:b", "memory:c"])]
    assert protocol.recovery_of(CHECKING) == protocol.REISSUE
    assert world.previous_secret in world.platform.live
    world.assert_no_leak()


def test_a_failed_consumer_check_rolls_back_what_can_be_and_says_what_cannot(tmp_path):
    consumer = tmp_path / "consumer"
    consumer.write_text("before")
    file_sink = make_sink(dict(type="file", path=str(consumer)), "rotate_tokens[ci].deliver[0]",
                          LABEL, "fakecloud", "FAKE_TOKEN")
    store = MemorySink("b")
    world = World(tmp_path, sinks=[file_sink, store], task_file=True, check=True)
    store.versions[0]["secret"] = world.previous_secret
    row = world.run(check_failure="terraform plan failed")
    assert world.rotations[0].path == [ISSUING, ISSUED, VERIFIED, CHECKING, ROLLED_BACK]
    assert row["action"] == "failed"
    assert row["error"].startswith("rolled back: terraform plan failed. put back: file:%s, "
                                   "memory:b. not rolled back: tasks:" % consumer)
    assert "(a task file cannot be undone)" in row["error"]
    assert consumer.read_text() == "before" and store.current == world.previous_secret
    new_id = world.rotations[0].token["id"]
    assert world.platform.live_tokens() == sorted([world.previous_id, new_id]), \
        "the new token is revoked although the task file's consumer holds it"
    assert [e["step"] for e in world.journal["entries"].values()] == [ROLLED_BACK]
    world.assert_no_leak()
    row = world.run()           # rotates again; then revokes the rolled-back token too
    assert row["action"] == "rotated"
    assert "superseded token %s" % new_id in " ".join(row["notes"])
    world.assert_converged()


def test_a_rollback_says_which_sinks_hold_the_new_secret_and_which_may(tmp_path):
    """After a failed check: a store that keeps no earlier version holds the new secret; one
    whose rollback failed (another writer came, the store broke) may hold it, or another value."""
    once, broken, good = WriteOnceSink("once"), RollbackFails("broken"), MemorySink("good")
    world = World(tmp_path, sinks=[once, broken, good], check=True)
    for sink in (broken, good):
        sink.versions[0]["secret"] = world.previous_secret
    row = world.run(check_failure="terraform plan failed")
    new_id = world.rotations[0].token["id"]
    assert row["error"] == (
        "rolled back: terraform plan failed. put back: memory:good. not rolled back: memory:once "
        "(this store keeps no earlier version); memory:broken (putting it back failed "
        "unexpectedly (KeyError)). the previous token %s still works; the new token %s stays, "
        "since memory:once holds it and memory:broken may hold it: the next run rotates again "
        "and then revokes it" % (world.previous_id, new_id)), row["error"]
    assert sorted(world.platform.live_tokens()) == sorted([world.previous_id, new_id])


def test_a_rollback_where_every_sink_is_put_back_deletes_the_new_token(tmp_path):
    world = World(tmp_path, sinks=[MemorySink("a"), MemorySink("b")], check=True)
    row = world.run(check_failure="health probe failed")
    assert world.rotations[0].path == [ISSUING, ISSUED, VERIFIED, CHECKING, ROLLED_BACK]
    assert row["error"].startswith("rolled back: health probe failed. put back: memory:a, "
                                   "memory:b. the previous token %s still works; the new token "
                                   % world.previous_id)
    assert row["token_id"] == world.previous_id
    assert world.platform.live_tokens() == [world.previous_id]
    assert set(world.consumers().values()) == {world.previous_secret}
    assert world.journal["entries"] == {}
    world.assert_no_leak()


def test_a_file_s_previous_content_is_carried_to_the_finish_step_and_put_back(tmp_path):
    consumer = tmp_path / "consumer"
    consumer.write_text("before")
    consumer.chmod(0o640)
    file_sink = make_sink(dict(type="file", path=str(consumer)), "rotate_tokens[ci].deliver[0]",
                          LABEL, "fakecloud", "FAKE_TOKEN")
    world = World(tmp_path, sinks=[file_sink], check=True)
    row = world.run(check_failure="probe failed")
    assert row["error"].startswith("rolled back: probe failed. put back: file:%s." % consumer)
    assert consumer.read_text() == "before" and oct(consumer.stat().st_mode & 0o777) == "0o640"
    assert world.platform.live_tokens() == [world.previous_id]
    outcome = json.dumps(world.rotations[0].outcome())
    assert "before" not in outcome and "YmVmb3Jl" not in outcome, \
        "the previous content is in the outcome (the hand-off file)"
    assert "before" not in json.dumps(world.journal)


def test_without_the_carried_states_the_report_says_what_was_not_kept(tmp_path):
    consumer = tmp_path / "consumer"
    consumer.write_text("before")
    file_sink = make_sink(dict(type="file", path=str(consumer)), "rotate_tokens[ci].deliver[0]",
                          LABEL, "fakecloud", "FAKE_TOKEN")
    world = World(tmp_path, sinks=[file_sink], check=True)
    row = world.run(check_failure="probe failed", carry_states=False)
    assert "file:%s (what it held before was not kept in this step)" % consumer in row["error"]
    assert len(world.platform.live_tokens()) == 2, "the new token went although a sink holds it"


def test_in_place_a_failed_check_rolls_nothing_back(tmp_path):
    world = World(tmp_path, overlaps=False, check=True)
    row = world.run(check_failure="probe failed")
    assert row["action"] == "failed"
    assert row["error"] == protocol.IN_PLACE_CHECK_FAILED % ("probe failed", "Fake Cloud")
    assert world.rotations[0].path == [ISSUING, ISSUED, VERIFIED, CHECKING, DONE]
    new = world.platform.tokens[world.previous_id]["secret"]
    assert set(world.consumers().values()) == {new}
    # Closed: the next run does not rotate the token again for a consumer it cannot help.
    assert world.journal["entries"] == {}
    world.assert_converged()


def test_a_consumer_check_without_check_tasks_is_a_protocol_error(tmp_path):
    world = World(tmp_path)
    rotation = Rotation(world.item(), None, Journal(world.state_dir), NOW, {})
    rotation.step = VERIFIED
    with pytest.raises(ProtocolError, match="none was asked for"):
        rotation.complete(check_failure="probe failed")


# -- a write whose outcome is unknown; a consumer whose secret no longer works --------------------

def test_a_store_that_acted_and_lost_its_answer_keeps_the_new_token(tmp_path):
    world = World(tmp_path)
    world.sinks[1].lose_answer = True
    row = world.run()
    new_id = world.rotations[0].token["id"]
    assert row["action"] == "failed" and row["error"] == (
        "delivery failed: memory:b: no answer; memory:b may hold it (whether the write happened "
        "is unknown); put back: memory:a. The new token %s is kept for it, and the previous "
        "secret still works for every other sink: the next run rotates again and revokes both "
        "once every sink holds a newer secret" % new_id), row
    assert world.platform.live_tokens() == sorted([world.previous_id, new_id]), \
        "the new token was deleted although memory:b may hold it"
    entry = list(world.journal["entries"].values())[0]
    assert entry["delivered"] == ["memory:b"] and entry["step"] == ISSUED
    assert world.sinks[0].current == world.previous_secret, "memory:a was not put back"
    row = world.run()
    assert row["action"] == "rotated"
    assert "superseded token %s" % new_id in " ".join(row["notes"])
    world.assert_converged()


def test_a_run_killed_after_a_store_s_journal_record_supersedes_rather_than_orphans(tmp_path):
    world = World(tmp_path)
    world.sinks[0].crash_after_write = True
    with pytest.raises(Crash):
        world.run()
    world.sinks[0].crash_after_write = False
    new_id = world.rotations[0].token["id"]
    secret = world.platform.tokens[new_id]["secret"]
    assert world.sinks[0].current == secret
    # The next run plans: the replacement memory:a holds is kept until a new secret reached every
    # sink, so memory:a's consumers never hold a deleted secret.
    deleted = []
    original = FakeAdapter.delete

    def delete(adapter, current):
        deleted.append((current["id"], world.sinks[0].current))
        original(adapter, current)

    world.adapter_class.delete = delete
    row = world.run()
    assert row["action"] == "rotated" and "superseded token %s" % new_id in " ".join(row["notes"])
    assert (new_id, secret) not in deleted, "revoked while a sink still held it"
    world.assert_converged()


@pytest.mark.parametrize("tamper", ["refused", "emptied"])
def test_a_not_due_token_whose_store_holds_a_dead_secret_is_delivered_again(tmp_path, tamper):
    world = World(tmp_path, sinks=[ConfirmedSink("a"), MemorySink("b")])
    assert world.run()["action"] == "rotated"
    writes = world.platform.writes
    assert world.run()["action"] == "not due" and world.platform.writes == writes
    if tamper == "refused":     # someone wrote another (dead) secret into the store
        world.sinks[0].versions.append(dict(secret=world.previous_secret, request=None))
    else:
        world.sinks[0].versions.append(dict(secret=None, request=None))
    row = world.run()
    assert row["action"] == "rotated", row
    assert ("refused by Fake Cloud" if tamper == "refused" else "holds no secret") in \
        row["reason"]
    world.assert_converged()


def test_a_sink_added_to_a_token_that_is_not_due_gets_a_working_secret(tmp_path):
    """A sink added to the item after the token's last rotation (a GitHub secret, a file: most
    cannot be read back) would otherwise wait for the next due rotation, holding nothing: the
    journal remembers where the last rotation delivered, and a sink not among them makes the
    token due. A journal that remembers no sinks (an older one) changes nothing."""
    world = World(tmp_path, sinks=[MemorySink("a")])
    assert world.run()["action"] == "rotated"
    assert world.run()["action"] == "not due"
    added = WriteOnceSink("added")
    world.sinks.append(added)
    row = world.run()
    assert row["action"] == "rotated", row
    assert row["reason"] == ("memory:added was added since the last rotation; rotating to "
                             "deliver a working secret there")
    assert added.current == world.sinks[0].current
    world.assert_converged()
    # An older journal's record, without the sinks: nothing to compare with, nothing done.
    journal = pathlib.Path(world.state_dir) / "journal.json"
    data = json.loads(journal.read_text())
    for record in data["rotated"].values():
        record.pop("sinks")
    journal.write_text(json.dumps(data))
    world.sinks.append(WriteOnceSink("later"))
    assert world.run()["action"] == "not due"


def test_a_store_that_cannot_be_read_back_changes_nothing(tmp_path):
    world = World(tmp_path, sinks=[ConfirmedSink("a")])
    world.run()

    def unreadable():
        raise SinkError("memory:a: unreachable")

    world.sinks[0].read_back = unreadable
    writes = world.platform.writes
    row = world.run()
    assert row["action"] == "not due" and world.platform.writes == writes
    assert "could not read back what memory:a holds" in " ".join(row["notes"])


def test_the_registry_offers_the_types_with_their_capabilities():
    flags = dict((kind, (cls.can_read_back, cls.can_roll_back, cls.runs_as_task_file,
                         cls.confirms_each_run))
                 for kind, cls in TYPES.items())
    assert flags == {"file": (True, True, False, False), "vault_file": (True, True, False, False),
                     "tasks": (False, False, True, False),
                     "vault_kv": (True, True, False, True),
                     "aws_secretsmanager": (True, True, False, True),
                     "github_secret": (False, False, False, False),
                     "tfe_variable": (False, False, False, False)}
    with pytest.raises(SinkError, match=r"rotate_tokens\[x\]\.deliver\[2\]\.type: must be one "
                                        r"of file, vault_file, tasks, vault_kv, aws_secretsmanager, "
                                        r"github_secret, tfe_variable, got 'ftp'"):
        make_sink(dict(type="ftp"), "rotate_tokens[x].deliver[2]", "x", "pulumi", "V")
    with pytest.raises(SinkError, match=r"deliver\[0\]: unsupported option\(s\) path for a "
                                        r"tasks sink; supported: type, file"):
        make_sink(dict(type="tasks", path="/x"), "rotate_tokens[x].deliver[0]", "x", "pulumi",
                  "V")


def test_a_failed_check_s_task_name_that_holds_the_secret_is_left_out_of_the_report():
    from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_engine import (
        check_failure_text, named_check_failures,
    )
    secret = "pul-0123456789abcdef0123456789abcdef"
    checks = [dict(label="ci", file="/c.yml", secret=secret)]
    failures = [dict(label="ci", file="/c.yml", task="probe with %s" % secret),
                dict(label="ci", file="/c.yml", task="probe {{ rotate_secret }}"),
                dict(label="ci", file="/c.yml", task="terraform plan")]
    texts = [check_failure_text(f) for f in named_check_failures(failures, checks)]
    assert texts == ["the check task file /c.yml failed", "the check task file /c.yml failed",
                     'the check task file /c.yml failed at the task "terraform plan"']
