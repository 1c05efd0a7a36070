"""Fake CloudTruth Management API: service accounts, their API keys, memberships and users.

Follows ``api/cloudtruth.md``. Django REST Framework conventions throughout: ``{"detail": ...}``
errors, ``{"<field>": [...]}`` validation errors, page/page_size pagination with absolute links,
trailing slashes on every path. Choices the contract leaves open are marked "Assumption".
"""
from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from .core import Platform, days_ago, parse_time, random_token, utcnow

API = "/api/v1"
ROLES = ("VIEWER", "CONTRIB", "ADMIN", "OWNER")      # ascending privilege: rank = index
VIEWER, CONTRIB, ADMIN, OWNER = range(4)
NO_ROLE = -1
ORDERING_FIELDS = ("id", "name", "role", "type", "created_at", "modified_at", "last_used_at")
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

NOT_FOUND = "Not found."
NO_PERMISSION = "You do not have permission to perform this action."
BAD_CREDENTIALS = "Incorrect authentication credentials."
NO_CREDENTIALS = "Authentication credentials were not provided."
NON_FIELD = "__all__"      # the key the CLI sees for non-field 400s
BAD_DATETIME = ("Datetime has wrong format. Use one of these formats instead: "
                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")


def isoformat_us(value: datetime | None) -> str | None:
    """DRF's default: ``2024-05-01T10:00:00.123456Z``."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    """Abort a view with a DRF-style body; a string becomes ``{"detail": ...}``."""

    def __init__(self, status: int, body: str | dict, headers: dict | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = {"detail": body} if isinstance(body, str) else body
        self.headers = headers or {}


@dataclass
class User:
    id: str
    type: str                      # "interactive" or "service"
    name: str | None
    email: str | None
    created_at: datetime
    modified_at: datetime | None = None
    membership_id: str | None = None


@dataclass
class Membership:
    id: str
    user_id: str
    role: str
    created_at: datetime
    modified_at: datetime | None = None


@dataclass
class ApiKey:
    prefix: str
    value: str = field(repr=False)   # kept only to revoke the key through the registry
    created: datetime
    name: str = ""
    expiry_date: datetime | None = None
    revoked: bool = False

    def has_expired(self, now: datetime) -> bool:
        return self.expiry_date is not None and self.expiry_date <= now


@dataclass
class ServiceAccount:
    id: str
    user: User | None               # None: the "service account without a user" the CLI tolerates
    description: str
    created_at: datetime
    modified_at: datetime | None = None
    last_used_at: datetime | None = None
    owner_id: str | None = None
    created_by: str | None = None
    keys: list[ApiKey] = field(default_factory=list)

    def usable_keys(self, now: datetime) -> list[ApiKey]:
        return [key for key in self.keys if not key.revoked and not key.has_expired(now)]


class CloudTruth(Platform):
    """One organization. Auth is ``Authorization: Api-Key <key>``.

    Switches: ``auth_failure_status`` (401, or 403 as DRF sends without WWW-Authenticate),
    ``send_retry_after`` on 429s, ``default_page_size`` and ``max_page_size``;
    ``rekey_returns_key`` (False: the rekey answers only ``{expire_at}``, the one public schema
    of its 200 body, so the new key reaches nobody); ``null_expire_at_means_never`` (True: a rekey
    with ``expire_at`` null or absent leaves the previous key working with no expiry, as
    ``expiry_date: null`` means elsewhere in the spec); ``bodies_2021`` (True: user objects
    carry neither ``role`` nor ``membership_id``, as servers from 2021 send them).
    """

    name = "cloudtruth"
    #: Assumption: CloudTruth publishes no number (its 429 is Django REST framework's throttle);
    #: 10 requests per second per key
    published_rate_limit = (10, 1.0)
    base_path = ""                  # clients get the host root; paths start with /api/v1/
    auth_failure_status = 401
    send_retry_after = True
    default_page_size = 100         # Assumption: the real default is undocumented
    max_page_size = 1000
    rekey_returns_key = True
    null_expire_at_means_never = False
    bodies_2021 = False
    SWITCHES = ("auth_failure_status", "send_retry_after", "default_page_size", "max_page_size",
                "rekey_returns_key", "null_expire_at_means_never", "bodies_2021",
                "propagation_lag")

    # ------------------------------------------------------------------ platform hooks
    def setup(self) -> str:
        self.org_id = str(uuid.uuid4())
        self.org_name = "Sandbox Org"
        self.users: dict[str, User] = {}
        self.memberships: dict[str, Membership] = {}
        self.service_accounts: dict[str, ServiceAccount] = {}
        # Assumption: the admin key acts as an interactive OWNER (the UI user), so the service
        # account list starts empty.
        self.admin_user_id = self.add_user("sandbox-owner", role="OWNER",
                                           email="owner@sandbox.invalid")
        return self.secrets.issue(self.name, "admin", {"user_id": self.admin_user_id},
                                  value=self._new_key_value()[1]).value

    def error(self, status: int, message: str, headers: dict | None = None) -> Response:
        return self.json({"detail": message}, status, headers)

    def rate_limited(self, retry_after: float) -> Response:
        wait = max(1, math.ceil(retry_after))
        headers = {"Retry-After": str(wait)} if self.send_retry_after else {}
        unit = "second" if wait == 1 else "seconds"
        return self.error(429, f"Request was throttled. Expected available in {wait} {unit}.",
                          headers)

    def seed_demo(self) -> None:
        self.add_user("alice", role="ADMIN", email="alice@example.com")
        self.add_service_account("ci-deployer", role="CONTRIB", description="Deploy pipeline",
                                 created_at=days_ago(120))
        self.add_service_account("nightly-backup", description="Backup job",
                                 created_at=days_ago(200), key_created=days_ago(95))
        self.add_service_account("grafana-reader", description="Dashboards",
                                 created_at=days_ago(5))
        self.add_service_account("release-bot", role="ADMIN", created_at=days_ago(30),
                                 key_expires_at=utcnow() + timedelta(days=20))

    # ------------------------------------------------------------------ seeding helpers
    def reset(self) -> str:
        """Revoke every key, forget all state and per-instance switches; return a new admin
        credential (also stored in ``admin_token``). Lets one running sandbox serve many tests."""
        for account in self.accounts():
            self._retire_keys(account, None)
        self.secrets.revoke(self.admin_token)
        for switch in self.SWITCHES:
            self.__dict__.pop(switch, None)
        self.reset_generic_switches()     # back to the class defaults
        self.rate_limiter = None
        self.admin_token = self.setup()
        return self.admin_token

    def add_user(self, name: str, role: str | None = "VIEWER", email: str | None = None,
                 created_at: datetime | None = None) -> str:
        """Add an interactive member (role None: no membership); return its id."""
        user = User(self._new_user_id(), "interactive", name, email, created_at or utcnow())
        self._register_user(user, role)
        return user.id

    def add_service_account(self, name: str, role: str = "VIEWER", description: str = "",
                            created_at: datetime | None = None,
                            key_created: datetime | None = None,
                            key_expires_at: datetime | None = None,
                            owner: str | None = None) -> tuple[str, str]:
        """Add a service account with one live key; return ``(id, apikey)``.

        ``key_created`` defaults to ``created_at``; ``key_expires_at`` makes the key expire (a
        past value gives an already expired key, answered with 401); ``owner`` is a user id.
        """
        created_at = created_at or utcnow()
        account = self._new_account(name, role, description, created_at, owner, None)
        return account.id, self._issue_key(account, key_created or created_at, key_expires_at)

    def add_service_accounts(self, count: int, prefix: str = "bulk-sa",
                             role: str = "VIEWER") -> list[tuple[str, str]]:
        """Add ``count`` accounts named ``<prefix>-000``...; return their ``(id, apikey)``."""
        return [self.add_service_account(f"{prefix}-{index:03d}", role=role)
                for index in range(count)]

    def add_userless_service_account(self, description: str = "",
                                     created_at: datetime | None = None) -> str:
        """Add a service account whose ``user`` is null (no key, no membership); return its id."""
        account = ServiceAccount(self._new_user_id(), None, description, created_at or utcnow())
        account.modified_at = account.created_at
        self.service_accounts[account.id] = account
        return account.id

    def account(self, account_id: str) -> ServiceAccount | None:
        """The service account record (``.user``, ``.keys``, ``.description``...), or None."""
        return self.service_accounts.get(account_id)

    def accounts(self) -> list[ServiceAccount]:
        """Every service account, in creation order."""
        return list(self.service_accounts.values())

    def account_by_name(self, name: str) -> ServiceAccount | None:
        """The first service account whose user is called ``name``, or None."""
        return next((a for a in self.service_accounts.values()
                     if a.user is not None and a.user.name == name), None)

    def role_of(self, user_id: str) -> str | None:
        """The organization role of a user or service account (None: no membership)."""
        user = self.users.get(user_id)
        membership = self.memberships.get(user.membership_id or "") if user else None
        return membership.role if membership else None

    def set_role(self, user_id: str, role: str) -> None:
        """Change a member's role directly."""
        membership = self.memberships[self.users[user_id].membership_id or ""]
        membership.role, membership.modified_at = role, utcnow()

    # ------------------------------------------------------------------ state changes
    def _new_user_id(self) -> str:
        return f"auth0|{random_token(24, '0123456789abcdef')}"

    def _register_user(self, user: User, role: str | None) -> None:
        user.modified_at = user.created_at
        self.users[user.id] = user
        if role is not None:
            self._add_membership(user, role, user.created_at)

    def _add_membership(self, user: User, role: str, at: datetime) -> Membership:
        membership = Membership(str(uuid.uuid4()), user.id, role, at, at)
        self.memberships[membership.id] = membership
        user.membership_id = membership.id
        return membership

    def _new_account(self, name: str, role: str, description: str, created_at: datetime,
                     owner_id: str | None, created_by: str | None) -> ServiceAccount:
        email = f"serviceaccount+{random_token(12)}@cloudtruth.com"
        user = User(self._new_user_id(), "service", name, email, created_at)
        self._register_user(user, role)
        account = ServiceAccount(user.id, user, description, created_at, created_at,
                                 owner_id=owner_id, created_by=created_by)
        self.service_accounts[account.id] = account
        return account

    @staticmethod
    def _new_key_value() -> tuple[str, str]:
        prefix = random_token(8, ALNUM)
        return prefix, f"{prefix}.{random_token(32, ALNUM)}"

    def _issue_key(self, account: ServiceAccount, created: datetime | None = None,
                   expires_at: datetime | None = None) -> str:
        prefix, value = self._new_key_value()
        created = created or utcnow()
        subject = {"user_id": account.id, "service_account_id": account.id}
        self.secrets.issue(self.name, "service_account_key", subject, value=value,
                           expires_at=expires_at, issued_at=created)
        account.keys.append(ApiKey(prefix, value, created, expiry_date=expires_at))
        return value

    def _retire_keys(self, account: ServiceAccount, expire_at: datetime | None) -> None:
        """Revoke the usable keys now, or let them expire at ``expire_at`` (the overlap)."""
        now = utcnow()
        for key in account.usable_keys(now):
            if expire_at is None:
                key.revoked = True
                self.secrets.revoke(key.value)
            else:
                key.expiry_date = min(expire_at, key.expiry_date or expire_at)
                self.secrets.revoke(key.value, at=key.expiry_date)

    def _delete_account(self, account: ServiceAccount) -> None:
        self._retire_keys(account, None)
        del self.service_accounts[account.id]
        if account.user is not None:
            self.memberships.pop(account.user.membership_id or "", None)
            self.users.pop(account.user.id, None)

    # ------------------------------------------------------------------ routes
    def routes(self, app: Flask) -> None:
        app.before_request(self._require_trailing_slash)
        app.register_error_handler(ApiError, lambda e: self.json(e.body, e.status, e.headers))
        app.register_error_handler(HTTPException, self._http_error)
        app.register_error_handler(Exception, lambda e: self.error(500, "A server error occurred."))
        rules = [
            ("/serviceaccounts/", self.list_accounts, ["GET"]),
            ("/serviceaccounts/", self.create_account, ["POST"]),
            ("/serviceaccounts/<account_id>/", self.get_account, ["GET"]),
            ("/serviceaccounts/<account_id>/", self.update_account, ["PATCH", "PUT"]),
            ("/serviceaccounts/<account_id>/", self.delete_account, ["DELETE"]),
            ("/serviceaccounts/<account_id>/rekey/", self.rekey_account, ["POST"]),
            ("/memberships/", self.list_memberships, ["GET"]),
            ("/memberships/", self.create_membership, ["POST"]),
            ("/memberships/<membership_id>/", self.get_membership, ["GET"]),
            ("/memberships/<membership_id>/", self.update_membership, ["PATCH", "PUT"]),
            ("/users/", self.list_users, ["GET"]),
            ("/users/current/", self.current_user, ["GET"]),
            ("/users/<user_id>/", self.get_user, ["GET"]),
        ]
        for path, view, methods in rules:
            app.add_url_rule(API + path, f"{view.__name__}", view, methods=methods)

    def _require_trailing_slash(self) -> None:
        # Flask would answer 308 to the slash-less path; the real API needs the slash.
        if isinstance(request.routing_exception, RequestRedirect):
            raise ApiError(404, NOT_FOUND)

    def _http_error(self, exc: HTTPException) -> Response:
        if isinstance(exc, MethodNotAllowed):
            return self.error(405, f'Method "{request.method}" not allowed.',
                              {"Allow": ", ".join(sorted(exc.valid_methods or []))})
        if exc.code == 404:
            return self.error(404, NOT_FOUND)
        return self.error(exc.code or 500, exc.description or "error")

    # ------------------------------------------------------------------ service accounts
    def list_accounts(self) -> Response:
        self._caller()
        return self._paginate([self._account_json(a) for a in self.service_accounts.values()])

    def create_account(self) -> Response:
        caller = self._caller()
        body, errors = self._body(), {}
        name = self._text(body, "name", errors, required=True, blank=False, max_length=128)
        description = self._text(body, "description", errors) or ""
        role = self._choice(body, "role", errors) or "VIEWER"   # the CLI's default since 2023
        owner_id = self._owner(body, errors)
        self._raise_if(errors)
        # The CLI observed the escalation text for a VIEWER asking for OWNER, so it comes first.
        self._forbid_escalation(caller, role, "create")
        self._require_rank(caller, CONTRIB)
        account = self._new_account(name or "", role, description, utcnow(), owner_id, caller.id)
        return self.json(self._with_new_key(account), 201)

    def get_account(self, account_id: str) -> Response:
        self._caller()
        return self.json(self._account_json(self._find_account(account_id)))

    def update_account(self, account_id: str) -> Response:
        account = self._managed_account(account_id)
        body, errors = self._body(), {}
        # name and role are not fields of the update serializer: DRF ignores them silently.
        description = self._text(body, "description", errors)
        owner_id = self._owner(body, errors)
        self._raise_if(errors)
        if "description" in body:
            account.description = description or ""
        if "owner" in body:
            account.owner_id = owner_id
        account.modified_at = utcnow()
        return self.json(self._account_json(account))

    def delete_account(self, account_id: str) -> Response:
        self._delete_account(self._managed_account(account_id))
        return self.empty(204)

    def rekey_account(self, account_id: str) -> Response:
        """Assumptions: the body is the create response plus ``expire_at``; no/null
        ``expire_at`` revokes the old key at once; a past ``expire_at`` is a 400."""
        account = self._managed_account(account_id)
        body, errors = self._body(), {}
        expire_at = self._datetime(body, "expire_at", errors)
        self._raise_if(errors)
        if expire_at is not None or not self.null_expire_at_means_never:
            self._retire_keys(account, expire_at)
        account.modified_at = utcnow()
        response = self._with_new_key(account)
        response["expire_at"] = isoformat_us(expire_at)
        if not self.rekey_returns_key:
            response = {"expire_at": response["expire_at"]}
        return self.json(response)

    def _with_new_key(self, account: ServiceAccount) -> dict:
        apikey = self._issue_key(account)
        return {**self._account_json(account), "apikey": apikey}

    def _find_account(self, account_id: str) -> ServiceAccount:
        account = self.service_accounts.get(account_id)
        if account is None:
            raise ApiError(404, NOT_FOUND)
        return account

    def _managed_account(self, account_id: str) -> ServiceAccount:
        """DRF order: view permission (403), object lookup (404), object permission (403)."""
        caller = self._caller()
        self._require_rank(caller, CONTRIB)
        account = self._find_account(account_id)
        if not self._can_manage(caller, account):
            raise ApiError(403, NO_PERMISSION)
        return account

    def _can_manage(self, caller: User, account: ServiceAccount) -> bool:
        """Assumption: ADMIN+ manage every account, CONTRIB only itself and the accounts it
        owns or created; nobody manages an account with a higher role than its own."""
        rank = self._rank(caller)
        if account.user is not None and self._rank(account.user) > rank:
            return False
        if rank >= ADMIN:
            return True
        return rank >= CONTRIB and caller.id in (account.id, account.owner_id, account.created_by)

    # ------------------------------------------------------------------ memberships
    def list_memberships(self) -> Response:
        self._caller()
        role, user = request.args.get("role"), request.args.get("user")
        if role is not None and role not in ROLES:
            raise ApiError(400, {"role": [f"Select a valid choice. {role} is not one of the "
                                          "available choices."]})
        chosen = [m for m in self.memberships.values()
                  if (role is None or m.role == role) and (user is None or m.user_id == user)]
        return self._paginate([self._membership_json(m) for m in chosen])

    def create_membership(self) -> Response:
        caller = self._caller()
        self._require_rank(caller, CONTRIB)
        body, errors = self._body(), {}
        user = self._user_ref(body, "user", errors, required=True)
        role = self._choice(body, "role", errors, required=True)
        self._raise_if(errors)
        assert user is not None and role is not None
        self._forbid_escalation(caller, role, "create")
        self._require_member_manager(caller, user)
        if user.membership_id is not None:
            raise ApiError(400, {NON_FIELD: ["The fields organization, user must make a "
                                             "unique set."]})
        return self.json(self._membership_json(self._add_membership(user, role, utcnow())), 201)

    def get_membership(self, membership_id: str) -> Response:
        self._caller()
        return self.json(self._membership_json(self._find_membership(membership_id)))

    def update_membership(self, membership_id: str) -> Response:
        caller = self._caller()
        self._require_rank(caller, CONTRIB)
        membership = self._find_membership(membership_id)
        self._require_member_manager(caller, self.users[membership.user_id])
        body, errors = self._body(), {}
        role = self._choice(body, "role", errors, required=request.method == "PUT")
        self._raise_if(errors)
        if role is not None:
            self._forbid_escalation(caller, role, "update")
            membership.role = role
        membership.modified_at = utcnow()
        return self.json(self._membership_json(membership))

    def _find_membership(self, membership_id: str) -> Membership:
        membership = self.memberships.get(membership_id)
        if membership is None:
            raise ApiError(404, NOT_FOUND)
        return membership

    def _require_member_manager(self, caller: User, user: User) -> None:
        """Service accounts follow ``_can_manage``; interactive members need ADMIN+."""
        account = self.service_accounts.get(user.id)
        if account is not None:
            allowed = self._can_manage(caller, account)
        else:
            allowed = self._rank(caller) >= max(ADMIN, self._rank(user))
        if not allowed:
            raise ApiError(403, NO_PERMISSION)

    # ------------------------------------------------------------------ users
    def list_users(self) -> Response:
        self._caller()
        kind = request.args.get("type")
        return self._paginate([self._user_json(u) for u in self.users.values()
                               if kind is None or u.type == kind])

    def current_user(self) -> Response:
        return self.json(self._user_json(self._caller()))

    def get_user(self, user_id: str) -> Response:
        self._caller()
        user = self.users.get(user_id)
        if user is None:
            raise ApiError(404, NOT_FOUND)
        return self.json(self._user_json(user))

    # ------------------------------------------------------------------ auth and roles
    def _caller(self) -> User:
        """The user behind ``Authorization: Api-Key <key>`` (scheme matched case-insensitively,
        as djangorestframework-api-key does). Assumption: ``Bearer`` is refused."""
        header = request.headers.get("Authorization", "").strip()
        if not header:
            self._auth_failure(NO_CREDENTIALS)
        scheme, value = header.partition(" ")[::2]
        secret = None
        if scheme.lower() == "api-key":
            secret = self.authenticate(value.strip())
        user = self.users.get(secret.subject.get("user_id", "")) if secret else None
        if user is None:
            self._auth_failure(BAD_CREDENTIALS)
        assert user is not None
        account = self.service_accounts.get(user.id)
        if account is not None:
            account.last_used_at = utcnow()
        return user

    def _auth_failure(self, message: str) -> None:
        headers = {"WWW-Authenticate": "Api-Key"} if self.auth_failure_status == 401 else {}
        raise ApiError(self.auth_failure_status, message, headers)

    def _rank(self, user: User) -> int:
        role = self.role_of(user.id)
        return ROLES.index(role) if role in ROLES else NO_ROLE

    def _require_rank(self, caller: User, rank: int) -> None:
        if self._rank(caller) < rank:
            raise ApiError(403, NO_PERMISSION)

    def _forbid_escalation(self, caller: User, role: str, verb: str) -> None:
        if ROLES.index(role) > self._rank(caller):
            raise ApiError(403, f"Cannot {verb} membership with more privileges than your own")

    # ------------------------------------------------------------------ request bodies
    def _body(self) -> dict:
        """JSON, form or multipart, as the spec accepts; anything else is DRF's 415."""
        if not request.get_data():
            return {}
        if request.mimetype == "application/json":
            try:
                data = json.loads(request.get_data(as_text=True))
            except ValueError as exc:
                raise ApiError(400, f"JSON parse error - {exc}")
            if not isinstance(data, dict):
                raise ApiError(400, {NON_FIELD: ["Invalid data. Expected a dictionary, but got "
                                                 f"{type(data).__name__}."]})
            return data
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return request.form.to_dict()
        raise ApiError(415, f'Unsupported media type "{request.content_type or ""}" in request.')

    @staticmethod
    def _raise_if(errors: dict) -> None:
        if errors:
            raise ApiError(400, errors)

    @staticmethod
    def _text(body: dict, name: str, errors: dict, *, required: bool = False,
              blank: bool = True, null: bool = False, max_length: int | None = None) -> str | None:
        """A DRF CharField: the cleaned value, or None (missing, null or invalid)."""
        if name not in body:
            if required:
                errors[name] = ["This field is required."]
            return None
        value = body[name]
        if value is None:
            if not null:
                errors[name] = ["This field may not be null."]
            return None
        if isinstance(value, (bool, dict, list)):
            errors[name] = ["Not a valid string."]
            return None
        value = str(value).strip()
        if not value and not blank:
            errors[name] = ["This field may not be blank."]
        elif max_length is not None and len(value) > max_length:
            errors[name] = [f"Ensure this field has no more than {max_length} characters."]
        return None if name in errors else value

    def _choice(self, body: dict, name: str, errors: dict, required: bool = False) -> str | None:
        """A role (``RoleEnum``); case-sensitive as a DRF ChoiceField is."""
        value = self._text(body, name, errors, required=required)
        if value is not None and value not in ROLES:
            errors[name] = [f'"{value}" is not a valid choice.']
            return None
        return value

    def _user_ref(self, body: dict, name: str, errors: dict, required: bool = False,
                  ) -> User | None:
        """A user given as its URL or (Assumption, for ``owner``) its bare id."""
        value = self._text(body, name, errors, required=required, null=not required,
                           max_length=None if required else 128)
        if not value:
            return None
        path = urlsplit(value).path
        prefix = f"{API}/users/"
        user_id = unquote(path[len(prefix):].rstrip("/")) if path.startswith(prefix) else value
        user = self.users.get(user_id)
        if user is None:
            errors[name] = ["Invalid hyperlink - Object does not exist."]
        return user

    def _owner(self, body: dict, errors: dict) -> str | None:
        user = self._user_ref(body, "owner", errors)
        return user.id if user else None

    @staticmethod
    def _datetime(body: dict, name: str, errors: dict) -> datetime | None:
        value = body.get(name)
        if value is None or value == "":
            return None
        try:
            parsed = parse_time(str(value))
        except ValueError:
            errors[name] = [BAD_DATETIME]
            return None
        if parsed <= utcnow():
            errors[name] = ["The expiration date must be in the future."]
        return parsed

    # ------------------------------------------------------------------ responses
    def _link(self, collection: str, item_id: str) -> str:
        return f"{request.host_url}api/v1/{collection}/{quote(item_id, safe='')}/"

    def _user_json(self, user: User) -> dict:
        membership = self.memberships.get(user.membership_id or "")
        return {
            "url": self._link("users", user.id), "id": user.id, "type": user.type,
            "name": user.name,
            "organization_name": self.org_name if membership else None,
            "membership_id": membership.id if membership else None,
            "role": membership.role if membership else None,
            "email": user.email, "picture_url": None,
            "created_at": isoformat_us(user.created_at),
            "modified_at": isoformat_us(user.modified_at),
        } if not self.bodies_2021 else {
            "url": self._link("users", user.id), "id": user.id, "type": user.type,
            "name": user.name, "organization_name": self.org_name if membership else None,
            "email": user.email, "picture_url": None,
            "created_at": isoformat_us(user.created_at),
            "modified_at": isoformat_us(user.modified_at),
        }

    def _key_json(self, key: ApiKey, now: datetime) -> dict:
        return {"name": key.name, "prefix": key.prefix, "revoked": key.revoked,
                "has_expired": key.has_expired(now), "created": isoformat_us(key.created),
                "expiry_date": isoformat_us(key.expiry_date)}

    def _account_json(self, account: ServiceAccount) -> dict:
        now = utcnow()
        return {
            "url": self._link("serviceaccounts", account.id), "id": account.id,
            "owner": self._link("users", account.owner_id) if account.owner_id else None,
            "user": self._user_json(account.user) if account.user else None,
            "description": account.description,
            "keys": [self._key_json(key, now) for key in account.keys],
            "created_at": isoformat_us(account.created_at),
            "modified_at": isoformat_us(account.modified_at),
            "last_used_at": isoformat_us(account.last_used_at),
        }

    def _membership_json(self, membership: Membership) -> dict:
        return {
            "url": self._link("memberships", membership.id), "id": membership.id,
            "user": self._link("users", membership.user_id),
            "organization": self._link("organizations", self.org_id),
            "role": membership.role,
            "created_at": isoformat_us(membership.created_at),
            "modified_at": isoformat_us(membership.modified_at),
        }

    # ------------------------------------------------------------------ pagination
    def _paginate(self, items: list[dict]) -> Response:
        """DRF PageNumberPagination: 404 "Invalid page." outside 1..last; ``page=last`` works."""
        items = self._ordered(items)
        size = self.served(self._page_size())
        pages = max(1, math.ceil(len(items) / size))
        requested = request.args.get("page", "1")
        try:
            number = pages if requested == "last" else int(requested)
        except ValueError:
            number = 0
        if not 1 <= number <= pages:
            raise ApiError(404, "Invalid page.")
        return self.json({
            "count": len(items),
            "next": self._page_link(number + 1) if number < pages else None,
            "previous": self._page_link(number - 1) if number > 1 else None,
            "results": items[(number - 1) * size:number * size],
        })

    def _page_size(self) -> int:
        try:
            size = int(request.args.get("page_size", ""))
        except ValueError:
            return self.default_page_size
        return min(size, self.max_page_size) if size > 0 else self.default_page_size

    def _page_link(self, number: int) -> str:
        """The request's own absolute URL with ``page`` replaced (dropped for page 1, as DRF)."""
        parts = urlsplit(request.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
        if number > 1:
            query.append(("page", str(number)))
        return self.absolute_link(urlunsplit(parts._replace(query=urlencode(query))))

    @staticmethod
    def _ordered(items: list[dict]) -> list[dict]:
        """``ordering=a,-b``; unknown fields are ignored, as DRF's OrderingFilter does."""
        terms = [t.strip() for t in request.args.get("ordering", "").split(",") if t.strip()]
        for term in reversed(terms):
            name = term.lstrip("-")
            if name in ORDERING_FIELDS:
                items = sorted(items, key=lambda item: _sort_key(item, name),
                               reverse=term.startswith("-"))
        return items


def _sort_key(item: dict, name: str) -> tuple[bool, Any]:
    """Top-level field, else the embedded user's (service accounts keep name/role there)."""
    value = item.get(name)
    if value is None and isinstance(item.get("user"), dict):
        value = item["user"].get(name)
    return value is None, value or ""
