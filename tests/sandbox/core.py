"""Shared machinery of the sandbox: secrets, request log, faults, latency, rate limits, servers.

Every platform module (``pactflow.py``, ``tfe.py``, ...) subclasses :class:`Platform` and only
describes its routes, its error body and its auth scheme; everything that is the same for the
five services lives here.
"""
from __future__ import annotations

import email.utils
import hashlib
import json
import math
import re
import secrets as _random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def random_token(length: int = 40, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    return "".join(_random.choice(alphabet) for position in range(length))


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------

@dataclass
class Secret:
    """One credential the sandbox issued, and what it authenticates as."""

    value: str
    platform: str
    kind: str
    subject: dict
    issued_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    #: when the sandbox issued it (``issued_at`` is what the platform claims, often backdated)
    registered_at: datetime = field(default_factory=utcnow)

    def is_live(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now


class SecretRegistry:
    """Every secret the sandbox ever issued: the oracle for "does it work" and "did it leak"."""

    def __init__(self) -> None:
        self._by_value: dict[str, Secret] = {}
        self._lock = threading.RLock()

    def issue(self, platform: str, kind: str, subject: dict, value: str | None = None,
              expires_at: datetime | None = None, issued_at: datetime | None = None) -> Secret:
        secret = Secret(value=value or random_token(), platform=platform, kind=kind,
                        subject=subject, issued_at=issued_at or utcnow(), expires_at=expires_at)
        with self._lock:
            if secret.value in self._by_value:
                raise ValueError("secret collision")
            self._by_value[secret.value] = secret
        return secret

    def authenticate(self, platform: str, value: str | None) -> Secret | None:
        """The live secret of ``platform`` with this value, else None."""
        if not value:
            return None
        with self._lock:
            secret = self._by_value.get(value)
        if secret is None or secret.platform != platform or not secret.is_live():
            return None
        return secret

    def revoke(self, value: str, at: datetime | None = None) -> None:
        """Stop ``value`` from working now, or at ``at`` (an overlap window)."""
        with self._lock:
            secret = self._by_value[value]
            secret.revoked_at = at or utcnow()

    def get(self, value: str) -> Secret | None:
        with self._lock:
            return self._by_value.get(value)

    def is_live(self, value: str) -> bool:
        secret = self.get(value)
        return secret is not None and secret.is_live()

    def count(self) -> int:
        with self._lock:
            return len(self._by_value)

    def issued_since(self, count: int) -> list[str]:
        """The values issued after the first ``count`` (in the order they were issued)."""
        with self._lock:
            return list(self._by_value)[count:]

    def all_values(self) -> list[str]:
        with self._lock:
            return list(self._by_value)

    def live(self, platform: str | None = None) -> list[Secret]:
        with self._lock:
            return [s for s in self._by_value.values()
                    if s.is_live() and (platform is None or s.platform == platform)]


# --------------------------------------------------------------------------------------------
# Request log and faults
# --------------------------------------------------------------------------------------------

@dataclass
class LoggedRequest:
    platform: str
    method: str
    path: str
    query: str
    status: int | None = None
    fault: str | None = None
    seconds: float = 0.0
    #: the request's Content-Type and Accept headers (None when absent), never its credential
    content_type: str | None = None
    accept: str | None = None
    #: a digest of the credential (to count requests per credential), never the credential
    credential_digest: str | None = None


def credential_digest(credential: str | None) -> str | None:
    return hashlib.sha256(credential.encode()).hexdigest()[:12] if credential else None


class RequestLog:
    def __init__(self) -> None:
        self.entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()

    def select(self, platform: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [e for e in self.entries
                    if (platform is None or e.platform == platform)
                    and (method is None or e.method == method)]

    def methods(self, platform: str | None = None) -> list[str]:
        return [e.method for e in self.select(platform)]

    def writes(self, platform: str | None = None) -> list[LoggedRequest]:
        return [e for e in self.select(platform) if e.method not in ("GET", "HEAD")]


FAULT_ACTIONS = ("status", "delay", "drop", "lost_response", "malformed", "echo",
                 "trickle", "huge_body", "endless_body", "deep_json")
#: actions whose answer replaces the platform's after it acted (a write is done, as with
#: ``lost_response``; only the answer is hostile)
ANSWER_FAULTS = ("trickle", "huge_body", "endless_body", "deep_json")


@dataclass
class Fault:
    """One injected fault. ``times`` is how many matching requests it hits (None: all).

    Hostile answers, each sent after the platform acted on the request:

    - ``trickle``: one byte every ``interval`` seconds, of the status line and headers
      (``where="headers"``: they never end) or of a body of ``size`` bytes behind complete
      headers (``where="body"``) -- a slow-loris server; ``requests``' timeout bounds each
      read, not the answer;
    - ``huge_body``: a 200 with a body of ``size`` bytes, its length declared
      (``where="declared"``) or sent chunked (``where="chunked"``);
    - ``endless_body``: a 200 whose chunked body never ends;
    - ``deep_json``: a 200 whose JSON nests ``size`` arrays (Python's parser recurses).
    """

    action: str
    platform: str | None = None
    method: str | None = None
    path: str | None = None          # a regular expression searched in the request path
    status: int = 500
    headers: dict = field(default_factory=dict)
    message: str = "injected fault"
    delay: float = 0.0
    times: int | None = 1
    #: skip requests made with this credential (hit only, say, the check of a new secret)
    unless_credential: str | None = None
    #: hit only requests made with this credential (say, the caller's own identity lookup)
    only_credential: str | None = None
    #: hostile answers (see above)
    where: str = "body"
    interval: float = 1.0
    size: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")

    def matches(self, platform: str, method: str, path: str,
                credential: str | None = None) -> bool:
        return ((self.platform is None or self.platform == platform)
                and (self.method is None or self.method == method)
                and (self.path is None or re.search(self.path, path) is not None)
                and (self.unless_credential is None or credential != self.unless_credential)
                and (self.only_credential is None or credential == self.only_credential)
                and (self.times is None or self.hits < self.times))


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, action: str, **kwargs: Any) -> Fault:
        fault = Fault(action=action, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, platform: str, method: str, path: str,
             credential: str | None = None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(platform, method, path, credential):
                    fault.hits += 1
                    return fault
        return None


class RateLimiter:
    """A fixed-window request budget per credential, as the platforms enforce it."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._windows: dict[str, tuple[float, int]] = {}
        #: requests let through, per credential (the budget a benchmark compares against)
        self.admitted: dict[str, int] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """Count one request; return 0 when allowed, else the seconds until the window resets."""
        with self._lock:
            # the time is read under the lock: a thread that read it before another opened
            # a new window would count its earlier request into that window
            now = time.monotonic()
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
            if count > self.limit:
                return max(self.window - (now - start), 0.001)
            self.admitted[key] = self.admitted.get(key, 0) + 1
            return 0.0

    def state(self, key: str) -> tuple[int, float]:
        """``(remaining, seconds until the window resets)`` for ``key``, as a platform states it."""
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
        if now - start >= self.window:
            return self.limit, self.window
        return max(0, self.limit - count), self.window - (now - start)


# --------------------------------------------------------------------------------------------
# Platforms
# --------------------------------------------------------------------------------------------

#: ``Platform.rate_limit_style`` values: the header forms the platforms and their gateways use
#: (``None``: the platform's own, see its ``rate_limited``)
RATE_LIMIT_STYLES = (
    "none",                 # a bare 429 (Pulumi documents no header)
    "retry-after-seconds",  # RFC 9110 10.2.3 delta-seconds (Cloudflare, the Pulumi CLI reads it)
    "retry-after-date",     # RFC 9110 10.2.3 HTTP-date (the Cloudflare SDK parses both forms)
    "x-ratelimit-seconds",  # X-RateLimit-Limit/-Remaining/-Reset, reset in seconds (TFE, go-tfe)
    "x-ratelimit-epoch",    # the same, reset a Unix time (GitHub's REST API)
    "x-ratelimit-epoch-ms",  # the same, reset a Unix time in milliseconds (some gateways)
    "ietf-fields",          # RateLimit-Limit/-Remaining/-Reset (draft-ietf-httpapi-ratelimit-
                            # headers 00-06, Heroku, DigitalOcean)
    "ietf-dictionary",      # RateLimit: limit=, remaining=, reset= (draft 07)
    "ietf-structured",      # RateLimit: "name";r=;t=, RateLimit-Policy: "name";q=;w= (draft 08
                            # on; Cloudflare's API)
)


def rate_limit_headers(style: str, limit: int, window: float, remaining: int,
                       reset: float, refused: bool) -> dict:
    """The headers of ``style`` for a window of ``limit`` per ``window`` seconds with
    ``remaining`` left for ``reset`` seconds; Retry-After only on a refusal."""
    seconds = max(1, math.ceil(reset))
    if style == "retry-after-seconds":
        return {"Retry-After": str(seconds)} if refused else {}
    if style == "retry-after-date":
        return {"Retry-After": email.utils.formatdate(time.time() + seconds, usegmt=True)} \
            if refused else {}
    if style.startswith("x-ratelimit"):
        at = {"x-ratelimit-seconds": f"{reset:.3f}", "x-ratelimit-epoch": str(int(time.time() + seconds)),
              "x-ratelimit-epoch-ms": str(int((time.time() + reset) * 1000))}[style]
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": at}
    policy_window = max(1, math.ceil(window))
    if style == "ietf-fields":
        return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(seconds), "RateLimit-Policy": f"{limit};w={policy_window}"}
    if style == "ietf-dictionary":
        return {"RateLimit": f"limit={limit}, remaining={remaining}, reset={seconds}",
                "RateLimit-Policy": f"{limit};w={policy_window}"}
    if style == "ietf-structured":
        return {"RateLimit": f'"default";r={remaining};t={seconds}',
                "RateLimit-Policy": f'"default";q={limit};w={policy_window}'}
    return {}


#: the rate-limit headers of every style (removed from a refusal before a style's are added)
_RATE_LIMIT_HEADER_NAMES = ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                            "X-RateLimit-Reset", "RateLimit", "RateLimit-Policy", "RateLimit-Limit",
                            "RateLimit-Remaining", "RateLimit-Reset")


class Platform:
    """One fake service. Subclasses set ``name`` and ``base_path`` and add routes in ``routes``.

    Switches every platform has (tests set them on the instance; ``GENERIC_SWITCHES``), each
    off by default as the real services are:

    - ``served_page_size``: the most items a listing page holds, whatever the client asked for
      (a server may serve fewer than asked; the vendors' SDKs page on totals, links or an empty
      page, never on a short one);
    - ``link_origin``: ``scheme://host:port`` that absolute pagination links carry instead of
      the request's own, as behind a proxy that does not pass ``X-Forwarded-*`` (Django REST
      framework builds ``next`` with ``request.build_absolute_uri``);
    - ``rate_limit_style``: the rate-limit headers, one of ``RATE_LIMIT_STYLES`` (on every
      answer where the style states a remainder; Retry-After on refusals);
    - ``transient_get_errors``: how many GETs answer ``transient_get_status`` first (a
      platform's passing 5xx, which go-tfe, the Cloudflare SDK and the Pulumi CLI retry);
    - ``secret_suffix`` (a hostile server, issue 23): every secret a request issues appears in
      its answer with this suffix (``"\\n"``); the platform holds the secret without it.
    """

    name = ""
    base_path = ""          # appended to http://host:port to form the base URL a module gets
    #: ``(requests, seconds)`` per credential as the platform publishes it (or as we assume it
    #: where it publishes nothing); ``enforce_published_rate_limit`` turns it on
    published_rate_limit: tuple[int, float] = (10, 1.0)
    served_page_size: int | None = None
    link_origin: str | None = None
    rate_limit_style: str | None = None
    transient_get_errors: int = 0
    transient_get_status: int = 503
    secret_suffix: str = ""
    GENERIC_SWITCHES = ("served_page_size", "link_origin", "rate_limit_style",
                        "transient_get_errors", "transient_get_status", "secret_suffix")

    def __init__(self, sandbox: "Sandbox") -> None:
        self.sandbox = sandbox
        self.secrets = sandbox.secrets
        self.rate_limiter: RateLimiter | None = None
        self.app = Flask(f"sandbox-{self.name}")
        self.app.json.sort_keys = False
        self.routes(self.app)
        self.admin_token = self.setup()

    # Hooks for subclasses ------------------------------------------------------------------
    def routes(self, app: Flask) -> None:
        raise NotImplementedError

    def setup(self) -> str:
        """Create the initial state; return an admin credential the platform accepts."""
        raise NotImplementedError

    def seed_demo(self) -> None:
        """Add the demo data set (some tokens old enough to be due)."""

    def error(self, status: int, message: str, headers: dict | None = None) -> Response:
        """The platform's own error body."""
        return self.json({"error": message}, status, headers)

    def rate_limited(self, retry_after: float) -> Response:
        return self.error(429, "rate limited", {"Retry-After": str(max(1, round(retry_after)))})

    def credential(self, environ: dict) -> str | None:
        """The credential a request carries, for rate limiting per credential."""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        return auth.split(" ", 1)[-1] if auth else None

    # Helpers ---------------------------------------------------------------------------------
    content_type = "application/json"

    def json(self, body: Any, status: int = 200, headers: dict | None = None,
             content_type: str | None = None) -> Response:
        return Response(json.dumps(body), status=status, headers=headers or {},
                        content_type=content_type or self.content_type)

    def empty(self, status: int = 204) -> Response:
        return Response(b"", status=status)

    def now(self) -> datetime:
        return utcnow()

    def enforce_rate_limit(self, limit: int, window: float) -> None:
        self.rate_limiter = RateLimiter(limit, window)

    def enforce_published_rate_limit(self) -> None:
        self.enforce_rate_limit(*self.published_rate_limit)

    # The propagation lag (a switch of every platform; platforms list "propagation_lag" in their
    # SWITCHES so that reset() turns it off) ---------------------------------------------------
    @property
    def propagation_lag(self) -> float:
        """Seconds for which a secret issued after this switch was set is refused as if unknown,
        the way a new credential is not yet known everywhere (Cloudflare's verify answers 403
        code 10000 for a while, api/cloudflare.md §6; coder/coder#8956; xataio/client-ts#769;
        FusionAuth, "When you create a new key, it will take a bit of time for the API key to be
        usable"). 0 (the default) turns it off. Secrets issued before it was set are unaffected,
        so the admin credential keeps working."""
        return self.__dict__.get("propagation_lag", (0.0, None))[0]

    @propagation_lag.setter
    def propagation_lag(self, seconds: float) -> None:
        self.__dict__["propagation_lag"] = (float(seconds), utcnow())

    def propagating(self, secret: Secret) -> bool:
        """True while ``secret`` is still within the propagation lag."""
        seconds, since = self.__dict__.get("propagation_lag", (0.0, None))
        return bool(seconds) and secret.registered_at >= since \
            and utcnow() < secret.registered_at + timedelta(seconds=seconds)

    def authenticate(self, value: str | None) -> Secret | None:
        """The live secret of this platform with this value, once it has propagated; else None
        (the platform's own "unauthenticated" answer follows)."""
        secret = self.secrets.authenticate(self.name, value)
        return None if secret is None or self.propagating(secret) else secret

    @property
    def url(self) -> str:
        return self.sandbox.root_url(self.name) + self.base_path

    def served(self, size: int) -> int:
        """The page size actually served when ``size`` was asked (``served_page_size``)."""
        return min(size, self.served_page_size) if self.served_page_size else size

    def absolute_link(self, url: str) -> str:
        """A pagination link as this platform's clients see it (``link_origin``)."""
        if not self.link_origin:
            return url
        origin, parts = urlsplit(self.link_origin), urlsplit(url)
        return urlunsplit((origin.scheme, origin.netloc, parts.path, parts.query, parts.fragment))

    def reset_generic_switches(self) -> None:
        for switch in self.GENERIC_SWITCHES:
            self.__dict__.pop(switch, None)

    def rate_limit_state(self, key: str) -> dict:
        """The style's headers for ``key``'s current window (empty without a limiter or style)."""
        if self.rate_limiter is None or self.rate_limit_style is None:
            return {}
        remaining, reset = self.rate_limiter.state(key)
        return rate_limit_headers(self.rate_limit_style, self.rate_limiter.limit,
                                  self.rate_limiter.window, remaining, reset, refused=False)

    def refusal(self, key: str, retry_after: float) -> Response:
        """The platform's 429, with the headers of ``rate_limit_style`` when one is set."""
        response = self.rate_limited(retry_after)
        if self.rate_limit_style is None:
            return response
        for name in _RATE_LIMIT_HEADER_NAMES:
            response.headers.pop(name, None)
        remaining, reset = self.rate_limiter.state(key)
        response.headers.update(rate_limit_headers(
            self.rate_limit_style, self.rate_limiter.limit, self.rate_limiter.window, 0,
            max(reset, retry_after), refused=True))
        return response


def isoformat_ms(value: datetime | None) -> str | None:
    """``2026-11-22T10:15:30.123Z``: millisecond precision, ``Z``."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{value.microsecond // 1000:03d}Z"


def isoformat_s(value: datetime | None) -> str | None:
    """``2026-11-22T10:15:30Z``: second precision, ``Z``."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 timestamp with ``Z`` or an offset; naive values are taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def days_ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)


# --------------------------------------------------------------------------------------------
# WSGI instrumentation: log, latency, faults, rate limit; one lock around the platform state
# --------------------------------------------------------------------------------------------

class _Instrumented:
    def __init__(self, sandbox: "Sandbox", platform: Platform) -> None:
        self.sandbox, self.platform = sandbox, platform

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        sandbox, platform = self.sandbox, self.platform
        credential = platform.credential(environ)
        entry = LoggedRequest(platform.name, environ["REQUEST_METHOD"],
                              environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""),
                              content_type=environ.get("CONTENT_TYPE") or None,
                              accept=environ.get("HTTP_ACCEPT") or None,
                              credential_digest=credential_digest(credential))
        started = time.monotonic()
        sandbox.log.add(entry)
        sandbox.serving(+1)
        extra_headers: list = []

        def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            entry.status = int(status.split(" ", 1)[0])
            headers = [h for h in headers if h[0].lower() not in
                       {name.lower() for name, value in extra_headers}] + extra_headers
            return start_response(status, headers, exc_info) if exc_info else \
                start_response(status, headers)

        try:
            if sandbox.latency:
                time.sleep(sandbox.latency)
            fault = sandbox.faults.take(platform.name, entry.method, entry.path, credential)
            if fault is not None:
                entry.fault = fault.action
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.action == "drop":
                    return self._drop(environ, recording_start_response)
                if fault.action == "status":
                    return platform.error(fault.status, fault.message, fault.headers)(
                        environ, recording_start_response)
                if fault.action == "echo":
                    # A proxy's page: ``message`` and ``headers`` with ``{credential}`` replaced
                    # by the credential the request presented, as text/html.
                    presented = credential or ""
                    return Response(fault.message.replace("{credential}", presented),
                                    status=fault.status, content_type="text/html",
                                    headers={k: v.replace("{credential}", presented)
                                             for k, v in fault.headers.items()})(
                        environ, recording_start_response)
                if fault.action == "malformed":
                    return Response(b'{"truncated": ', status=200,
                                    content_type=platform.content_type)(
                        environ, recording_start_response)
            if entry.method == "GET" and platform.transient_get_errors > 0:
                with sandbox.lock:
                    transient = platform.transient_get_errors > 0
                    platform.transient_get_errors -= transient
                if transient:
                    entry.fault = "transient"
                    return platform.error(platform.transient_get_status, "transient error")(
                        environ, recording_start_response)
            if platform.rate_limiter is not None:
                key = credential or "anonymous"
                wait = platform.rate_limiter.check(key)
                if wait:
                    return platform.refusal(key, wait)(environ, recording_start_response)
                extra_headers.extend(platform.rate_limit_state(key).items())
            if fault is not None and fault.action in ANSWER_FAULTS:
                with sandbox.lock:     # the platform acts; its answer is replaced
                    for dummy in platform.app(environ, lambda *args: None):
                        pass
                return self._hostile(fault, environ, recording_start_response)
            captured: list = []
            with sandbox.lock:
                issued = sandbox.secrets.count()
                body = b"".join(platform.app(environ, lambda *args: captured.append(args)))
                if platform.secret_suffix:
                    body = _suffixed(body, sandbox.secrets.issued_since(issued),
                                     platform.secret_suffix)
            status, headers = captured[-1][:2]
            recording_start_response(status, [
                (name, str(len(body)) if name.lower() == "content-length" else value)
                for name, value in headers])
            if fault is not None and fault.action == "lost_response":
                # The platform acted; the client never hears of it.
                return self._drop(environ, lambda *a: None)
            return [body]
        finally:
            entry.seconds = time.monotonic() - started
            sandbox.serving(-1)

    def _hostile(self, fault: Fault, environ: dict, start_response: Callable) -> Iterable[bytes]:
        content_type = self.platform.content_type
        if fault.action == "trickle" and fault.where == "headers":
            return self._trickle_headers(fault, environ, start_response)
        if fault.action == "trickle":
            body = b'{"data": "' + b"x" * max(0, fault.size - 12) + b'"}'
            return Response(_trickled(body, fault.interval), status=200,
                            headers={"Content-Length": str(len(body))},
                            content_type=content_type, direct_passthrough=True)(
                environ, start_response)
        if fault.action == "deep_json":
            depth = fault.size or 100000
            return Response(b"[" * depth + b"]" * depth, status=200,
                            content_type=content_type)(environ, start_response)
        if fault.action == "huge_body":
            headers = {"Content-Length": str(fault.size)} if fault.where == "declared" else {}
            return Response(_filler(fault.size), status=200, headers=headers,
                            content_type=content_type, direct_passthrough=True)(
                environ, start_response)
        return Response(_filler(None), status=200, content_type=content_type,
                        direct_passthrough=True)(environ, start_response)     # endless_body

    @staticmethod
    def _trickle_headers(fault: Fault, environ: dict, start_response: Callable) -> list[bytes]:
        """The status line and headers, one byte every ``interval`` seconds, never ending (or
        ending after ``size`` bytes); then the connection is closed."""
        sock = environ.get("werkzeug.socket")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Trickle: "
        limit = fault.size or 10 ** 9
        try:
            for position in range(limit):
                sock.sendall(head[position:position + 1] if position < len(head) else b"y")
                time.sleep(fault.interval)
        except OSError:
            pass
        return _Instrumented._drop(environ, start_response)

    @staticmethod
    def _drop(environ: dict, start_response: Callable) -> list[bytes]:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        start_response("500 Dropped", [("Content-Length", "0")])
        return []


def _suffixed(body: bytes, secrets: list[str], suffix: str) -> bytes:
    """``body`` with each of ``secrets`` followed by ``suffix`` where it appears as a JSON
    string (the value a create or roll returns)."""
    for value in secrets:
        body = body.replace(json.dumps(value).encode(), json.dumps(value + suffix).encode())
    return body


def _trickled(body: bytes, interval: float) -> Iterator[bytes]:
    for position in range(len(body)):
        yield body[position:position + 1]
        time.sleep(interval)


#: one chunk of a huge or endless body
_CHUNK = b"x" * (1 << 20)


def _filler(size: int | None) -> Iterator[bytes]:
    """``size`` bytes of filler (None: for ever), a chunk at a time."""
    sent = 0
    while size is None or sent < size:
        chunk = _CHUNK if size is None else _CHUNK[:size - sent]
        sent += len(chunk)
        yield chunk


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the real services offer

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass


# --------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------

class Sandbox:
    """Five fake services on loopback, each on its own port."""

    def __init__(self, demo: bool = False, latency: float = 0.0, host: str = "127.0.0.1",
                 tls: bool | tuple[str, str] = False) -> None:
        from . import PLATFORMS   # the platform classes, by name

        self.host = host
        #: serve HTTPS: True with a throw-away self-signed certificate (for TLS verification
        #: tests), or ``(certfile, keyfile)`` (``tls.make_certificates``: a certificate a client
        #: can trust through a CA file, as ``gh`` needs)
        self.tls = tls
        self.latency = latency
        self.secrets = SecretRegistry()
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        self._in_flight = 0
        self._idle = threading.Condition()
        self.platforms: dict[str, Platform] = {name: cls(self) for name, cls in PLATFORMS.items()}
        self._servers: dict[str, BaseWSGIServer] = {}
        self._threads: list[threading.Thread] = []
        if demo:
            for platform in self.platforms.values():
                platform.seed_demo()

    def __getitem__(self, name: str) -> Platform:
        return self.platforms[name]

    def start(self) -> "Sandbox":
        for name, platform in self.platforms.items():
            server = make_server(self.host, 0, _Instrumented(self, platform), threaded=True,
                                 request_handler=_QuietHandler,
                                 ssl_context="adhoc" if self.tls is True else self.tls or None)
            server.daemon_threads = True
            # A short poll interval keeps stop() fast: shutdown waits for the next poll.
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                      name=f"sandbox-{name}", daemon=True)
            thread.start()
            self._servers[name] = server
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def serving(self, change: int) -> None:
        """One request more (+1) or fewer (-1) being served."""
        with self._idle:
            self._in_flight += change
            if not self._in_flight:
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no request is being served: every request received has been acted on
        (a server that acts after its client gave up, as the ``delay`` fault does, is done).
        An oracle that counts tokens while such a request is still at work judges too early.
        Returns False if requests are still being served after ``timeout`` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def root_url(self, name: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self._servers[name].server_port}"

    def endpoints(self) -> dict:
        """What ``python -m tests.sandbox`` prints: base URL and admin credential per platform."""
        return {name: {"url": p.url, "token": p.admin_token} for name, p in self.platforms.items()}
