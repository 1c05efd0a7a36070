"""TLS is verified unless the user says otherwise, and a redirect never carries the credential
to another host."""
import http.server
import threading

import pytest
import requests.certs

from tests.functional.harness import leaked, run_playbook
from tests.sandbox import Sandbox


@pytest.fixture
def tls_sandbox():
    with Sandbox(tls=True) as running:
        yield running


def info_task(platform, register, **extra):
    return {"name": register, "register": register, "ignore_errors": True,
            "tokenops.tokens.pulumi_token_info": {"api_url": platform.url,
                                                  "api_token": platform.admin_token, **extra}}


def test_tls_is_verified_by_default_and_only_skipped_when_asked(tls_sandbox, tmp_path):
    pulumi = tls_sandbox["pulumi"]
    assert pulumi.url.startswith("https://")
    # A CA bundle in the environment must not turn verification back on (requests issue 3829).
    run = run_playbook(tmp_path, [info_task(pulumi, "verified"),
                                  info_task(pulumi, "unverified", validate_certs=False)],
                       env={"REQUESTS_CA_BUNDLE": requests.certs.where()})
    assert run.rc == 0, run.output
    assert run["verified"]["failed"]
    assert "could not be verified" in run["verified"]["msg"]
    assert "validate_certs" in run["verified"]["msg"]
    assert not run["unverified"].get("failed"), run["unverified"]
    listed = [e for e in tls_sandbox.log.select("pulumi") if e.path == "/api/user/tokens"]
    assert len(listed) == 1, "only the run with validate_certs: false may reach the API"
    assert leaked(tls_sandbox, run.output) == []


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):  # noqa: N802 (the name http.server asks for)
        self.seen.append(dict(self.headers))
        body = b'{"tokens": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def other_host():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_host_is_not_followed(sandbox, other_host, tmp_path, status):
    pulumi = sandbox["pulumi"]
    elsewhere = "http://127.0.0.1:%d/api/user/tokens" % other_host.server_port
    sandbox.faults.add("status", platform="pulumi", method="GET", status=status,
                       headers={"Location": elsewhere}, times=None)
    run = run_playbook(tmp_path, [info_task(pulumi, "listed")])
    assert run.rc == 0, run.output
    assert _Recorder.seen == [], "the module followed a redirect to another host"
    assert run["listed"]["failed"]
    assert "refusing to send the credential there" in run["listed"]["msg"]
    assert leaked(sandbox, run.output, repr(_Recorder.seen)) == []
