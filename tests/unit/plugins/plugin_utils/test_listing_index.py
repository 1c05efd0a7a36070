"""The rotation role looks a token up in its scope's listing through an index (issue 18): the
answer must be the one a search of the whole listing gives, for every platform and every way of
naming a token, including generations (``ci--2``), legacy TFE tokens, duplicates and a name
that only looks like a generation. Two items may not name one token."""
import datetime

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._client import TokenOpsError
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    Listing, ValidationError, validate_item, validate_items,
)

NOW = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)
CONN = {"api_url": "https://api.example.com", "api_token": "t0ken-for-index-tests"}
ORG, TEAM_ID = "acme", "team-ABCDEFGHIJKLMNOP"
OTHER_TEAM = "team-QRSTUVWXYZ012345"


class OfflineClient:
    """Answers nothing: the adapters must look tokens up in the listing alone (a TFE team is
    already resolved, as the plan's first lookup leaves it)."""
    memo = {"tfe_teams": {(ORG, "platform"): (TEAM_ID, "platform")}}


def pulumi_raw(token_id, description=None, name=None, kind="personal"):
    return {"id": token_id, "description": description, "name": name, "type": kind,
            "created": "2026-01-01 00:00:00"}


PULUMI_PERSONAL = [pulumi_raw("p1", "ci"), pulumi_raw("p2", "ci-2"), pulumi_raw("p3", "deploy"),
                   pulumi_raw("p4", "ci", kind="refresh"), pulumi_raw("p5", None),
                   pulumi_raw("p6", "deploy")]
PULUMI_ORG = [pulumi_raw("o1", name="ci"), pulumi_raw("o2", name="ci--2"),
              pulumi_raw("o3", name="ci--x"), pulumi_raw("o4", name="ci-2"),
              pulumi_raw("o5", name="build--3"), pulumi_raw("o6", name=None)]


def tfe_raw(token_id, team, description):
    return {"id": token_id, "type": "authentication-tokens",
            "attributes": {"description": description,
                           "created-at": "2026-01-01T00:00:00.000Z", "expired-at": None},
            "relationships": {"team": {"data": {"id": team, "type": "teams"}}}}


TFE = [tfe_raw("at-1", TEAM_ID, "deploy"), tfe_raw("at-2", TEAM_ID, "deploy--2"),
       tfe_raw("at-3", OTHER_TEAM, "deploy"), tfe_raw("at-4", TEAM_ID, None),
       tfe_raw("at-5", TEAM_ID, "deploy-2"), tfe_raw("at-6", OTHER_TEAM, None),
       tfe_raw("at-7", TEAM_ID, "ci")]
CLOUDFLARE = [{"id": "%032x" % number, "name": name, "status": "active"}
              for number, name in enumerate(["ci", "ci", "deploy", "ci--2"], 1)]
CLOUDTRUTH = [{"id": "s1", "user": {"name": "ci"}}, {"id": "s2", "user": {"name": "deploy"}},
              {"id": "s3", "user": {"name": "deploy"}}, {"id": "s4", "user": None}]

CASES = [
    ("pulumi", {"description": "ci"}, PULUMI_PERSONAL),
    ("pulumi", {"description": "deploy"}, PULUMI_PERSONAL),
    ("pulumi", {"description": "absent"}, PULUMI_PERSONAL),
    ("pulumi", {"token_id": "p3"}, PULUMI_PERSONAL),
    ("pulumi", {"kind": "organization", "organization": ORG, "name": "ci"}, PULUMI_ORG),
    ("pulumi", {"kind": "organization", "organization": ORG, "name": "build"}, PULUMI_ORG),
    ("pulumi", {"kind": "organization", "organization": ORG, "name": "ci-2"}, PULUMI_ORG),
    ("tfe", {"organization": ORG, "team": "platform", "description": "deploy"}, TFE),
    ("tfe", {"organization": ORG, "team": "platform", "description": "ci"}, TFE),
    ("tfe", {"organization": ORG, "team": "platform"}, TFE),
    ("tfe", {"organization": ORG, "token_id": "at-5"}, TFE),
    ("cloudflare", {"name": "deploy"}, CLOUDFLARE),
    ("cloudflare", {"name": "ci"}, CLOUDFLARE),
    ("cloudflare", {"token_id": "%032x" % 4}, CLOUDFLARE),
    ("cloudtruth", {"name": "ci"}, CLOUDTRUTH),
    ("cloudtruth", {"name": "deploy"}, CLOUDTRUTH),
    ("cloudtruth", {"name": "nobody"}, CLOUDTRUTH),
]


def looked_up(adapter, listing):
    """What ``find_in`` answers (or the error it raises), and the ids it saw as this token's."""
    try:
        found = adapter.find_in(listing)
    except (InputError, TokenOpsError) as exc:
        return ("error", str(exc))
    return (found, sorted(getattr(adapter, "matched_ids", ()) or ()),
            list(getattr(adapter, "leftovers", ()) or ()))


@pytest.mark.parametrize("provider, params, raws", CASES,
                         ids=["%s-%s" % (c[0], "-".join(map(str, c[1].values()))) for c in CASES])
def test_an_indexed_lookup_answers_as_a_search_of_the_whole_listing(provider, params, raws):
    item = validate_item(0, {"provider": provider, "id": "x", "max_age": "90d",
                             "params": dict(CONN, **params),
                             "deliver": [{"type": "file", "path": "/tmp/x"}]}, set(), NOW)
    listing = Listing(list(raws))
    indexed, whole = item.new_adapter(OfflineClient(), NOW), item.new_adapter(OfflineClient(), NOW)
    candidates = listing.candidates(indexed)
    assert looked_up(indexed, candidates) == looked_up(whole, list(raws))
    # The index narrows the search: only a token's own identity is looked at.
    assert len(candidates) < len(raws)


def test_an_adapter_without_an_index_gets_the_whole_listing():
    item = validate_item(0, {"provider": "pactflow", "id": "x", "force": True,
                             "params": dict(CONN, type="read-only"),
                             "deliver": [{"type": "file", "path": "/tmp/x"}]}, set(), NOW)
    raws = [{"uuid": "u1", "description": "Read only token", "value": None}]
    assert Listing(raws).candidates(item.new_adapter(OfflineClient(), NOW)) is raws


def test_two_items_that_name_one_token_are_refused_before_any_request():
    items = [{"provider": "pulumi", "id": label, "max_age": "90d",
              "params": dict(CONN, description="web-deploy"),
              "deliver": [{"type": "file", "path": "/tmp/%s" % label}]} for label in ("a", "b")]
    # Other credentials name other tokens (PactFlow's are named by the credential alone).
    pactflow = [{"provider": "pactflow", "id": "pf-%d" % number, "force": True,
                 "params": dict(CONN, api_token="credential-%d" % number, type="read-only"),
                 "deliver": [{"type": "file", "path": "/tmp/pf-%d" % number}]}
                for number in (1, 2)]
    assert len(validate_items(items[:1] + pactflow, NOW)) == 3
    with pytest.raises(ValidationError, match=r"rotate_tokens\[b\]: names the same token as "
                                              r"rotate_tokens\[a\]"):
        validate_items(items + pactflow, NOW)
