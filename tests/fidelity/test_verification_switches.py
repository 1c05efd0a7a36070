"""The sandbox switches that issue 22 added for verification, each against its source.

- ``propagation_lag`` (every platform): a newly issued secret is refused for a while. Cloudflare:
  "right after create, verify with the new token can answer 401/403 code 10000" (api/cloudflare.md
  §6, observed); coder/coder#8956 (a new API key answering 401 at once); xataio/client-ts#769
  (waits up to 10 s for a new key to be "replicated until can be used"); FusionAuth ("When you
  create a new key, it will take a bit of time for the API key to be usable",
  FusionAuth/fusionauth-site#1602); electric-saw/ccloud-client-go#5 ("we may receive the 401
  unauthorized, because of the time for propagation").
- Cloudflare ``transient_verify_errors``: a working credential answered "Authentication error"
  (403 code 10000) for a moment (mrrfv/cloudflare-gateway-pihole-scripts#43; octodns-cloudflare#108
  retries on CloudflareAuthenticationError for that reason).
- Cloudflare ``verify_location_refusal``: a token whose IP condition excludes the caller answers
  403 code 9109 "Cannot use the access token from location: <ip>" (terraform-provider-cloudflare
  #897); a public report saw ``/user/tokens/verify`` answer 1000 "Invalid API Token" for such a
  token while ``/accounts`` answered 9109.
- The location oracle ``works_from`` and the default-off state of every switch.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from tests.sandbox import Sandbox
from tests.sandbox.cloudflare import USER_SCOPE, policy
from tests.sandbox.core import utcnow

LAG = 0.6


@pytest.fixture(scope="module")
def running_sandbox():
    with Sandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox):
    """One server per module; each test gets fresh Cloudflare switches, no faults, empty log."""
    running_sandbox["cloudflare"].reset()
    running_sandbox.faults.clear()
    running_sandbox.log.clear()
    for platform in running_sandbox.platforms.values():
        platform.propagation_lag = 0
    return running_sandbox


def get(url, scheme, secret):
    return requests.get(url, headers={"Authorization": f"{scheme} {secret}"}, timeout=5)


def seed_and_check(sandbox, name):
    """``(secret, check(secret) -> response)``: a new secret of ``name`` and a read it needs."""
    platform = sandbox[name]
    if name == "cloudflare":
        _id, secret = platform.add_token("fresh")
        return secret, lambda s: get(platform.url + "/user/tokens/verify", "Bearer", s)
    if name == "pulumi":
        _id, secret = platform.add_personal_token("fresh")
        return secret, lambda s: get(platform.url + "/api/user", "token", s)
    if name == "tfe":
        _id, secret = platform.add_token(platform.add_team("fresh-%d" % len(platform.tokens())),
                                         "fresh")
        return secret, lambda s: get(platform.url + "/api/v2/account/details", "Bearer", s)
    if name == "cloudtruth":
        _id, secret = platform.add_service_account("fresh")
        return secret, lambda s: get(platform.url + "/api/v1/users/current/", "Api-Key", s)
    # PactFlow: regenerate the read-only token over HTTP, as a rotation does
    read_only = platform.token_by_type("read-only")
    answer = requests.post(f"{platform.url}/settings/tokens/{read_only['uuid']}/regenerate",
                           headers={"Authorization": f"Bearer {platform.admin_token}"},
                           timeout=5)
    assert answer.status_code < 300, answer.text
    secret = platform.token_by_type("read-only")["value"]
    return secret, lambda s: get(platform.url + "/settings/tokens", "Bearer", s)


PLATFORMS = ("cloudflare", "pulumi", "tfe", "cloudtruth", "pactflow")
REFUSED = {"cloudflare": (403, 10000)}      # elsewhere the platform's own 401


@pytest.mark.parametrize("name", PLATFORMS)
def test_propagation_lag_refuses_a_new_secret_for_a_while(sandbox, name):
    platform = sandbox[name]
    _secret, check = seed_and_check(sandbox, name)
    assert check(_secret).status_code == 200, "off by default"
    platform.propagation_lag = LAG
    secret, check = seed_and_check(sandbox, name)
    refused = check(secret)
    status, code = REFUSED.get(name, (401, None))
    assert refused.status_code == status, refused.text
    if code is not None:
        assert refused.json()["errors"][0] == {"code": code, "message": "Authentication error"}
    assert check(platform.admin_token).status_code == 200, \
        "a secret issued before the switch is unaffected"
    time.sleep(LAG + 0.1)
    assert check(secret).status_code == 200, "known everywhere once the lag is over"


def test_transient_verify_errors_answer_a_working_credential_10000_for_a_moment(sandbox):
    cloudflare = sandbox["cloudflare"]
    verify = cloudflare.url + "/user/tokens/verify"
    assert get(verify, "Bearer", cloudflare.admin_token).status_code == 200, "off by default"
    cloudflare.transient_verify_errors = 2
    for _attempt in range(2):
        answer = get(verify, "Bearer", cloudflare.admin_token)
        assert answer.status_code == 403
        assert answer.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]
    assert get(cloudflare.url + "/user/tokens", "Bearer", cloudflare.admin_token).ok
    assert get(verify, "Bearer", cloudflare.admin_token).json()["result"]["status"] == "active"
    cloudflare.transient_verify_errors = 1
    assert get(verify, "Bearer", "0" * 40).status_code == 401, "a bad token stays bad"


def pinned_reader(cloudflare):
    return cloudflare.add_token("pinned", condition={"request_ip": {"in": ["192.0.2.0/24"]}},
                                policies=[policy("API Tokens Read", resources={
                                    f"{USER_SCOPE}.{cloudflare.user_id}": "*"})])


def test_verify_location_refusal_switch(sandbox):
    cloudflare = sandbox["cloudflare"]
    _id, secret = pinned_reader(cloudflare)
    where = "Cannot use the access token from location: 127.0.0.1"
    answer = get(cloudflare.url + "/user/tokens/verify", "Bearer", secret)
    assert (answer.status_code, answer.json()["errors"]) == (403, [{"code": 9109,
                                                                   "message": where}])
    cloudflare.verify_location_refusal = 1000
    answer = get(cloudflare.url + "/user/tokens/verify", "Bearer", secret)
    assert (answer.status_code, answer.json()["errors"]) == (401, [{
        "code": 1000, "message": "Invalid API Token"}])
    listing = get(cloudflare.url + "/user/tokens", "Bearer", secret)
    assert (listing.status_code, listing.json()["errors"][0]["code"]) == (403, 9109)


def test_works_from_is_the_oracle_for_an_address_the_tests_cannot_call_from(sandbox):
    cloudflare = sandbox["cloudflare"]
    token_id, secret = pinned_reader(cloudflare)
    assert cloudflare.works_from(secret, "192.0.2.10")
    assert not cloudflare.works_from(secret, "127.0.0.1")
    assert not cloudflare.works_from("0" * 40, "192.0.2.10")
    _id, later = cloudflare.add_token("later", not_before=utcnow() + timedelta(hours=1))
    _id, disabled = cloudflare.add_token("off", status="disabled")
    assert not cloudflare.works_from(later, "127.0.0.1")
    assert not cloudflare.works_from(disabled, "127.0.0.1")
    cloudflare.roll(token_id)
    assert not cloudflare.works_from(secret, "192.0.2.10"), "a rolled secret is dead"
