"""Each platform's rate limit, enforced per credential by the sandbox, against 200 rotations by
the role (issue 18). A request-count and 429-count test, not a timing test: the role's default
budget per credential stays below the published limit, so the platform refuses (almost) nothing.

Limits (tests/sandbox/*.py ``published_rate_limit``): TFE 30 requests/s per user, Cloudflare
1,200 per 5 minutes per user (both published); Pulumi and CloudTruth publish no number, so the
sandbox assumes 10 requests/s per credential and the role's default stays below it.
"""
import pytest

from tests.bench.scale import actions, run_role, seed_platform
from tests.sandbox import Sandbox

# Minutes of work on one line is enough: the engine and the budgets do not depend on the
# ansible-core line. They mostly wait for the platforms' pace (marker paced): make test runs them
# beside the other stages, first in the scheduler's priority, so that nothing starves the sandbox
# whose answers they count.
pytestmark = [pytest.mark.wide, pytest.mark.paced]

#: a handful: the role's budget is kept below the limit, so a 429 is a rare race at a window's
#: edge (requests counted when sent, the platform counts them when they arrive)
HANDFUL = 5


def rotate_all(tmp_path, platform, count, limit=None, item_limits=None):
    with Sandbox() as sandbox:
        tokens = seed_platform(sandbox, platform, count, due_share=1.0)
        for item in tokens:
            if item_limits:
                item["limits"] = item_limits
        service = sandbox[platform]
        if limit:
            service.enforce_rate_limit(*limit)
        else:
            service.enforce_published_rate_limit()
        sinks = tmp_path / "sinks"
        sinks.mkdir()
        _seconds, _peak, report = run_role(tmp_path, tokens, sinks)
        entries = sandbox.log.select(platform)
        live = [item["id"] for item in tokens
                if sandbox.secrets.is_live((sinks / item["id"]).read_text())]
        return dict(done=actions(report), refused=sum(1 for e in entries if e.status == 429),
                    live=len(live), admitted=service.rate_limiter.admitted)


@pytest.mark.parametrize("platform", ["tfe", "cloudflare", "pulumi", "cloudtruth"])
def test_200_rotations_stay_within_the_platforms_rate_limit(platform, tmp_path):
    outcome = rotate_all(tmp_path, platform, 200)
    assert outcome["done"] == {"rotated": 200}
    assert outcome["live"] == 200
    assert outcome["refused"] <= HANDFUL


def test_a_limit_the_user_sets_is_kept(tmp_path):
    """A tighter window than the published one (100 requests per 10 s), and the items' own
    ``limits`` below it: the run waits instead of meeting 429s."""
    outcome = rotate_all(tmp_path, "cloudflare", 200, limit=(100, 10.0),
                         item_limits={"requests": 90, "seconds": 10, "concurrency": 2})
    assert outcome["done"] == {"rotated": 200}
    assert outcome["live"] == 200
    assert outcome["refused"] <= HANDFUL


def test_a_tfe_credential_shared_at_5_per_second_meets_a_handful_of_429s(tmp_path, capsys):
    """Issue 22: others spend the credential's budget, so the platform allows this run 5
    requests per second where the role's default budget is 25. Before the budget followed the
    platform, 30 due tokens met 86 answers 429 for 95 successes; the 429's X-RateLimit-Limit
    now replaces the budget, and the first 429 stops every thread of the credential."""
    outcome = rotate_all(tmp_path, "tfe", 30, limit=(5, 1.0))
    with capsys.disabled():
        print("\nrate limit [tfe, 5 per second, shared]: %d answers 429 for %d accepted"
              % (outcome["refused"], sum(outcome["admitted"].values())))
    assert outcome["done"] == {"rotated": 30}
    assert outcome["live"] == 30
    assert outcome["refused"] <= HANDFUL


@pytest.mark.parametrize("style", ["x-ratelimit-seconds", "x-ratelimit-epoch", "ietf-fields",
                                   "ietf-dictionary", "ietf-structured", "retry-after-seconds",
                                   "retry-after-date", "none"])
def test_every_rate_limit_header_style_keeps_the_429s_few(tmp_path, style, monkeypatch, capsys):
    """Pulumi at 3 requests per second (a lower limit than the role's default of 8), its
    answers in each header style the platforms and gateways use: styles that state a limit or a
    remainder pace the run before any 429; the others still stop every thread at the first 429
    and halve the budget."""
    from tests.sandbox import core
    monkeypatch.setattr(core.Platform, "rate_limit_style", style)
    outcome = rotate_all(tmp_path, "pulumi", 20, limit=(3, 1.0))
    with capsys.disabled():
        print("\nrate limit [pulumi, 3 per second, %s]: %d answers 429 for %d accepted"
              % (style, outcome["refused"], sum(outcome["admitted"].values())))
    assert outcome["done"] == {"rotated": 20}
    assert outcome["live"] == 20
    assert outcome["refused"] <= 2 * HANDFUL


def test_the_revocations_after_task_file_sinks_keep_the_items_limits(tmp_path):
    """The finish step revokes what the task-file sinks replaced; it spends the credential's
    budget as the issue step does, so the items' ``limits`` hold there too. Pulumi states no
    limit in its answers (style "none"): only the budget keeps the run below it."""
    from tests.functional.test_rotate_role import rotate
    from tests.functional.test_rotate_role_recovery import DELIVER
    from tests.sandbox import core
    with Sandbox() as sandbox:
        pulumi = sandbox["pulumi"]
        consumers = tmp_path / "consumers"
        consumers.mkdir()
        tasks_file = tmp_path / "deliver.yml"
        tasks_file.write_text(DELIVER.format(directory=consumers))
        items = []
        for index in range(6):
            pulumi.add_personal_token("finish-%d" % index, created=core.days_ago(120))
            items.append({"provider": "pulumi", "id": "finish-%d" % index,
                          "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                                     "description": "finish-%d" % index},
                          "max_age": "90d", "limits": {"requests": 2, "seconds": 1},
                          "deliver": [{"type": "tasks", "file": str(tasks_file)}]})
        pulumi.enforce_rate_limit(2, 1.0)
        pulumi.rate_limit_style = "none"
        run = rotate(tmp_path, items)
        assert run.rc == 0, run.output
        deletes = list(sandbox.log.select("pulumi", "DELETE"))
        assert len([e for e in deletes if e.status == 204]) == 6
        assert [e.status for e in deletes if e.status == 429] == []
