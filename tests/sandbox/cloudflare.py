"""Fake Cloudflare API tokens: user-owned and account-owned tokens, roll, verify, permission groups.

Follows ``api/cloudflare.md``: everything under ``/client/v4``, ``Authorization: Bearer``, the
``{success, errors, messages, result}`` envelope on every answer, ``page``/``per_page`` pagination
that returns ``[]`` past the end. The secret (``value``) is shown once, on create, and as the bare
``result`` of a roll. Choices the contract leaves open are marked "Assumption".
"""
from __future__ import annotations

import ipaddress
import math
import re
import string
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from .core import Platform, days_ago, isoformat_s, parse_time, random_token

USER_SCOPE = "com.cloudflare.api.user"
ACCOUNT_SCOPE = "com.cloudflare.api.account"
ZONE_SCOPE = "com.cloudflare.api.account.zone"
R2_SCOPE = "com.cloudflare.edge.r2.bucket"
HEX32 = re.compile(r"[0-9a-f]{32}")
TOKEN_SHAPE = re.compile(r"[0-9A-Za-z_-]{40,80}")       # a token, not a 37-char Global API Key
ALPHANUMERIC = string.ascii_letters + string.digits
RIGHTS = ("list", "create", "read", "update", "delete")  # SPEC com.cloudflare.api.token.<right>
EXPOSED = "revoked (exposed)"

INVALID_REQUEST = 1001       # Assumption: 400s with code 1001 are what Cloudflare answers observed
UNAUTHORIZED = (9109, "Unauthorized to access requested resource")
INVALID_TOKEN = (1000, "Invalid API Token")
DEFAULT_CODES = {400: INVALID_REQUEST, 401: 1000, 403: 9109, 404: 7003, 405: 7001, 429: 971}
SERVER_ERROR_CODE = 10001    # Assumption: no documented code for 5xx answers


class ApiError(Exception):
    """Abort a view with Cloudflare's error envelope; ``chain`` fills ``error_chain``."""

    def __init__(self, status: int, code: int, message: str,
                 chain: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.chain = status, code, message, chain


def invalid(message: str) -> ApiError:
    return ApiError(400, INVALID_REQUEST, message)


# ------------------------------------------------------------------------------ permission groups
@dataclass(frozen=True)
class PermissionGroup:
    id: str
    name: str
    scope: str
    category: str
    grants: frozenset[str] = frozenset()     # token-management rights, e.g. "account.create"

    def json(self) -> dict:
        return {"id": self.id, "name": self.name, "scopes": [self.scope],
                "category": self.category, "is_selectable": True}


def _group(name: str, scope: str, category: str, grants: Iterable[str] = (),
           group_id: str | None = None) -> PermissionGroup:
    """Ids are stable across runs; a few are the ones published in the spec and in issues."""
    group_id = group_id or uuid.uuid5(uuid.NAMESPACE_URL, f"cloudflare:{scope}:{name}").hex
    return PermissionGroup(group_id, name, scope, category, frozenset(grants))


def _rights(owner: str, rights: Iterable[str]) -> set[str]:
    return {f"{owner}.{right}" for right in rights}


CATALOGUE: tuple[PermissionGroup, ...] = (
    _group("API Tokens Read", USER_SCOPE, "account_and_billing", _rights("user", ("list", "read"))),
    _group("API Tokens Write", USER_SCOPE, "account_and_billing", _rights("user", RIGHTS)),
    _group("User Details Read", USER_SCOPE, "account_and_billing"),
    _group("Memberships Read", USER_SCOPE, "account_and_billing"),
    _group("Account API Tokens Read", ACCOUNT_SCOPE, "account_and_billing",
           _rights("account", ("list", "read")), "eb56a6953c034b9d97dd838155666f06"),
    _group("Account API Tokens Write", ACCOUNT_SCOPE, "account_and_billing",
           _rights("account", RIGHTS), "5bc3f8b21c554832afc660159ab75fa4"),
    _group("Account Settings Read", ACCOUNT_SCOPE, "account_and_billing"),
    _group("Workers Scripts Write", ACCOUNT_SCOPE, "developer_platform"),
    # The same name at two scopes: name-to-id resolution must disambiguate by scope.
    _group("Access: Apps and Policies Write", ACCOUNT_SCOPE, "cloudflare_one_and_zero_trust"),
    _group("Access: Apps and Policies Write", ZONE_SCOPE, "cloudflare_one_and_zero_trust"),
    _group("Zone Read", ZONE_SCOPE, "dns_and_zones", group_id="c8fed203ed3043cba015a93ad1616f1f"),
    _group("DNS Read", ZONE_SCOPE, "dns_and_zones", group_id="82e64a83756745bbbb1c9c2701bf816b"),
    _group("DNS Write", ZONE_SCOPE, "dns_and_zones"),
    _group("Zone Settings Write", ZONE_SCOPE, "rules_and_configuration"),
    _group("Cache Purge", ZONE_SCOPE, "cache_and_performance"),
    _group("Workers R2 Storage Bucket Item Read", R2_SCOPE, "developer_platform"),
)
GROUPS_BY_ID = {group.id: group for group in CATALOGUE}


def group_id(name: str, scope: str | None = None) -> str:
    """The catalogue id of a permission group (``scope`` needed for names published twice)."""
    matches = [g.id for g in CATALOGUE if g.name == name and scope in (None, g.scope)]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} permission groups named {name!r} (scope {scope})")
    return matches[0]


def policy(*group_names: str, resources: dict | None = None, effect: str = "allow") -> dict:
    """A request-shaped policy; default resources: every zone of every account."""
    return {"effect": effect, "permission_groups": [{"id": group_id(n)} for n in group_names],
            "resources": resources or {"com.cloudflare.api.account.zone.*": "*"}}


# ------------------------------------------------------------------------------ state
@dataclass
class Token:
    id: str
    name: str
    policies: list[dict]             # request shape plus a server-assigned "id" per policy
    account_id: str | None           # None: a user-owned token
    issued_on: datetime
    modified_on: datetime
    status: str = "active"           # "active", "disabled" or EXPOSED; "expired" is derived
    condition: dict | None = None    # {"request_ip": {"in": [...], "not_in": [...]}}
    not_before: datetime | None = None
    expires_on: datetime | None = None
    last_used_on: datetime | None = None
    unpropagated_verifies: int = 0   # verify calls still to fail, as right after a real create
    created_by: str | None = None    # the id of the token that created it (list_self)
    value: str = field(default="", repr=False)


def _seconds(value: datetime | None) -> datetime | None:
    """The wire has second precision; storing the same keeps read-then-write round trips equal."""
    return value.replace(microsecond=0) if value else None


class Cloudflare(Platform):
    """One Cloudflare user with one account. The admin credential is a user token holding
    "API Tokens Write" and "Account API Tokens Write" (on ``account_id``): it may do everything.

    Switches (instance attributes; ``reset()`` restores these class defaults):
    ``reorder_policies`` (reads return policies and their permission groups reversed, with fresh
    policy ids), ``user_token_quota`` / ``account_token_quota`` (50 / 500), ``send_retry_after``,
    ``token_format`` ("prefixed": ``cfut_``/``cfat_`` + 40 + checksum; "legacy": 40 chars),
    ``normalise_cidrs`` (emit canonical, sorted CIDRs), ``verify_propagation_failures`` (how many
    verify calls of a freshly created or rolled token answer 403 code 10000 first),
    ``account_token_user_verify_status`` (what an account-owned token gets from
    ``/user/tokens/verify``: 401 code 1000 as counterscale #246 saw; 403 as freellmapi #297 saw),
    ``expired_listing_window`` (``include_expired`` lists only tokens expired within it; SDK 5.9
    "recently-expired"; None lists every expired token), ``list_self_only`` (ids of tokens holding
    only ``account.token.list_self``: their listings show only the tokens they created),
    ``transient_verify_errors`` (how many next verify calls, of any live token, answer 403 code
    10000 "Authentication error" first, as a working credential was seen answered for a moment:
    mrrfv/cloudflare-gateway-pihole-scripts#43, octodns/octodns-cloudflare#108),
    ``verify_location_refusal`` (how verify answers a token whose IP condition excludes the
    caller: 9109, 403 "Cannot use the access token from location: <ip>" as every other path
    answers it, terraform-provider-cloudflare #897; or 1000, 401 "Invalid API Token", as a
    public report saw verify answer while ``/accounts`` answered 9109 for the same token),
    ``propagation_lag`` (seconds a newly issued secret answers 403 code 10000, see ``core``).
    Fault: ``drop_last_policy_on_create`` (a create of a token with more than one policy makes
    it without the last one, to prove that clients read a successor back and compare).
    """

    name = "cloudflare"
    #: "1,200 requests per five minutes" per user: developers.cloudflare.com/fundamentals/api/
    #: reference/limits/
    published_rate_limit = (1200, 300.0)
    base_path = "/client/v4"
    reorder_policies = True
    user_token_quota = 50
    account_token_quota = 500
    send_retry_after = True
    token_format = "prefixed"
    normalise_cidrs = False
    verify_propagation_failures = 0
    account_token_user_verify_status = 401
    #: Assumption: how recent "recently expired" is is undocumented
    expired_listing_window: timedelta | None = timedelta(days=30)
    list_self_only: frozenset = frozenset()
    transient_verify_errors = 0
    verify_location_refusal = 9109
    drop_last_policy_on_create = False
    SWITCHES = ("transient_verify_errors", "verify_location_refusal", "reorder_policies",
                "user_token_quota", "account_token_quota", "send_retry_after",
                "token_format", "normalise_cidrs", "verify_propagation_failures",
                "account_token_user_verify_status", "expired_listing_window", "list_self_only",
                "drop_last_policy_on_create", "propagation_lag")
    RATE_LIMIT, RATE_WINDOW = 1200, 300      # DOCS: per user or account token, per 5 minutes

    # ------------------------------------------------------------------ platform hooks
    def setup(self) -> str:
        self._tokens: dict[str, Token] = {}
        self.user_id = uuid.uuid4().hex
        self.account_id = uuid.uuid4().hex
        admin_policies = [
            policy("API Tokens Write", resources={f"{USER_SCOPE}.{self.user_id}": "*"}),
            policy("Account API Tokens Write",
                   resources={f"{ACCOUNT_SCOPE}.{self.account_id}": "*"}),
        ]
        self.admin_token_id, secret = self.add_token("Sandbox admin", policies=admin_policies)
        return secret

    def reset(self) -> str:
        """Revoke every secret, forget all tokens and per-instance switches; return (and store in
        ``admin_token``) a new admin credential. Lets one running sandbox serve many tests."""
        for token in self._tokens.values():
            self._revoke_value(token)
        for switch in self.SWITCHES:
            self.__dict__.pop(switch, None)
        self.reset_generic_switches()
        self.rate_limiter = None
        self.admin_token = self.setup()
        return self.admin_token

    def error(self, status: int, message: str, headers: dict | None = None,
              code: int | None = None, chain: list[tuple[int, str]] | None = None) -> Response:
        entry: dict[str, Any] = {"code": code or DEFAULT_CODES.get(status, SERVER_ERROR_CODE),
                                 "message": message}
        if chain:
            entry["error_chain"] = [{"code": c, "message": m} for c, m in chain]
        body = {"success": False, "errors": [entry], "messages": [], "result": None}
        return self.json(body, status, headers)

    def rate_limited(self, retry_after: float) -> Response:
        seconds = max(1, math.ceil(retry_after))
        headers = {"Ratelimit": f'"default";r=0;t={seconds}', **self._rate_policy_header()}
        if self.send_retry_after:
            headers["Retry-After"] = str(seconds)
        return self.error(429, "Please wait and consider throttling your request speed", headers)

    def seed_demo(self) -> None:
        dns_edit = [policy("Zone Read", "DNS Write")]
        self.add_token("ci-deploy", policies=dns_edit, issued_on=days_ago(120))
        self.add_token("dns-updater", policies=[policy("DNS Read")], issued_on=days_ago(100),
                       expires_on=days_ago(-20),
                       condition={"request_ip": {"in": ["192.0.2.0/24", "127.0.0.1/32"]}})
        self.add_token("backup-reader", policies=[policy("Zone Read")], issued_on=days_ago(5))
        self.add_token("old-exporter", policies=[policy("Zone Read")], issued_on=days_ago(200),
                       expires_on=days_ago(10))
        self.add_token("paused-bot", policies=[policy("Cache Purge")], issued_on=days_ago(40),
                       status="disabled")
        account = {f"{ACCOUNT_SCOPE}.{self.account_id}": "*"}
        self.add_token("workers-ci", policies=[policy("Workers Scripts Write", resources=account)],
                       account_id=self.account_id, issued_on=days_ago(150))
        self.add_token("settings-audit", policies=[policy("Account Settings Read",
                                                          resources=account)],
                       account_id=self.account_id, issued_on=days_ago(3))

    # ------------------------------------------------------------------ seeding helpers
    def add_token(self, name: str, policies: list[dict] | None = None,
                  account_id: str | None = None, issued_on: datetime | None = None,
                  expires_on: datetime | None = None, status: str = "active",
                  condition: dict | None = None, not_before: datetime | None = None,
                  modified_on: datetime | None = None,
                  created_by: str | None = None) -> tuple[str, str]:
        """A token without HTTP (no quota, past dates allowed); return ``(id, secret)``.
        ``created_by``: the id of the token that made it (default: the admin token).
        ``account_id``: make it account-owned (use ``self.account_id``). ``policies`` are
        request-shaped (see :func:`policy`); default: "Zone Read" on every zone. ``expires_on``
        in the past gives an expired token (status "expired", secret rejected with 401);
        ``status``: "active", "disabled" or "revoked (exposed)"."""
        if status not in ("active", "disabled", EXPOSED):
            raise ValueError(f"unknown status {status!r}")
        scope = "account" if account_id else "user"
        issued_on = _seconds(issued_on or self.now())
        token = Token(id=uuid.uuid4().hex, name=name, account_id=account_id,
                      policies=self._policies(policies or [policy("Zone Read")], scope, False),
                      issued_on=issued_on, modified_on=_seconds(modified_on) or issued_on,
                      condition=self._condition(condition), not_before=_seconds(not_before),
                      expires_on=_seconds(expires_on),
                      created_by=created_by or getattr(self, "admin_token_id", None))
        self._tokens[token.id] = token
        self._issue_value(token, issued_at=issued_on)
        if status == EXPOSED:
            self.expose_token(token.id)
        else:
            token.status = status
        return token.id, token.value

    def add_tokens(self, count: int, prefix: str = "bulk-token",
                   **kwargs: Any) -> list[tuple[str, str]]:
        """``count`` tokens named ``<prefix>-000``...; ``kwargs`` as for :meth:`add_token`.
        Issue dates step back one minute per token so their order is well defined."""
        start = kwargs.pop("issued_on", None) or self.now()
        return [self.add_token(f"{prefix}-{index:03d}",
                               issued_on=start - timedelta(minutes=count - index), **kwargs)
                for index in range(count)]

    def token(self, token_id: str) -> dict | None:
        """The token as the API shows it (policies in stored order, stable ids), plus its
        current secret ``value`` and ``account_id`` (None for user tokens); None if absent."""
        token = self._tokens.get(token_id)
        if token is None:
            return None
        return {**self._token_json(token, reorder=False), "value": token.value,
                "account_id": token.account_id}

    def tokens(self, account_id: str | None = None) -> list[dict]:
        """Every token of the user (``account_id`` None) or of that account, expired included."""
        return [self.token(t.id) for t in self._tokens.values() if t.account_id == account_id]

    def works_from(self, secret: str, address: str) -> bool:
        """The oracle for a location-restricted secret: would it authenticate (live, active,
        valid now) from ``address``, which the sandbox itself cannot be called from?"""
        live = self.secrets.authenticate(self.name, secret)
        token = self._tokens.get(live.subject.get("token", "")) if live else None
        if token is None or not self._usable(token) or self.propagating(live):
            return False
        rule = (token.condition or {}).get("request_ip", {})
        where = ipaddress.ip_address(address)

        def within(key: str) -> bool:
            return any(where in ipaddress.ip_network(c, strict=False) for c in rule.get(key, ()))

        return not ((rule.get("in") and not within("in")) or within("not_in"))

    def roll(self, token_id: str) -> str:
        """Roll directly (no HTTP), as the dashboard does; return the new secret."""
        return self._roll(self._tokens[token_id])

    def expire_token(self, token_id: str, at: datetime | None = None) -> None:
        """Make a token expire at ``at`` (default: it has just expired)."""
        token = self._tokens[token_id]
        token.expires_on = _seconds(at or self.now() - timedelta(seconds=1))
        self._sync_secret_expiry(token)

    def expose_token(self, token_id: str) -> None:
        """What leak scanning does: status "revoked (exposed)" and the secret stops working."""
        token = self._tokens[token_id]
        token.status = EXPOSED
        self._revoke_value(token)

    # ------------------------------------------------------------------ secrets
    def _issue_value(self, token: Token, issued_at: datetime | None = None) -> None:
        subject = {"token": token.id, "account": token.account_id}
        kind = "account_token" if token.account_id else "user_token"
        token.value = self.secrets.issue(self.name, kind, subject, value=self._new_value(token),
                                         issued_at=issued_at, expires_at=token.expires_on).value
        token.unpropagated_verifies = self.verify_propagation_failures

    def _new_value(self, token: Token) -> str:
        if self.token_format == "legacy":
            return random_token(40, ALPHANUMERIC + "-_")
        body = random_token(40, ALPHANUMERIC)
        prefix = "cfat_" if token.account_id else "cfut_"
        return f"{prefix}{body}{zlib.crc32(body.encode()):08x}"

    def _revoke_value(self, token: Token) -> None:
        if self.secrets.is_live(token.value):
            self.secrets.revoke(token.value)

    def _sync_secret_expiry(self, token: Token) -> None:
        secret = self.secrets.get(token.value)
        if secret is not None:
            secret.expires_at = token.expires_on

    def _roll(self, token: Token) -> str:
        """The old secret dies at once; id, name and policies stay. Assumption: ``modified_on``
        moves, ``issued_on`` does not."""
        self._revoke_value(token)
        self._issue_value(token)
        token.modified_on = _seconds(self.now())
        return token.value

    # ------------------------------------------------------------------ validation
    def _policies(self, raw: Any, scope: str, creating: bool) -> list[dict]:
        if not isinstance(raw, list) or not raw:
            raise invalid("policies: at least one policy is required")
        return [self._policy(item, scope, creating) for item in raw]

    def _policy(self, raw: Any, scope: str, creating: bool) -> dict:
        if not isinstance(raw, dict):
            raise invalid("policies: each policy must be an object")
        if creating and "id" in raw:
            raise invalid("Reusing existing policies is not supported by token creation")
        if raw.get("effect") not in ("allow", "deny"):
            raise invalid("policies.effect: must be 'allow' or 'deny'")
        groups = raw.get("permission_groups")
        if not isinstance(groups, list) or not groups:
            raise invalid("policies.permission_groups: at least one permission group is required")
        return {"id": uuid.uuid4().hex, "effect": raw["effect"],
                "permission_groups": [self._permission_group(g, scope) for g in groups],
                "resources": _resources(raw.get("resources"))}

    def _permission_group(self, raw: Any, scope: str) -> dict:
        wanted = raw.get("id") if isinstance(raw, dict) else None
        group = GROUPS_BY_ID.get(wanted) if isinstance(wanted, str) else None
        if group is None:
            raise invalid(f"policies.permission_groups: unknown permission group {raw!r}")
        if scope == "account" and group.scope == USER_SCOPE:
            raise invalid(f"permission group {group.name!r} cannot be granted to an account token")
        meta = raw.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise invalid("policies.permission_groups.meta: must be an object")
        return {"id": group.id, **({"meta": meta} if meta else {})}

    def _condition(self, raw: Any) -> dict | None:
        """Accept ``request_ip`` and the legacy ``request.ip``; store (and emit) ``request_ip``;
        empty lists are dropped and an empty condition means none."""
        if raw in (None, {}):
            return None
        if not isinstance(raw, dict) or set(raw) - {"request_ip", "request.ip"}:
            raise invalid("condition: only request_ip is supported")
        rule = raw.get("request_ip", raw.get("request.ip")) or {}
        if not isinstance(rule, dict) or set(rule) - {"in", "not_in"}:
            raise invalid("condition.request_ip: expected 'in' and/or 'not_in' lists")
        lists = {key: self._cidrs(rule[key], key) for key in ("in", "not_in") if rule.get(key)}
        return {"request_ip": lists} if lists else None

    def _cidrs(self, raw: Any, key: str) -> list[str]:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise invalid(f"condition.request_ip.{key}: must be a list of CIDR strings")
        try:
            networks = [ipaddress.ip_network(item, strict=False) for item in raw]
        except ValueError as exc:
            raise invalid(f"condition.request_ip.{key}: {exc}") from None
        if self.normalise_cidrs:
            return [str(n) for n in sorted(networks, key=lambda n: (n.version, n))]
        return list(raw)

    def _fields(self, body: dict, scope: str, current: Token | None) -> dict:
        """Validated mutable fields of a create (``current`` None) or a full-replacement PUT."""
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 120:
            raise invalid("name: required, at most 120 characters")
        fields = {"name": name,
                  "policies": self._policies(body.get("policies"), scope,
                                             creating=current is None),
                  "condition": self._condition(body.get("condition")),
                  "not_before": _time(body, "not_before"), "expires_on": _time(body, "expires_on")}
        self._check_dates(fields["not_before"], fields["expires_on"], current)
        if current is not None:
            fields["status"] = self._new_status(body.get("status"), current)
        return fields

    def _new_status(self, raw: Any, current: Token) -> str:
        """Only "active"/"disabled" can be set. Assumption: re-sending the status the token shows
        (e.g. "expired", which the server derives) or none keeps the current one."""
        if raw in ("active", "disabled"):
            return raw
        if raw is None or raw == self._status(current):
            return current.status
        raise invalid("status: must be 'active' or 'disabled'")

    def _check_dates(self, not_before: datetime | None, expires_on: datetime | None,
                     current: Token | None) -> None:
        """A past expiry is refused, except an update re-sending the one the token has."""
        unchanged = current is not None and expires_on == current.expires_on
        if expires_on is not None and expires_on <= self.now() and not unchanged:
            raise invalid("expires_on: must be in the future")
        if not_before and expires_on and not_before >= expires_on:
            raise invalid("not_before: must be before expires_on")

    # ------------------------------------------------------------------ auth
    def _presented_secret(self):
        """The live secret the request presents, if any (no other check)."""
        scheme, _ignored, value = (request.headers.get("Authorization") or "").partition(" ")
        return self.secrets.authenticate(self.name, value.strip()) \
            if scheme.lower() == "bearer" else None

    def _caller(self, verifying: bool = False) -> Token:
        """The live, active token behind ``Authorization: Bearer``; records its use."""
        header = request.headers.get("Authorization")
        if header is None:
            if "X-Auth-Key" in request.headers or "X-Auth-Email" in request.headers:
                # Token management is bearer-only; Assumption: 400, as the other header errors.
                raise ApiError(400, 1001, 'Missing "Authorization" header')
            raise ApiError(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        scheme, _ignored, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not TOKEN_SHAPE.fullmatch(value):
            raise ApiError(400, 6003, "Invalid request headers",
                           [(6111, "Invalid format for Authorization header")])
        secret = self.secrets.authenticate(self.name, value)
        if secret is not None and self.propagating(secret):
            raise ApiError(403, 10000, "Authentication error")
        token = self._tokens.get(secret.subject.get("token", "")) if secret else None
        if token is None or not self._usable(token):
            raise ApiError(401, *INVALID_TOKEN)
        self._check_location(token, verifying)
        token.last_used_on = _seconds(self.now())
        return token

    def _usable(self, token: Token) -> bool:
        """Assumption: disabled and not-yet-valid tokens are rejected like unknown ones."""
        return token.status == "active" and (token.not_before is None
                                             or token.not_before <= self.now())

    def _check_location(self, token: Token, verifying: bool = False) -> None:
        rule = (token.condition or {}).get("request_ip", {})
        address = ipaddress.ip_address(request.remote_addr or "0.0.0.0")

        def within(key: str) -> bool:
            return any(address in ipaddress.ip_network(c, strict=False) for c in rule.get(key, ()))

        if (rule.get("in") and not within("in")) or within("not_in"):
            if verifying and self.verify_location_refusal == 1000:
                raise ApiError(401, *INVALID_TOKEN)
            raise ApiError(403, 9109, f"Cannot use the access token from location: {address}")

    def _owner(self, account_id: str | None) -> None:
        """Assumption: a malformed account id does not route (404); another account is 403."""
        if account_id is None:
            return
        if not HEX32.fullmatch(account_id):
            raise self._not_found()
        if account_id != self.account_id:
            raise ApiError(403, *UNAUTHORIZED)

    def _authorized(self, right: str, account_id: str | None) -> Token:
        """The caller, if it may exercise ``right`` on the user's or the account's tokens. An
        account token acts only inside its own account. Resources are not checked (the sandbox
        has one user and one account)."""
        caller = self._caller()
        self._owner(account_id)
        if caller.account_id is not None and caller.account_id != account_id:
            raise ApiError(403, *UNAUTHORIZED)
        if f"{'account' if account_id else 'user'}.{right}" not in _granted(caller):
            raise ApiError(403, *UNAUTHORIZED)
        return caller

    def _target(self, token_id: str, account_id: str | None) -> Token:
        token = self._tokens.get(token_id)
        if token is None or token.account_id != account_id:
            raise self._not_found()
        return token

    def _not_found(self) -> ApiError:
        path = request.path[len(self.base_path):]
        return ApiError(404, 7003,
                        f"Could not route to {path}, perhaps your object identifier is invalid?")

    # ------------------------------------------------------------------ JSON
    def _status(self, token: Token) -> str:
        if token.status != EXPOSED and token.expires_on and token.expires_on <= self.now():
            return "expired"
        return token.status

    def _token_json(self, token: Token, reorder: bool | None = None) -> dict:
        body: dict[str, Any] = {"id": token.id, "name": token.name, "status": self._status(token),
                                "issued_on": isoformat_s(token.issued_on),
                                "modified_on": isoformat_s(token.modified_on)}
        body.update(_times(token, "last_used_on", "not_before", "expires_on"))
        body["policies"] = self._policies_json(token.policies, self.reorder_policies
                                               if reorder is None else reorder)
        if token.condition:
            body["condition"] = token.condition
        return body

    @staticmethod
    def _policies_json(policies: list[dict], reorder: bool) -> list[dict]:
        """Permission groups gain their catalogue name. Reordered reads reverse policies and
        groups and mint fresh policy ids, as an order-sensitive client must survive."""
        def groups(items: list[dict]) -> list[dict]:
            named = [{"id": g["id"], "name": GROUPS_BY_ID[g["id"]].name,
                      **({"meta": g["meta"]} if "meta" in g else {})} for g in items]
            return named[::-1] if reorder else named

        rendered = [{"id": uuid.uuid4().hex if reorder else p["id"], "effect": p["effect"],
                     "permission_groups": groups(p["permission_groups"]),
                     "resources": p["resources"]} for p in policies]
        return rendered[::-1] if reorder else rendered

    def ok(self, result: Any, messages: list | None = None,
           result_info: dict | None = None) -> Response:
        body = {"success": True, "errors": [], "messages": messages or [], "result": result}
        if result_info is not None:
            body["result_info"] = result_info
        return self.json(body)

    def _rate_policy_header(self) -> dict:
        limiter = self.rate_limiter
        return {"Ratelimit-Policy": f'"default";q={limiter.limit};w={math.ceil(limiter.window)}'} \
            if limiter else {}

    # ------------------------------------------------------------------ routes
    def routes(self, app: Flask) -> None:
        app.register_error_handler(ApiError, self._api_error)
        app.register_error_handler(HTTPException, self._http_error)
        app.register_error_handler(Exception, lambda exc: self.error(500, "Internal server error"))
        app.after_request(self._add_rate_policy)
        rules = [
            ("", "GET", self.list_tokens), ("", "POST", self.create_token),
            ("/verify", "GET", self.verify_token),
            ("/permission_groups", "GET", self.permission_groups),
            ("/<token_id>", "GET", self.get_token), ("/<token_id>", "PUT", self.update_token),
            ("/<token_id>", "DELETE", self.delete_token),
            ("/<token_id>/value", "PUT", self.roll_token),
        ]
        for prefix in ("/user/tokens", "/accounts/<account_id>/tokens"):
            for suffix, method, view in rules:
                path = self.base_path + prefix + suffix
                app.add_url_rule(path, f"{method} {path}", view, methods=[method])

    def _api_error(self, exc: ApiError) -> Response:
        return self.error(exc.status, exc.message, code=exc.code, chain=exc.chain)

    def _http_error(self, exc: HTTPException) -> Response:
        if isinstance(exc, NotFound):
            return self.error(404, "No route for that URI", code=7000)
        if isinstance(exc, MethodNotAllowed):   # Assumption: code 7001
            allow = ", ".join(sorted(exc.valid_methods or []))
            return self.error(405, "Method not allowed", {"Allow": allow}, code=7001)
        return self.error(exc.code or 500, exc.name)

    def _add_rate_policy(self, response: Response) -> Response:
        response.headers.update(self._rate_policy_header())
        return response

    # ------------------------------------------------------------------ views
    def list_tokens(self, account_id: str | None = None) -> Response:
        """Oldest first (Assumption) unless ``direction=desc``; expired hidden by default."""
        caller = self._authorized("list", account_id)
        page, per_page = _int_arg("page", 1, 1, None), _int_arg("per_page", 20, 5, 50)
        per_page = self.served(per_page)
        direction = request.args.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise invalid("direction: must be 'asc' or 'desc'")
        include_expired = _bool_arg("include_expired")
        owned = sorted((t for t in self._tokens.values() if t.account_id == account_id
                        and self._listed(t, include_expired)
                        and (caller.id not in self.list_self_only or t.created_by == caller.id)),
                       key=lambda t: (t.issued_on, t.id), reverse=direction == "desc")
        shown = owned[(page - 1) * per_page:page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(shown),
                "total_count": len(owned), "total_pages": math.ceil(len(owned) / per_page)}
        return self.ok([self._token_json(t) for t in shown], result_info=info)

    def _listed(self, token: Token, include_expired: bool) -> bool:
        """Unexpired tokens; with ``include_expired``, recently expired ones too."""
        if self._status(token) != "expired":
            return True
        window = self.expired_listing_window
        return include_expired and (window is None or token.expires_on > self.now() - window)

    def create_token(self, account_id: str | None = None) -> Response:
        caller = self._authorized("create", account_id)
        scope = "account" if account_id else "user"
        fields = self._fields(_json_body(), scope, current=None)
        if self.drop_last_policy_on_create and len(fields["policies"]) > 1:
            fields["policies"] = fields["policies"][:-1]
        quota = self.account_token_quota if account_id else self.user_token_quota
        if sum(t.account_id == account_id for t in self._tokens.values()) >= quota:
            # Assumption: the code and wording are undocumented.
            raise invalid(f"Exceeded the maximum number of {scope} API tokens ({quota})")
        now = _seconds(self.now())
        token = Token(id=uuid.uuid4().hex, account_id=account_id, issued_on=now, modified_on=now,
                      created_by=caller.id, **fields)
        self._tokens[token.id] = token
        self._issue_value(token)
        return self.ok({**self._token_json(token), "value": token.value})

    def get_token(self, token_id: str, account_id: str | None = None) -> Response:
        self._authorized("read", account_id)
        return self.ok(self._token_json(self._target(token_id, account_id)))

    def update_token(self, token_id: str, account_id: str | None = None) -> Response:
        """Full replacement: an absent condition or date clears it (Assumption); an absent
        status keeps the current one (SDK 5 makes it optional)."""
        self._authorized("update", account_id)
        token = self._target(token_id, account_id)
        fields = self._fields(_json_body(), "account" if account_id else "user", current=token)
        for key, value in fields.items():
            setattr(token, key, value)
        token.modified_on = _seconds(self.now())
        self._sync_secret_expiry(token)
        return self.ok(self._token_json(token))

    def delete_token(self, token_id: str, account_id: str | None = None) -> Response:
        self._authorized("delete", account_id)
        token = self._target(token_id, account_id)
        self._revoke_value(token)
        del self._tokens[token.id]
        return self.ok({"id": token.id})

    def roll_token(self, token_id: str, account_id: str | None = None) -> Response:
        """Any body (none, ``{}``, other) is ignored; the result is the bare new secret."""
        self._authorized("update", account_id)
        return self.ok(self._roll(self._target(token_id, account_id)))

    def verify_token(self, account_id: str | None = None) -> Response:
        """Authenticates as the presented token. An account-owned token on the user path gets
        ``account_token_user_verify_status`` (401 code 1000 "Invalid API Token", as a bad token
        does); a user token on an account path 403."""
        if self.transient_verify_errors > 0 and self._presented_secret() is not None:
            self.transient_verify_errors -= 1
            raise ApiError(403, 10000, "Authentication error")
        token = self._caller(verifying=True)
        self._owner(account_id)
        if account_id is None and token.account_id is not None:
            status = self.account_token_user_verify_status
            raise ApiError(status, *(INVALID_TOKEN if status == 401 else UNAUTHORIZED))
        if token.account_id != account_id:
            raise ApiError(403, *UNAUTHORIZED)
        if token.unpropagated_verifies > 0:
            token.unpropagated_verifies -= 1
            raise ApiError(403, 10000, "Authentication error")
        result = {"id": token.id, "status": self._status(token),
                  **_times(token, "expires_on", "not_before")}
        message = {"code": 10000, "message": "This API Token is valid and active", "type": None}
        return self.ok(result, messages=[message])

    def permission_groups(self, account_id: str | None = None) -> Response:
        """Not paginated; ``name`` (exact) and ``scope`` filters. Account tokens cannot hold
        user-level groups, so the account catalogue omits them."""
        self._authorized("read", account_id)
        name, scope = request.args.get("name"), request.args.get("scope")
        groups = [g.json() for g in CATALOGUE
                  if not (account_id and g.scope == USER_SCOPE)
                  and name in (None, g.name) and scope in (None, g.scope)]
        return self.ok(groups)


# ------------------------------------------------------------------------------ helpers
def _granted(token: Token) -> set[str]:
    """Rights of every allow policy, minus those a deny policy names."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for item in token.policies:
        rights = {r for g in item["permission_groups"] for r in GROUPS_BY_ID[g["id"]].grants}
        (allowed if item["effect"] == "allow" else denied).update(rights)
    return allowed - denied


def _times(token: Token, *keys: str) -> dict:
    """The optional timestamps that are set, formatted for the wire; unset ones are omitted."""
    return {key: isoformat_s(getattr(token, key)) for key in keys if getattr(token, key)}


def _resources(raw: Any) -> dict:
    """A flat ``{key: "*"}`` map or a nested ``{account key: {key: "*"}}`` one."""
    def valid(value: Any) -> bool:
        return isinstance(value, str) or (
            isinstance(value, dict) and bool(value)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()))

    if not isinstance(raw, dict) or not raw or not all(valid(v) for v in raw.values()):
        raise invalid("policies.resources: must be a non-empty map of resource keys")
    return raw


def _time(body: dict, key: str) -> datetime | None:
    raw = body.get(key)
    if raw is None:
        return None
    try:
        if isinstance(raw, str):
            return _seconds(parse_time(raw))
    except ValueError:
        pass
    raise invalid(f"{key}: must be an RFC 3339 date-time")


def _json_body() -> dict:
    """The request's JSON object; an empty body counts as ``{}``."""
    if not request.get_data():
        return {}
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise ApiError(400, 6007, "Malformed JSON in request body")
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    return body


def _int_arg(name: str, default: int, low: int, high: int | None) -> int:
    """Integers; the SDK may send floats like ``5.0`` (its params are typed float)."""
    raw = request.args.get(name)
    try:
        value = default if raw is None else float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise invalid(f"{name}: must be an integer")
    if value < low or (high is not None and value > high):
        raise invalid(f"{name}: must be between {low} and {high}" if high
                      else f"{name}: must be at least {low}")
    return int(value)


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise invalid(f"{name}: must be true or false")
    return raw in ("true", "1")
