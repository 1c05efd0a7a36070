"""Unit tests of the client's retries and bounds (issues 22 item 4, 23 items 3-5).

The conversation is scripted (``Conversation``) except for the deadline tests, which need a
server that trickles: a raw socket on loopback, plain and TLS.
"""
import datetime
import socket
import ssl
import threading
import time

import pytest
import requests

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiClient, ApiError, RetryPolicy, TransportError, UnreadableAnswerError,
    UnsendableValueError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API

from ansible_collections.tokenops.tokens.tests.unit.utils.conversation import Conversation, Expect

BASE = "https://api.example.test"
SECRET = "s3cr3t-token-value-0123456789"


def client(*expected, api="cloudflare", retry=None, **options):
    session = Conversation(*expected)
    sleeps = []
    made = ApiClient(BASE, f"Bearer {SECRET}", API[api].decode_error, session=session,
                     sleep=sleeps.append, clock=lambda: 1_700_000_000.0, retry=retry,
                     platform="Cloudflare", **options)
    return made, session, sleeps


# -- issue 22 item 4: safe requests retry every 5xx, 425, 429 and transport error ----------------

@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 520, 599, 425, 429])
def test_a_read_is_repeated_after_every_5xx_425_and_429(status):
    c, session, sleeps = client(Expect("GET", f"{BASE}/user/tokens", status=status, body={}),
                                Expect("GET", f"{BASE}/user/tokens", body={"result": []}))
    assert c.get("/user/tokens") == {"result": []}
    assert len(sleeps) == 1 and session.finished()


@pytest.mark.parametrize("status", [425, 429])
def test_a_create_is_repeated_after_425_and_429_which_refuse_before_acting(status):
    c, session, sleeps = client(Expect("POST", f"{BASE}/t", status=status, body={}),
                                Expect("POST", f"{BASE}/t", status=201, body={"id": "x"}))
    assert c.post("/t", {}) == {"id": "x"}
    assert session.finished()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_create_is_never_repeated_after_a_5xx(status):
    c, session, sleeps = client(Expect("POST", f"{BASE}/t", status=status, body={}))
    with pytest.raises(AmbiguousWriteError, match="Cloudflare: POST /t failed with HTTP"):
        c.post("/t", {})
    assert sleeps == [] and session.finished()


@pytest.mark.parametrize("failure", [
    requests.exceptions.ConnectionError("Connection reset by peer"),
    requests.exceptions.ChunkedEncodingError("incomplete"),
    requests.exceptions.ReadTimeout("slow"),
])
def test_a_read_is_repeated_after_a_transport_error(failure):
    c, session, sleeps = client(Expect("GET", f"{BASE}/r", raises=failure),
                                Expect("GET", f"{BASE}/r", body={"ok": 1}))
    assert c.get("/r") == {"ok": 1}
    assert session.finished()


def test_a_read_that_times_out_twice_is_not_asked_a_third_time():
    slow = requests.exceptions.ReadTimeout("slow")
    c, session, sleeps = client(Expect("GET", f"{BASE}/r", raises=slow),
                                Expect("GET", f"{BASE}/r", raises=slow))
    with pytest.raises(TransportError, match="timed out"):
        c.get("/r")
    assert len(sleeps) == 1 and session.finished()


def test_repeats_end_within_max_retry_wait_of_the_first_send():
    c, session, sleeps = client(
        *[Expect("GET", f"{BASE}/r", status=503, headers={"Retry-After": "3"}, body={})
          for attempt in range(3)], retry=RetryPolicy(max_total_wait=7))
    with pytest.raises(ApiError, match="gave up after waiting 6.0s"):
        c.get("/r")
    assert sleeps == [3.0, 3.0] and session.finished()


# -- issue 23 item 4: absurd Retry-After values bounded, never a crash ---------------------------

@pytest.mark.parametrize("value", ["Fri, 31 Dec 99999 23:59:59 GMT", "-1", "nan", "1e400"])
def test_an_absurd_retry_after_is_ignored_and_the_client_backs_off(value):
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", status=429, headers={"Retry-After": value}, body={}),
        Expect("GET", f"{BASE}/r", body={"ok": 1}), retry=RetryPolicy(backoff=1.0))
    assert c.get("/r") == {"ok": 1}
    assert 0.5 <= sleeps[0] <= 1.0


def test_a_retry_after_decades_away_gives_up_and_says_why():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", status=429,
               headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, body={}))
    with pytest.raises(ApiError) as caught:
        c.get("/r")
    assert caught.value.status == 429 and sleeps == []
    assert "asked to wait more than a day" in str(caught.value)


# -- issue 23 item 4: deep JSON ---------------------------------------------------------------

DEEP = "[" * 100000 + "]" * 100000


def test_deeply_nested_json_on_a_read_is_a_typed_error_naming_platform_method_and_path():
    c, session, sleeps = client(Expect("GET", f"{BASE}/user/tokens", body=DEEP))
    with pytest.raises(UnreadableAnswerError) as caught:
        c.get("/user/tokens")
    assert str(caught.value).startswith("Cloudflare: GET /user/tokens returned HTTP 200")
    assert "nested deeper" in str(caught.value)
    assert (caught.value.platform, caught.value.method, caught.value.path) == (
        "Cloudflare", "GET", "/user/tokens")


def test_json_nested_past_the_depth_limit_but_within_pythons_is_refused_too():
    c, session, sleeps = client(Expect("GET", f"{BASE}/r", body="[" * 200 + "]" * 200))
    with pytest.raises(UnreadableAnswerError, match="nested deeper than 64 levels"):
        c.get("/r")


def test_deeply_nested_json_after_a_create_is_ambiguous():
    c, session, sleeps = client(Expect("POST", f"{BASE}/t", status=201, body=DEEP))
    with pytest.raises(AmbiguousWriteError, match="may or may not have acted"):
        c.post("/t", {})


def test_deeply_nested_json_in_an_error_body_is_shown_as_text():
    c, session, sleeps = client(Expect("GET", f"{BASE}/r", status=400, body=DEEP))
    with pytest.raises(ApiError, match="HTTP 400: \\[\\[\\["):
        c.get("/r")


# -- issue 23 item 3: the body size limit ------------------------------------------------------

def test_a_declared_body_over_the_limit_is_not_read():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/r", body="x" * 10, headers={"Content-Length": str(200 << 20)}),
        max_body=1 << 20)
    with pytest.raises(UnreadableAnswerError) as caught:
        c.get("/r")
    assert "larger than 1 MiB" in str(caught.value) and "declared 200 MiB" in str(caught.value)
    assert sleeps == []


def test_an_undeclared_body_is_cut_at_the_limit():
    c, session, sleeps = client(Expect("GET", f"{BASE}/r", body=b"x" * (3 << 20)),
                                max_body=1 << 20)
    with pytest.raises(UnreadableAnswerError, match="larger than 1 MiB"):
        c.get("/r")


def test_an_oversized_answer_to_a_create_is_ambiguous():
    c, session, sleeps = client(Expect("POST", f"{BASE}/t", status=201, body=b"x" * (2 << 20)),
                                max_body=1 << 20)
    with pytest.raises(AmbiguousWriteError, match="larger than 1 MiB"):
        c.post("/t", {})


# -- issue 23 item 5: values HTTP headers cannot carry -------------------------------------------

@pytest.mark.parametrize("credential, kind", [
    ("abc\u200bdef", "U+200B ZERO WIDTH SPACE"), ("abc\ndef", "a line break"),
    ("abc def", "white space"), ("abc\x7fdef", "a control character (U+007F)"),
    ("abcdé", "U+00E9"),
])
def test_a_credential_a_header_cannot_carry_is_refused_naming_api_token_not_the_value(
        credential, kind):
    with pytest.raises(UnsendableValueError) as caught:
        ApiClient(BASE, f"Bearer {credential}", API["tfe"].decode_error, session=Conversation())
    assert str(caught.value).startswith("api_token: holds ")
    assert kind in str(caught.value)
    assert "abc" not in str(caught.value) and "def" not in str(caught.value)


def test_a_new_secret_with_a_line_break_around_it_is_trimmed_and_remembered_both_ways():
    c, session, sleeps = client(
        Expect("GET", f"{BASE}/verify", body={}),
        Expect("GET", f"{BASE}/r", status=400, body={"errors": [
            {"code": 1, "message": "echo newsecret123\n and newsecret123"}]}))
    secret = c.remember_secret("newsecret123\r\n")
    assert secret == "newsecret123"
    assert c.credential_works("/verify", "newsecret123\n") is True
    assert session.sent[0].headers["Authorization"] == "Bearer newsecret123"
    with pytest.raises(ApiError) as caught:
        c.get("/r")
    assert "newsecret123" not in str(caught.value)


def test_a_new_secret_with_a_control_character_inside_is_refused_naming_the_platform():
    c, session, sleeps = client()
    with pytest.raises(UnsendableValueError) as caught:
        c.remember_secret("new\x00secret")
    assert str(caught.value).startswith("the new secret Cloudflare returned: holds a control")
    assert "secret\x00" not in str(caught.value) and "new\x00" not in str(caught.value)


@pytest.mark.parametrize("raised", [
    ValueError("Invalid header value b'Bearer %s\\n'" % SECRET),
    UnicodeEncodeError("latin-1", SECRET, 0, 1, "ordinal not in range"),
    ssl.SSLError(1, "bad record mac %s" % SECRET),
    OSError(104, "reset %s" % SECRET),
    RecursionError("maximum recursion depth"),
    KeyError(SECRET),
])
def test_every_exception_of_the_http_stack_is_caught_and_never_quoted(raised):
    c, session, sleeps = client(Expect("GET", f"{BASE}/r", raises=raised),
                                Expect("POST", f"{BASE}/t", raises=raised))
    with pytest.raises(TransportError) as read:
        c.get("/r")
    with pytest.raises(AmbiguousWriteError) as write:
        c.post("/t", {})
    for caught in (read, write):
        assert SECRET not in str(caught.value) + repr(caught.value.details)
        assert type(raised).__name__ in str(caught.value)
    assert sleeps == []         # not known to be transient: not repeated


# -- the wall-clock deadline, against a server that trickles ----------------------------------------

class Trickler:
    """A loopback server that answers every connection one byte every ``interval`` seconds:
    the status line and headers (``phase='headers'``) or, after complete headers, the body."""

    def __init__(self, phase, interval=0.2, tls_context=None):
        self.phase, self.interval, self.tls_context = phase, interval, tls_context
        self.closing = phase == "closing body"
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _address = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            if self.tls_context is not None:
                conn = self.tls_context.wrap_socket(conn, server_side=True)
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            if self.phase != "headers":
                # "Connection: close": http.client hands the socket to the answer and forgets it
                close = b"Connection: close\r\n" if self.closing else b""
                conn.sendall(head + close + b"Content-Length: 100000\r\n\r\n")
                head = b'{"a": "' + b"x" * 100000
            for byte in head + b"X-Slow: " + b"y" * 100000:
                if self.stopped.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(self.interval)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def certificate(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context, str(tmp_path / "cert.pem")


@pytest.mark.parametrize("phase", ["headers", "body", "closing body"])
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_trickling_server_meets_the_deadline_of_each_attempt(phase, tls, certificate):
    """One byte every 0.2 s never trips a per-read timeout of 1 s; the deadline ends each
    attempt after 1 s, and a read that timed out is repeated once: about 2 s, not minutes."""
    context, cafile = certificate
    server = Trickler(phase, tls_context=context if tls else None)
    try:
        scheme = "https" if tls else "http"
        c = ApiClient(f"{scheme}://127.0.0.1:{server.port}", f"Bearer {SECRET}",
                      API["pulumi"].decode_error, timeout=1.0, platform="Pulumi Cloud",
                      validate_certs=cafile if tls else True,
                      retry=RetryPolicy(backoff=0.1))
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            c.get("/api/user")
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert 1.9 < elapsed < 4.0, elapsed
    assert server.connections == 2
    assert "Pulumi Cloud: GET /api/user timed out: no complete answer within 1s" in \
        str(caught.value)


def test_a_trickled_answer_to_a_create_is_ambiguous_and_not_repeated():
    server = Trickler("body")
    try:
        c = ApiClient(f"http://127.0.0.1:{server.port}", f"Bearer {SECRET}",
                      API["pulumi"].decode_error, timeout=0.5)
        with pytest.raises(AmbiguousWriteError, match="timed out"):
            c.post("/api/user/tokens", {"description": "x"})
    finally:
        server.stop()
    assert server.connections == 1


def test_the_deadline_never_touches_a_connection_after_its_attempt():
    """A keep-alive connection back in the pool outlives its attempt's deadline."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        c = ApiClient(f"http://127.0.0.1:{server.server_address[1]}", f"Bearer {SECRET}",
                      API["pulumi"].decode_error, timeout=0.3)
        assert c.get("/a") == {}
        time.sleep(0.5)                           # past the first attempt's deadline
        assert c.get("/b") == {}
        assert c.post("/c", {}) == {}             # a write on the same kept-alive connection
    finally:
        server.shutdown()
        server.server_close()


def test_a_client_without_a_timeout_has_no_deadline_but_still_answers():
    c, session, sleeps = client(Expect("GET", f"{BASE}/r", body={"ok": 1}), timeout=None)
    assert c.get("/r") == {"ok": 1}
