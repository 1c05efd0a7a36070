"""Fake PactFlow: the current user's two API tokens, and system accounts with theirs.

Follows ``api/pactflow.md``. Each principal (user or system account) owns exactly two tokens,
told apart only by their description; tokens cannot be created or deleted, only regenerated
(a new value under the same uuid, the old value dead at once). Every response is
``application/hal+json;charset=utf-8``. Choices the contract leaves open are marked "Assumption".
"""
from __future__ import annotations

import math
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .core import Platform, Secret, days_ago, isoformat_s, random_token, utcnow

HAL = "application/hal+json;charset=utf-8"
READ_ONLY, READ_WRITE, NAMED = "read-only", "read-write", "named"
DESCRIPTIONS = {READ_ONLY: "Read only token (developer)", READ_WRITE: "Read/write token (CI)",
                NAMED: "Named token (release pipeline)"}   # NAMED: the unrecognised extra item
USER, SYSTEM_ACCOUNT = 0, 1
TYPE_DESCRIPTIONS = {USER: "User", SYSTEM_ACCOUNT: "System Account"}
ROLE_NAMES = {"admin": "Administrator", "user": "User", "viewer": "Viewer"}
URLSAFE = string.ascii_letters + string.digits + "-_"

UNAUTHORIZED = "Unauthorized: a valid API token is required"
READ_ONLY_REFUSED = "Unauthorized: a read/write API token is required for this action"
ACCESS_DENIED = "Access denied: you do not have permission to perform this action"


class ApiError(Exception):
    """Abort a view: ``message`` gives ``{"error": {"message"}}``, ``errors`` the keyed shape."""

    def __init__(self, status: int, message: str = "", errors: dict | None = None) -> None:
        super().__init__(status)
        self.status, self.message, self.errors = status, message, errors


@dataclass
class Token:
    uuid: str
    kind: str                        # READ_ONLY, READ_WRITE or NAMED
    principal_uuid: str
    created_at: datetime             # not on the wire: the sandbox's record of the value's age
    value: str = field(default="", repr=False)

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]


@dataclass
class Principal:
    uuid: str
    name: str
    type: int                        # USER or SYSTEM_ACCOUNT
    role: str                        # a key of ROLE_NAMES
    email: str | None
    created_at: datetime
    active: bool = True
    token_ids: dict[str, str] = field(default_factory=dict)     # kind -> token uuid


class PactFlow(Platform):
    """One PactFlow account. Auth is ``Authorization: Bearer <token value>``.

    Switches (instance attributes; ``reset()`` restores these class defaults):
    ``include_values`` (False: token lists omit ``value``), ``extra_item`` (lists carry a third,
    unrecognised token), ``extra_fields`` (token objects carry undocumented fields),
    ``reverse_items`` (read-write listed first), ``read_only_may_regenerate_itself`` (False, as
    the service: a read-only token's every non-GET request is 401; True: it may regenerate itself),
    ``token_lifetime`` (the global "API token expiration" preference, applied when a value is
    issued), ``token_id_style`` ("uuid" or "short": 22-char URL-safe ids), ``send_retry_after``.
    """

    name = "pactflow"
    base_path = ""                   # the account's own host root
    content_type = HAL
    include_values = True
    extra_item = False
    extra_fields = False
    reverse_items = False
    read_only_may_regenerate_itself = False     # True: the contract's earlier assumption
    token_lifetime: timedelta | None = None
    token_id_style = "uuid"
    send_retry_after = True
    SWITCHES = ("include_values", "extra_item", "extra_fields", "reverse_items",
                "read_only_may_regenerate_itself", "token_lifetime", "token_id_style",
                "send_retry_after",
                "propagation_lag")

    # ------------------------------------------------------------------ platform hooks
    def setup(self) -> str:
        self.principals: dict[str, Principal] = {}
        self._tokens: dict[str, Token] = {}
        self.role_uuids = {role: str(uuid.uuid4()) for role in ROLE_NAMES}
        self.admin_uuid = self.add_user("Sandbox Admin", email="admin@sandbox.invalid",
                                        role="admin")
        return self._token_of(self.admin_uuid, READ_WRITE).value

    def error(self, status: int, message: str, headers: dict | None = None) -> Response:
        return self.json({"error": {"message": message}}, status, headers)

    def rate_limited(self, retry_after: float) -> Response:
        # Assumption: the contract documents no 429; the same error body plus Retry-After.
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} \
            if self.send_retry_after else {}
        return self.error(429, "Too many requests", headers)

    def seed_demo(self) -> None:
        self.set_token_created_at(self._token_of(self.admin_uuid, READ_ONLY).uuid, days_ago(120))
        self.add_user("Alice Developer", email="alice@example.com", token_created_at=days_ago(120))
        self.add_user("Victor Viewer", email="victor@example.com", role="viewer",
                      token_created_at=days_ago(30))
        self.add_system_account("ci-publisher", token_created_at=days_ago(200))
        self.add_system_account("contract-bot", token_created_at=days_ago(5))

    def reset(self) -> str:
        """Revoke every token, forget all state and per-instance switches; return a new admin
        credential (also stored in ``admin_token``). Lets one running sandbox serve many tests."""
        for token in self._tokens.values():
            if self.secrets.is_live(token.value):
                self.secrets.revoke(token.value)
        for switch in self.SWITCHES:
            self.__dict__.pop(switch, None)
        self.reset_generic_switches()     # back to the class defaults
        self.rate_limiter = None
        self.admin_token = self.setup()
        return self.admin_token

    # ------------------------------------------------------------------ seeding helpers
    def add_user(self, name: str, email: str | None = None, role: str = "user",
                 created_at: datetime | None = None, token_created_at: datetime | None = None,
                 expires_at: datetime | None = None) -> str:
        """A user with its provisioned tokens; return its uuid. ``role``: "admin" (may use the
        admin routes), "user", or "viewer" (only a read-only token). ``token_created_at`` backdates
        the token values; ``expires_at`` makes them expire (past: already expired, 401)."""
        if role not in ROLE_NAMES:
            raise ValueError(f"unknown role {role!r}")
        kinds = (READ_ONLY,) if role == "viewer" else (READ_ONLY, READ_WRITE)
        return self._add_principal(name, USER, role, email, created_at, kinds,
                                   token_created_at, expires_at)

    def add_system_account(self, name: str, active: bool = True,
                           created_at: datetime | None = None,
                           token_created_at: datetime | None = None,
                           expires_at: datetime | None = None) -> str:
        """A system account with its two tokens; return its uuid. An inactive account's token
        values are revoked (Assumption: they stop working with the account)."""
        account_uuid = self._add_principal(name, SYSTEM_ACCOUNT, "user", None, created_at,
                                           (READ_ONLY, READ_WRITE), token_created_at, expires_at)
        if not active:
            self._deactivate(self.principals[account_uuid])
        return account_uuid

    def add_system_accounts(self, count: int, prefix: str = "bulk-sa") -> list[str]:
        """``count`` system accounts named ``<prefix>-000``...; return their uuids."""
        return [self.add_system_account(f"{prefix}-{index:03d}") for index in range(count)]

    def principal(self, principal_uuid: str) -> Principal | None:
        """The user or system account record, or None."""
        return self.principals.get(principal_uuid)

    def token_by_id(self, token_uuid: str) -> dict | None:
        """``{uuid, description, value, type, principal, created_at, expires_at}`` or None."""
        token = self._tokens.get(token_uuid)
        return self._token_record(token) if token else None

    def token_by_type(self, kind: str, principal_uuid: str | None = None) -> dict | None:
        """The "read-only" or "read-write" token of a principal (default: the admin user)."""
        token_uuid = self.principals[principal_uuid or self.admin_uuid].token_ids.get(kind)
        return self.token_by_id(token_uuid) if token_uuid else None

    def tokens(self, principal_uuid: str | None = None) -> list[dict]:
        """Every token of one principal, or of the whole account when None."""
        return [self._token_record(token) for token in self._tokens.values()
                if principal_uuid in (None, token.principal_uuid)]

    def regenerate(self, token_uuid: str) -> str:
        """Regenerate directly (no HTTP), as the UI does; return the new value."""
        return self._regenerate(self._tokens[token_uuid]).value

    def set_token_created_at(self, token_uuid: str, created_at: datetime) -> None:
        """Backdate a token's current value (its age is not on the wire)."""
        token = self._tokens[token_uuid]
        token.created_at = created_at
        self._secret_of(token).issued_at = created_at

    def expire_token(self, token_uuid: str, at: datetime | None = None) -> None:
        """Make a token's current value expire at ``at`` (default: it has just expired)."""
        self._secret_of(self._tokens[token_uuid]).expires_at = \
            at or utcnow() - timedelta(seconds=1)

    # ------------------------------------------------------------------ state changes
    def _add_principal(self, name: str, principal_type: int, role: str, email: str | None,
                       created_at: datetime | None, kinds: tuple[str, ...],
                       token_created_at: datetime | None, expires_at: datetime | None) -> str:
        created_at = created_at or utcnow()
        principal = Principal(str(uuid.uuid4()), name, principal_type, role, email, created_at)
        self.principals[principal.uuid] = principal
        for kind in kinds:
            self._provision(principal, kind, token_created_at or created_at, expires_at)
        return principal.uuid

    def _provision(self, principal: Principal, kind: str, created_at: datetime | None = None,
                   expires_at: datetime | None = None) -> Token:
        token = Token(self._new_token_id(), kind, principal.uuid, created_at or utcnow())
        self._tokens[token.uuid] = token
        principal.token_ids[kind] = token.uuid
        self._issue_value(token, expires_at)
        return token

    def _new_token_id(self) -> str:
        return random_token(22, URLSAFE) if self.token_id_style == "short" else str(uuid.uuid4())

    def _issue_value(self, token: Token, expires_at: datetime | None = None) -> None:
        if expires_at is None and self.token_lifetime is not None:
            expires_at = token.created_at + self.token_lifetime
        subject = {"principal": token.principal_uuid, "token": token.uuid, "type": token.kind}
        token.value = self.secrets.issue(self.name, token.kind, subject,
                                         value=random_token(22, URLSAFE),
                                         issued_at=token.created_at, expires_at=expires_at).value

    def _regenerate(self, token: Token) -> Token:
        """No overlap: the old value is dead before the new one exists."""
        if self.secrets.is_live(token.value):
            self.secrets.revoke(token.value)
        token.created_at = utcnow()
        self._issue_value(token)
        return token

    def _deactivate(self, principal: Principal) -> None:
        principal.active = False
        for token_uuid in principal.token_ids.values():
            self.secrets.revoke(self._tokens[token_uuid].value)

    def _token_of(self, principal_uuid: str, kind: str) -> Token:
        return self._tokens[self.principals[principal_uuid].token_ids[kind]]

    def _secret_of(self, token: Token) -> Secret:
        secret = self.secrets.get(token.value)
        assert secret is not None, "every token value is issued through the registry"
        return secret

    def _listed_tokens(self, principal: Principal) -> list[Token]:
        """What a token list shows: read-only then read-write, those the principal has."""
        if self.extra_item and NAMED not in principal.token_ids:
            self._provision(principal, NAMED)
        kinds = (READ_ONLY, READ_WRITE) + ((NAMED,) if self.extra_item else ())
        listed = [self._tokens[principal.token_ids[kind]] for kind in kinds
                  if kind in principal.token_ids]
        return listed[::-1] if self.reverse_items else listed

    # ------------------------------------------------------------------ JSON
    def _token_record(self, token: Token) -> dict:
        secret = self.secrets.get(token.value)
        return {"uuid": token.uuid, "description": token.description, "value": token.value,
                "type": token.kind, "principal": token.principal_uuid,
                "created_at": token.created_at, "expires_at": secret and secret.expires_at}

    def _token_json(self, token: Token, with_value: bool = True) -> dict:
        body = {"uuid": token.uuid, "description": token.description}
        if with_value:
            body["value"] = token.value
        if self.extra_fields:    # undocumented fields a client must ignore
            body["createdAt"] = isoformat_s(token.created_at)
            body["lastUsedAt"] = None
        return body

    def _token_list_json(self, tokens: list[Token], self_path: str) -> dict:
        items = [self._token_json(token, self.include_values) for token in tokens]
        return {"_embedded": {"items": items}, "_links": {"self": {"href": _href(self_path)}}}

    def _user_json(self, principal: Principal) -> dict:
        """Field names per TF-MODEL; Assumption: second-precision ``Z`` timestamps."""
        role = {"uuid": self.role_uuids[principal.role], "name": ROLE_NAMES[principal.role]}
        return {
            "uuid": principal.uuid, "name": principal.name, "email": principal.email,
            "active": principal.active, "type": principal.type,
            "typeDescription": TYPE_DESCRIPTIONS[principal.type],
            "createdAt": isoformat_s(principal.created_at),
            "updatedAt": isoformat_s(principal.created_at),
            "lastLogin": None, "identityProviderId": None,
            "_embedded": {"roles": [role], "teams": []},
            "_links": {"self": {"href": _href(f"/admin/users/{principal.uuid}")}},
        }

    # ------------------------------------------------------------------ routes
    def routes(self, app: Flask) -> None:
        app.register_error_handler(ApiError, self._api_error)
        app.register_error_handler(HTTPException, self._http_error)
        app.register_error_handler(Exception, lambda exc: self.error(500, "Internal server error"))
        app.before_request(self._refuse_read_only_writes)
        rules = [
            ("/", "GET", self.index),
            ("/settings/tokens", "GET", self.list_tokens),
            ("/settings/tokens/<token_uuid>/regenerate", "POST", self.regenerate_token),
            ("/user", "GET", self.current_user),
            ("/admin/system-accounts", "POST", self.create_system_account),
            ("/admin/system-accounts/<account_uuid>/tokens", "GET", self.system_account_tokens),
            ("/admin/users/<user_uuid>", "GET", self.get_user),
        ]
        for path, method, view in rules:
            app.add_url_rule(path, f"{method} {path}", view, methods=[method])

    def _api_error(self, exc: ApiError) -> Response:
        if exc.errors is not None:
            return self.json({"errors": exc.errors}, exc.status)
        return self.error(exc.status, exc.message)

    def _http_error(self, exc: HTTPException) -> Response:
        headers = {}
        if isinstance(exc, MethodNotAllowed):
            headers["Allow"] = ", ".join(sorted(exc.valid_methods or []))
        return self.error(exc.code or 500, exc.name, headers)

    # ------------------------------------------------------------------ auth
    def _caller(self) -> tuple[Principal, Token]:
        """The principal and token behind ``Authorization: Bearer``; expired or revoked: 401."""
        scheme, _ignored, value = request.headers.get("Authorization", "").partition(" ")
        secret = self.authenticate(value.strip()) \
            if scheme.lower() == "bearer" else None
        token = self._tokens.get(secret.subject.get("token", "")) if secret else None
        if secret is None or token is None or token.value != secret.value:
            raise ApiError(401, UNAUTHORIZED)
        return self.principals[token.principal_uuid], token

    def _refuse_read_only_writes(self) -> None:
        """A read-write token is required for every request but GET (SmartBear, "PactFlow
        authentication and authorization"): a read-only token is refused before routing, so it
        cannot regenerate any token, not even itself (unless the legacy switch allows that)."""
        if request.method in ("GET", "HEAD") or self.read_only_may_regenerate_itself:
            return
        _principal, token = self._caller()
        if token.kind != READ_WRITE:
            raise ApiError(401, READ_ONLY_REFUSED)

    def _admin(self) -> Principal:
        """Assumption: a read-only token on an admin route is a 401 (as for any write); a
        read-write token of a non-administrator is a 403."""
        principal, token = self._caller()
        if token.kind != READ_WRITE:
            raise ApiError(401, READ_ONLY_REFUSED)
        if principal.role != "admin":
            raise ApiError(403, ACCESS_DENIED)
        return principal

    def _may_regenerate(self, caller_token: Token, target: Token) -> bool:
        """A read-write token regenerates either token of its principal. Assumption: any other
        token regenerates only itself (a Viewer's only token), unless the switch forbids it."""
        if caller_token.kind == READ_WRITE:
            return True
        return self.read_only_may_regenerate_itself and caller_token.uuid == target.uuid

    # ------------------------------------------------------------------ views
    def index(self) -> Response:
        self._caller()
        return self.json({"_links": {
            "self": {"href": _href("/"), "title": "Index"},
            "pb:api-tokens": {"href": _href("/settings/tokens"), "title": "API tokens"},
        }})

    def list_tokens(self) -> Response:
        principal, _ignored = self._caller()
        return self.json(self._token_list_json(self._listed_tokens(principal), "/settings/tokens"))

    def regenerate_token(self, token_uuid: str) -> Response:
        """Assumption: the body (none, ``{}``, anything) is ignored; unknown uuid: 404."""
        principal, caller_token = self._caller()
        target = self._tokens.get(token_uuid)
        if target is None or target.principal_uuid != principal.uuid:
            raise ApiError(404, f"No API token with uuid {token_uuid!r} for the current user")
        if not self._may_regenerate(caller_token, target):
            raise ApiError(401, READ_ONLY_REFUSED)
        body = self._token_json(self._regenerate(target))
        body["_links"] = {"self": {"href": _href(f"/settings/tokens/{target.uuid}")}}
        return self.json(body, 201)

    def current_user(self) -> Response:
        principal, _ignored = self._caller()
        return self.json(self._user_json(principal))

    def get_user(self, user_uuid: str) -> Response:
        self._admin()
        principal = self.principals.get(user_uuid)
        if principal is None:
            raise ApiError(404, f"No user with uuid {user_uuid!r}")
        return self.json(self._user_json(principal))

    def system_account_tokens(self, account_uuid: str) -> Response:
        """Assumption: the same HAL list as /settings/tokens; a user's uuid is a 404."""
        self._admin()
        account = self.principals.get(account_uuid)
        if account is None or account.type != SYSTEM_ACCOUNT:
            raise ApiError(404, f"No system account with uuid {account_uuid!r}")
        return self.json(self._token_list_json(self._listed_tokens(account),
                                               f"/admin/system-accounts/{account.uuid}/tokens"))

    def create_system_account(self) -> Response:
        """201 + ``Location``; the body (Assumption) is the account as /admin/users shows it."""
        self._admin()
        name, active = _system_account_fields(request.get_json(silent=True))
        account_uuid = self.add_system_account(name.strip(), active=active)
        location = _href(f"/admin/system-accounts/{account_uuid}")
        return self.json(self._user_json(self.principals[account_uuid]), 201,
                         {"Location": location})


def _href(path: str) -> str:
    """An absolute link on the host the client called, as HAL documents carry them."""
    return request.host_url.rstrip("/") + path


def _system_account_fields(body: object) -> tuple[str, bool]:
    """Validate a create body (TF sends name, active, type=1); errors use the keyed shape."""
    if not isinstance(body, dict):
        raise ApiError(400, errors={"base": ["request body must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    name, active, kind = body.get("name"), body.get("active", True), body.get("type", 1)
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["can't be blank"]
    if not isinstance(active, bool):
        errors["active"] = ["must be true or false"]
    if isinstance(kind, bool) or kind != SYSTEM_ACCOUNT:
        errors["type"] = ["must be 1 (system account)"]
    if errors:
        raise ApiError(400, errors=errors)
    return name, active
