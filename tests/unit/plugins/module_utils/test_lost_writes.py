"""When a look at what a lost write did can be trusted (``_lost_writes``): after the client's own
errors, as the client raises them."""
import pytest
import requests

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiClient,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._lost_writes import (
    may_still_act, settle,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API

from ansible_collections.tokenops.tokens.tests.unit.utils.conversation import Conversation, Expect

BASE = "https://api.example.test"


def lost_write(**answer):
    """The ``AmbiguousWriteError`` a real client raises for a POST answered with ``answer``."""
    client = ApiClient(BASE, "Bearer x", API["pulumi"].decode_error, timeout=7,
                       session=Conversation(Expect("POST", f"{BASE}/tokens", **answer)),
                       sleep=lambda seconds: None)
    with pytest.raises(AmbiguousWriteError) as failure:
        client.post("/tokens", {"name": "x"})
    return client, failure.value


@pytest.mark.parametrize("answer, still", [
    (dict(raises=requests.exceptions.ReadTimeout("slow")), True),     # the client gave up
    (dict(status=504, body={}), True),                                # a gateway gave up
    (dict(status=524, body={}), True),                                # Cloudflare's proxy did
    (dict(status=500, body={}), False),                               # the server answered
    (dict(status=502, body={}), False),
    (dict(raises=requests.exceptions.ConnectionError("Connection aborted.")), False),
], ids=["read timeout", "504", "524", "500", "502", "dropped"])
def test_the_server_may_still_act_only_when_nobody_waited_for_its_answer(answer, still):
    client, exc = lost_write(**answer)
    assert may_still_act(exc) is still
    waited = []
    assert settle(client, exc, sleep=waited.append) == (14.0 if still else 0.0)
    assert waited == ([14.0] if still else [])


def test_an_error_that_says_whether_it_timed_out_is_believed():
    said = AmbiguousWriteError("POST /tokens failed without an HTTP answer")
    said.timed_out = True
    assert may_still_act(said)
    denied = AmbiguousWriteError("POST /tokens timed out")
    denied.timed_out = False
    assert not may_still_act(denied)


def test_the_client_says_it_gave_up_in_the_error_not_only_in_its_words():
    """``timed_out`` is the client's own: a rewording of its message cannot turn a write the
    server may still make into one it is done with."""
    client, exc = lost_write(raises=requests.exceptions.ReadTimeout("slow"))
    assert exc.timed_out is True
    client, exc = lost_write(raises=requests.exceptions.ConnectionError("Connection aborted."))
    assert exc.timed_out is False
