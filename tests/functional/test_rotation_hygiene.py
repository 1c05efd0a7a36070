"""The hygiene of the rotation role's report (issue 27): per listed scope, the tokens no item
covers, expired, expiring, never expiring, unused, and earlier generations left, at no extra
request; nothing is deleted."""
import collections
from datetime import timedelta

from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.sandbox.core import utcnow

DAY = timedelta(days=1)
LISTS = ("unmanaged", "expired", "expiring", "never_expires", "unused", "earlier_generations")


def seed(sandbox, sinks):
    """Items on the five platforms and their neighbours; ``(items, ids)``."""
    now = utcnow()
    tfe, cloudflare, pulumi = sandbox["tfe"], sandbox["cloudflare"], sandbox["pulumi"]
    cloudtruth, pactflow = sandbox["cloudtruth"], sandbox["pactflow"]
    ids = {}
    team = tfe.add_team("ci")
    # an item's token, and the generation a killed rotation left before it
    ids["tfe-deploy-1"], _secret = tfe.add_token(team, "deploy", created_at=now - 40 * DAY,
                                                 last_used_at=now - 39 * DAY)
    ids["tfe-deploy-2"], _secret = tfe.add_token(team, "deploy--2", created_at=now - 30 * DAY,
                                                 last_used_at=now - DAY)
    # made by hand, never expires, never used for 200 days
    ids["tfe-hand"], _secret = tfe.add_token(team, "hand-made", created_at=now - 200 * DAY,
                                             expired_at=None)
    # an identity no item covers, with two generations
    ids["tfe-old-3"], _secret = tfe.add_token(team, "old--3", created_at=now - 20 * DAY,
                                              last_used_at=now - 2 * DAY)
    ids["tfe-old-4"], _secret = tfe.add_token(team, "old--4", created_at=now - 10 * DAY,
                                              last_used_at=now - DAY)
    ids["cf-ci"], _secret = cloudflare.add_token("cf-ci", issued_on=now - 10 * DAY,
                                                 expires_on=now + 100 * DAY)
    ids["cf-hand"], _secret = cloudflare.add_token("cf-hand", issued_on=now - 50 * DAY,
                                                   expires_on=now + 5 * DAY)
    ids["cf-expired"], _secret = cloudflare.add_token("cf-expired", issued_on=now - 60 * DAY,
                                                      expires_on=now - 2 * DAY)
    for token_id in (ids["cf-ci"], ids["cf-hand"], ids["cf-expired"]):
        cloudflare._tokens[token_id].last_used_on = (now - DAY).replace(microsecond=0)
    # due: this run rotates it, so it is left out of the hygiene
    ids["pulumi-due"], _secret = pulumi.add_personal_token("laptop", created=now - 120 * DAY,
                                                           expires=now + 10 * DAY,
                                                           last_used=now - 100 * DAY)
    ids["pulumi-forgotten"], _secret = pulumi.add_personal_token("forgotten", created=now - 300 * DAY,
                                                                 expires=now + 300 * DAY,
                                                                 last_used=now - 100 * DAY)
    ids["ct-svc"], _secret = cloudtruth.add_service_account("svc", created_at=now - 10 * DAY,
                                                            key_expires_at=now + 100 * DAY)
    cloudtruth.account(ids["ct-svc"]).last_used_at = now - DAY
    ids["ct-other"], _secret = cloudtruth.add_service_account("other", created_at=now - 10 * DAY,
                                                              key_expires_at=now + 20 * DAY)
    cloudtruth.account(ids["ct-other"]).last_used_at = now - DAY
    ids["pf-ro"] = pactflow.token_by_type("read-only")["uuid"]
    ids["pf-rw"] = pactflow.token_by_type("read-write")["uuid"]
    ids["cf-admin"] = cloudflare.admin_token_id
    ids["pulumi-admin"] = pulumi.admin_token_id

    def conn(platform, **more):
        return dict(api_url=sandbox[platform].url, api_token=sandbox[platform].admin_token,
                    **more)

    items = [
        {"provider": "tfe", "id": "tfe-deploy", "max_age": "90d",
         "params": conn("tfe", organization=tfe.organization, team="ci", description="deploy")},
        {"provider": "cloudflare", "id": "cf-ci", "max_age": "90d",
         "params": conn("cloudflare", name="cf-ci")},
        {"provider": "pulumi", "id": "pulumi-laptop", "max_age": "90d",
         "params": conn("pulumi", description="laptop")},
        {"provider": "cloudtruth", "id": "ct-svc", "max_age": "90d",
         "params": conn("cloudtruth", name="svc")},
        {"provider": "pactflow", "id": "pf-ro", "force": False, "renew_before": "1d",
         "params": conn("pactflow", type="read-only")},
    ]
    for item in items:
        item["deliver"] = [file_sink(sinks / item["id"])]
    return items, ids


def listed(report):
    """``{(platform, scope): {list: set of ids}}`` and ``{(platform, scope): listed}``."""
    found, counts = {}, {}
    for scope in report["hygiene"]["scopes"]:
        key = (scope["platform"], scope["scope"])
        found[key] = {name: {entry["id"] for entry in scope[name]} for name in LISTS}
        counts[key] = scope["listed"]
    return found, counts


def test_the_report_names_what_the_listed_scopes_hold(sandbox, tmp_path):
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items, ids = seed(sandbox, sinks)
    org = sandbox["tfe"].organization
    sandbox.log.clear()
    run = rotate(tmp_path, items)
    assert run.rc == 0, run.output
    rows = run.rows()
    # PactFlow tells no age: a first run rotates its token (the journal knows it from then on)
    assert {label for label, row in rows.items() if row["action"] == "rotated"} == {
        "pulumi-laptop", "pf-ro"}
    assert {label for label, row in rows.items() if row["action"] == "not due"} == {
        "tfe-deploy", "cf-ci", "ct-svc"}
    assert run.report["hygiene"]["expiring_within"] == "30d"
    assert run.report["hygiene"]["unused_for"] == "90d"
    found, counts = listed(run.report)
    empty = {name: set() for name in LISTS}
    assert found == {
        ("tfe", org): dict(empty, unmanaged={ids["tfe-hand"], ids["tfe-old-3"], ids["tfe-old-4"]},
                           never_expires={ids["tfe-hand"]}, unused={ids["tfe-hand"]},
                           earlier_generations={ids["tfe-deploy-1"], ids["tfe-old-3"]}),
        ("cloudflare", "user"): dict(empty, unmanaged={ids["cf-hand"], ids["cf-expired"],
                                                       ids["cf-admin"]},
                                     expired={ids["cf-expired"]}, expiring={ids["cf-hand"]},
                                     never_expires={ids["cf-admin"]}),
        # the rotated token is left out; its neighbour unused for 100 days is not
        ("pulumi", "user"): dict(empty, unmanaged={ids["pulumi-forgotten"], ids["pulumi-admin"]},
                                 never_expires={ids["pulumi-admin"]},
                                 unused={ids["pulumi-forgotten"]}),
        ("cloudtruth", "organization"): dict(empty, unmanaged={ids["ct-other"]},
                                             expiring={ids["ct-other"]}),
        # PactFlow tells no time: only the token no item covers (the rotated one is left out)
        ("pactflow", "user"): dict(empty, unmanaged={ids["pf-rw"]}),
    }
    assert counts == {("tfe", org): 5, ("cloudflare", "user"): 4, ("pulumi", "user"): 3,
                      ("cloudtruth", "organization"): 2, ("pactflow", "user"): 2}
    # an entry says which item a token belongs to, and never holds a secret
    tfe_scope = next(s for s in run.report["hygiene"]["scopes"] if s["platform"] == "tfe")
    leftover = next(e for e in tfe_scope["earlier_generations"] if e["id"] == ids["tfe-deploy-1"])
    assert leftover["label"] == "tfe-deploy" and leftover["name"] == "deploy"
    assert leftover["age_days"] == 40
    # nothing was deleted, nothing but GETs for the listings
    assert sandbox["tfe"].token_by_id(ids["tfe-deploy-1"]) is not None
    assert sandbox["tfe"].token_by_id(ids["tfe-old-3"]) is not None
    assert {e.method for e in sandbox.log.select()
            if e.platform not in ("pulumi", "pactflow")} == {"GET"}

    md = run.report_md
    assert "## Hygiene" in md
    for title, count in (("Not covered by any item", 10), ("Expired", 1),
                         ("Expiring within 30d", 2), ("Never expire", 3),
                         ("Unused for 90d", 2), ("Earlier generations left", 2)):
        assert "### %s" % title in md and (": %d\n" % count) in md.split("### " + title)[1][:80], \
            title
    assert_no_leak(sandbox, run)


def test_hygiene_sends_no_request_and_can_be_left_out(sandbox, tmp_path):
    """Two runs over the same tokens, nothing due: the request log of the run with the hygiene
    equals that of the run without it, request for request."""
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items, _ids = seed(sandbox, sinks)
    # a first run rotates what is due (the Pulumi token, PactFlow's of unknown age)
    assert rotate(tmp_path, items, name="first").rc == 0

    def requests(name, enabled):
        sandbox.log.clear()
        run = rotate(tmp_path, items, name=name, extra={"rotate_hygiene": enabled})
        assert run.rc == 0, run.output
        assert {row["action"] for row in run.rows().values()} == {"not due"}
        return run, collections.Counter((e.platform, e.method, e.path, e.query, e.status)
                                        for e in sandbox.log.select())

    with_it, sent_with = requests("with", True)
    without, sent_without = requests("without", False)
    assert sent_with == sent_without
    assert sum(sent_with.values()) > 0
    assert with_it.report["hygiene"]["scopes"] and "## Hygiene" in with_it.report_md
    assert "hygiene" not in without.report and "## Hygiene" not in without.report_md
    # In check mode, the plan shows the hygiene too.
    check = rotate(tmp_path, items, name="check", check=True)
    assert check.rc == 0, check.output
    assert "Hygiene" in check.output and "Not covered by any item" in check.output


def test_bad_hygiene_durations_fail_before_any_request(sandbox, tmp_path):
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    items, _ids = seed(sandbox, sinks)
    sandbox.log.clear()
    run = rotate(tmp_path, items, extra={"rotate_unused_for": "three months"})
    assert run.rc != 0
    assert "rotate_unused_for: 'three months' is not a duration" in run.output
    assert sandbox.log.select() == []
