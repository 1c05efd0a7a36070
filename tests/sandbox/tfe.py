"""HCP Terraform / Terraform Enterprise: team tokens (described and legacy), teams, ping; and,
from ``tfe_variables.py``, workspaces, workspace variables and variable sets.

Follows ``api/tfe.md``. One organization (``organization``, default ``tokenops``) holds an
``owners`` team; the admin credential is an owner's user token. The base URL is the host root
(pytfe wants ``scheme://host:port``); every path starts with ``/api/v2``.

Choices where the contract says "Assume" or is silent:

* token ids are ``at-`` + 16 alphanumerics; a regenerated legacy token gets a new id;
* a described create answers 201; a duplicate description, a missing description, a bad, past
  or over-``max_token_ttl`` ``expired-at`` answer 422 with a JSON:API error naming the attribute;
* a body that is not JSON answers 400; an empty body on the legacy create means "no attributes";
* ``description`` sent to the legacy endpoint is ignored;
* ``GET /authentication-tokens/:id`` accepts token ids only;
* ``q`` (team tokens and teams) is a case-insensitive substring of the team name;
* ``filter[names]`` given several times keeps only the last value (as Rails does), which is
  then split on commas;
* an unknown ``sort`` key or ``filter[status]`` value answers 400; a bad page number or size
  falls back to the default and a size over 100 is clamped to 100;
* bulk delete is all-or-nothing: one unknown id answers 404 and deletes nothing;
* ``POST``, ``PATCH`` and ``DELETE`` without ``Content-Type: application/vnd.api+json`` answer
  415, bodiless ones included (checked before authentication; ``require_media_type``);
* ``GET /organizations`` lists the one organization to any credential;
* ``account/details`` names the caller in ``relationships.authenticated-resource``: the team
  for a team token, the user for a user token;
* ``max_token_ttl`` is the organization's team token TTL policy (off by default, as for a new
  organization): ``token-ttl-policies`` lists the four token types only while it is set (an empty
  list otherwise: terraform-provider-tfe #1996 reads an empty list as "disabled"); a team token
  whose lifetime (created-at to expired-at) is longer, or that never expires, answers 401
  ("Existing tokens that exceed newly configured limits will stop working and return an
  unauthorized error", the provider's ``tfe_org_max_token_ttl_policy`` docs); a create over it
  is 422. A create **without** ``expired-at`` under a cap shorter than the two-year default:
  no source says; ``capped_default`` chooses "refuse" (422, as for an explicit expiry over the
  cap; the default) or "cap" (the token gets the cap as its lifetime);
  ``ttl_policies_status`` answers the policy read with that status instead (a credential that
  may not read it);
* ``as_older_release()`` turns off described tokens, ``DELETE /authentication-tokens/:id`` and
  the two-year default of a legacy token (``expired-at: null``: never expires);
* only owners (the admin user, or a token of the ``owners`` team) may see teams and manage
  tokens; other team tokens get 404 (403 on bulk delete, as documented), but may call
  ``GET /api/v2/account/details`` (the team's service user) and read the organization.
  ``account/details`` is the endpoint that proves a newly issued team token works.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .core import Platform, days_ago, isoformat_ms, parse_time, random_token
from .tfe_variables import WorkspaceVariables

ALNUM = string.ascii_letters + string.digits
API = "/api/v2"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
DEFAULT_LIFETIME_YEARS = 2
DEFAULT_MAX_TTL_MS = 63_072_000_000     # two years: the policy when none is set
OWNERS = "owners"
RATE_LIMIT_DETAIL = "You have exceeded the API's rate limit."
DESCRIPTION = "/data/attributes/description"
EXPIRED_AT = "/data/attributes/expired-at"
# Titles the contract gives; others are the lower-cased HTTP reason phrase ("not found").
TITLES = {422: "invalid attributes", 429: "Too many requests"}
_DEFAULT = object()     # "expiry not given": created-at + 2 years, as the service does


class ApiError(Exception):
    """Raised by handlers; rendered as a JSON:API error document."""

    def __init__(self, status: int, detail: str | None = None, pointer: str | None = None):
        super().__init__(detail or title_of(status))
        self.status, self.detail, self.pointer = status, detail, pointer


@dataclass
class Team:
    id: str
    name: str
    visibility: str
    created_at: datetime
    service_user_id: str


@dataclass
class TeamToken:
    id: str
    team_id: str
    description: str | None      # None: the team's legacy (descriptionless) token
    created_at: datetime
    expired_at: datetime | None
    created_by: tuple[str, str]  # (JSON:API type, id): users, teams or organizations
    secret: str
    last_used_at: datetime | None = None


def new_id(prefix: str) -> str:
    return f"{prefix}-{random_token(16, ALNUM)}"


def new_secret_value() -> str:
    """Shaped like the service's secrets: ``<14>.atlasv1.<67>``."""
    return f"{random_token(14, ALNUM)}.atlasv1.{random_token(67, ALNUM)}"


def add_years(moment: datetime, years: int) -> datetime:
    """Calendar years; 29 February rolls to 1 March, as Go's ``AddDate`` does."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, month=3, day=1)


def title_of(status: int) -> str:
    try:
        return TITLES.get(status) or HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def positive_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def nulls_last(value: Any) -> tuple[bool, Any]:
    """Sort key: ascending puts nulls last, descending first (PostgreSQL's default)."""
    return value is None, value


def status_predicates(now: datetime) -> dict[str, Callable[[datetime | None], bool]]:
    """``filter[status]`` values: does a token with this expiry match?"""
    def expiring_within(days: int) -> Callable[[datetime | None], bool]:
        return lambda at: at is not None and now < at <= now + timedelta(days=days)
    return {
        "active": lambda at: at is None or at > now,
        "expired": lambda at: at is not None and at <= now,
        "no_expiration": lambda at: at is None,
        "expiring_in_7_days": expiring_within(7),
        "expiring_in_30_days": expiring_within(30),
    }


class TFE(WorkspaceVariables, Platform):
    name = "tfe"
    #: "30 requests per second" per user: developer.hashicorp.com/terraform/cloud-docs/api-docs
    #: (Rate limiting)
    published_rate_limit = (30, 1.0)
    base_path = ""
    content_type = "application/vnd.api+json"

    ApiError = ApiError     # for the WorkspaceVariables mixin

    # Switches: tests flip them on the instance.
    organization = "tokenops"
    ignore_team_name_filter = False      # some TFE releases ignore filter[names]
    send_retry_after = False             # the real service sends only X-RateLimit-Reset
    described_tokens_supported = True    # False: an older TFE, POST .../authentication-tokens 404s
    require_media_type = True            # 415 to POST/PATCH/DELETE without the JSON:API media type
    legacy_default_never_expires = False  # True: a legacy create without expired-at never expires
    token_id_delete_supported = True     # False: only DELETE /teams/:id/authentication-token
    max_token_ttl: timedelta | None = None   # the organization's team token TTL policy
    capped_default = "refuse"            # a create without expired-at under max_token_ttl
    ttl_policies_status: int | None = None   # answer GET token-ttl-policies with this status
    #: a fault: a described token create makes the token in this team (an id) instead of the
    #: one asked for, to prove that clients read a successor back and compare
    create_in_team: str | None = None
    advertised_rate_limit = 30           # X-RateLimit-Limit when no limiter is enforced

    def as_older_release(self) -> None:
        """Behave as TFE releases before described tokens (v202507-1 docs): no described
        tokens, a legacy token without ``expired-at`` never expires, only the team's legacy
        delete path."""
        self.described_tokens_supported = False
        self.legacy_default_never_expires = True
        self.token_id_delete_supported = False

    # -- wiring ------------------------------------------------------------------------------
    def routes(self, app: Flask) -> None:
        app.before_request(self._check_media_type)
        app.before_request(self._authenticate)
        app.register_error_handler(ApiError, self._render_api_error)
        app.register_error_handler(HTTPException, self._render_http_exception)
        app.register_error_handler(Exception, lambda exc: self.error(500, title_of(500)))
        rules: list[tuple[str, str, Callable[..., Response]]] = [
            ("/ping", "GET", self._ping),
            ("/account/details", "GET", self._account_details),
            ("/organizations", "GET", self._list_organizations),
            ("/organizations/<org>/token-ttl-policies", "GET", self._ttl_policies),
            ("/organizations/<org>", "GET", self._show_organization),
            ("/organizations/<org>/teams", "GET", self._list_teams),
            ("/teams/<team_id>", "GET", self._show_team),
            ("/teams/<team_id>/authentication-tokens", "POST", self._create_described),
            ("/teams/<team_id>/authentication-token", "POST", self._create_legacy),
            ("/teams/<team_id>/authentication-token", "GET", self._show_legacy),
            ("/teams/<team_id>/authentication-token", "DELETE", self._delete_legacy),
            ("/authentication-tokens/<token_id>", "GET", self._show_token),
            ("/authentication-tokens/<token_id>", "DELETE", self._delete_token),
            ("/organizations/<org>/team-tokens", "GET", self._list_tokens),
            ("/organizations/<org>/team-tokens", "DELETE", self._bulk_delete),
        ]
        for path, method, view in rules:
            app.add_url_rule(API + path, endpoint=view.__name__, view_func=view,
                             methods=[method])
        self._variable_routes(app, API)

    def setup(self) -> str:
        self._teams: dict[str, Team] = {}
        self._tokens: dict[str, TeamToken] = {}
        self._variable_setup()
        self.created_at = self.now()
        self.admin_user_id = new_id("user")
        self.owners_team_id = self.add_team(OWNERS)
        return self.secrets.issue(self.name, "user",
                                  {"user_id": self.admin_user_id, "role": "owner"},
                                  value=new_secret_value()).value

    def seed_demo(self) -> None:
        platform, ci = self.add_team("platform"), self.add_team("ci")
        self.add_token(platform, created_at=days_ago(120))
        self.add_token(ci, "ci-deploy", created_at=days_ago(120))
        self.add_token(ci, "nightly", created_at=days_ago(5))
        self.add_token(ci, "release", created_at=days_ago(30), expired_at=days_ago(-60))
        self.add_token(ci, "expiring-soon", created_at=days_ago(700))

    # -- platform hooks ----------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict | None = None) -> Response:
        return self._error_document(status, message, None, headers)

    def rate_limited(self, retry_after: float) -> Response:
        limit = self.rate_limiter.limit if self.rate_limiter else self.advertised_rate_limit
        headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Reset": f"{retry_after:.3f}"}
        if self.send_retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return self.error(429, RATE_LIMIT_DETAIL, headers)

    def credential(self, environ: dict) -> str | None:
        scheme, _ignored, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None

    def _error_document(self, status: int, detail: str | None, pointer: str | None,
                        headers: dict | None = None) -> Response:
        title = title_of(status)
        # The documented 429 example carries the status as a number; everything else a string.
        entry: dict[str, Any] = {"status": status if status == 429 else str(status),
                                 "title": title}
        if detail and detail.lower() != title.lower():
            entry["detail"] = detail
        if pointer:
            entry["source"] = {"pointer": pointer}
        return self.json({"errors": [entry]}, status, headers)

    def _render_http_exception(self, exc: HTTPException) -> Any:
        """Flask's own 404/405/...: the JSON:API body, never an HTML page (redirects pass)."""
        status = exc.code or 500
        return exc if status < 400 else self.error(status, title_of(status))

    def _render_api_error(self, exc: ApiError) -> Response:
        return self._error_document(exc.status, exc.detail, exc.pointer)

    def _check_media_type(self) -> Response | None:
        """415 to a POST, PATCH or DELETE without the JSON:API media type, bodiless or not."""
        if (self.require_media_type and request.method in ("POST", "PATCH", "DELETE")
                and request.mimetype != self.content_type):
            return self.error(415, title_of(415))
        return None

    def _authenticate(self) -> Response | None:
        if request.path == API + "/ping":
            return None
        secret = self.authenticate(self.credential(request.environ))
        if secret is None:
            return self.error(401, title_of(401))
        g.caller = secret.subject
        used = self._tokens.get(secret.subject.get("token_id", ""))
        if used is not None and not self.within_ttl(used):
            return self.error(401, title_of(401))
        if used is not None:
            used.last_used_at = self.now()
        return None

    # -- public helpers for tests (no HTTP) --------------------------------------------------
    def add_team(self, name: str, visibility: str = "secret") -> str:
        """Create a team in the organization; return its ``team-…`` id."""
        if not name or not all(c in ALNUM + "-_" for c in name):
            raise ValueError(f"team names allow letters, digits, - and _: {name!r}")
        if self.team_by_name(name) is not None:
            raise ValueError(f"team {name!r} exists")
        team = Team(new_id("team"), name, visibility, self.now(), new_id("user"))
        self._teams[team.id] = team
        return team.id

    def add_teams(self, count: int, prefix: str = "team") -> list[str]:
        """Create ``count`` teams named ``<prefix>-0000``…; return their ids in order."""
        return [self.add_team(f"{prefix}-{index:04d}") for index in range(count)]

    def add_token(self, team_id: str, description: str | None = None,
                  created_at: datetime | None = None, expired_at: Any = _DEFAULT,
                  last_used_at: datetime | None = None) -> tuple[str, str]:
        """Seed a token; return ``(token_id, secret)``.

        ``description=None`` makes the team's legacy token (replacing, and revoking, any
        previous one). ``expired_at`` defaults to created-at + 2 years; pass None for a token
        that never expires (made before the service changed its default).
        """
        if team_id not in self._teams:
            raise ValueError(f"unknown team {team_id}")
        if description is not None and self._described(team_id, description):
            raise ValueError(f"team {team_id} has a token described {description!r}")
        created_at = created_at or self.now()
        expiry = add_years(created_at, DEFAULT_LIFETIME_YEARS) if expired_at is _DEFAULT \
            else expired_at
        token = self._issue(team_id, description, created_at, expiry,
                            ("users", self.admin_user_id))
        token.last_used_at = last_used_at
        return token.id, token.secret

    def add_tokens(self, count: int, team_ids: Sequence[str] | None = None,
                   prefix: str = "bulk", **kwargs: Any) -> list[tuple[str, str]]:
        """Seed ``count`` described tokens (``<prefix>-0000``…), spread round-robin over
        ``team_ids`` (default: the owners team); other arguments as in :meth:`add_token`."""
        teams = list(team_ids or [self.owners_team_id])
        return [self.add_token(teams[index % len(teams)], f"{prefix}-{index:04d}", **kwargs)
                for index in range(count)]

    def team_by_name(self, name: str) -> str | None:
        """The id of the team called ``name``, else None."""
        return next((team.id for team in self._teams.values() if team.name == name), None)

    def token_by_id(self, token_id: str) -> dict | None:
        """A token as the API renders it (``token`` null), else None."""
        token = self._tokens.get(token_id)
        return self._token_resource(token) if token else None

    def tokens(self, team_id: str | None = None) -> list[dict]:
        """Every token (of one team when given), oldest first, as the API renders them."""
        return [self._token_resource(token) for token in self._tokens.values()
                if team_id is None or token.team_id == team_id]

    def legacy_token(self, team_id: str) -> dict | None:
        """The team's legacy token as the API renders it, else None."""
        token = self._legacy(team_id)
        return self._token_resource(token) if token else None

    def secret_of(self, token_id: str) -> str:
        """The current secret of a token (for "does it still work" checks)."""
        return self._tokens[token_id].secret

    def within_ttl(self, token: TeamToken) -> bool:
        """Whether a team token meets the organization's TTL policy (always, without one)."""
        if self.max_token_ttl is None:
            return True
        return (token.expired_at is not None
                and token.expired_at - token.created_at <= self.max_token_ttl)

    # -- state -------------------------------------------------------------------------------
    def _issue(self, team_id: str, description: str | None, created_at: datetime,
               expired_at: datetime | None, created_by: tuple[str, str]) -> TeamToken:
        if description is None:
            previous = self._legacy(team_id)
            if previous is not None:    # the legacy create regenerates: the old secret dies
                self._remove(previous)
        token_id = new_id("at")
        secret = self.secrets.issue(self.name, "team_token",
                                    {"team_id": team_id, "token_id": token_id},
                                    value=new_secret_value(), expires_at=expired_at,
                                    issued_at=created_at)
        token = TeamToken(token_id, team_id, description, created_at, expired_at, created_by,
                          secret.value)
        self._tokens[token_id] = token
        return token

    def _remove(self, token: TeamToken) -> None:
        self.secrets.revoke(token.secret)
        del self._tokens[token.id]

    def _legacy(self, team_id: str) -> TeamToken | None:
        return next((token for token in self._tokens.values()
                     if token.team_id == team_id and token.description is None), None)

    def _described(self, team_id: str, description: str) -> TeamToken | None:
        return next((token for token in self._tokens.values()
                     if token.team_id == team_id and token.description == description), None)

    # -- access checks and lookups (404 rather than 403, as the service does) ----------------
    def _is_owner(self) -> bool:
        caller = g.caller
        return caller.get("role") == "owner" or caller.get("team_id") == self.owners_team_id

    def _require_owner(self) -> None:
        if not self._is_owner():
            raise ApiError(404)

    def _require_org(self, org: str) -> None:
        if org != self.organization:
            raise ApiError(404)

    def _visible_team(self, team_id: str) -> Team:
        team = self._teams.get(team_id)
        if team is None or not (self._is_owner() or g.caller.get("team_id") == team_id):
            raise ApiError(404)
        return team

    def _managed_team(self, team_id: str) -> Team:
        self._require_owner()
        return self._visible_team(team_id)

    def _managed_token(self, token_id: str) -> TeamToken:
        self._require_owner()
        token = self._tokens.get(token_id)
        if token is None:
            raise ApiError(404)
        return token

    def _creator(self) -> tuple[str, str]:
        caller = g.caller
        return ("teams", caller["team_id"]) if "team_id" in caller \
            else ("users", caller["user_id"])

    # -- request bodies ----------------------------------------------------------------------
    def _body(self) -> Any:
        if not request.get_data().strip():
            return None
        body = request.get_json(force=True, silent=True)
        if body is None:
            raise ApiError(400, "the request body is not valid JSON")
        return body

    def _attributes(self) -> dict:
        """``data.attributes`` of a create body; ``data.type`` is not checked (clients differ)."""
        body = self._body()
        if body is None:
            return {}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ApiError(422, "data: must be an object", "/data")
        attributes = data.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise ApiError(422, "data.attributes: must be an object", "/data/attributes")
        return attributes

    def _requested_expiry(self, attributes: dict, created_at: datetime,
                          legacy: bool = False) -> datetime | None:
        raw = attributes.get("expired-at")
        if raw is None:
            if legacy and self.legacy_default_never_expires:
                return None
            default = add_years(created_at, DEFAULT_LIFETIME_YEARS)
            if self.max_token_ttl is not None and default - created_at > self.max_token_ttl:
                if self.capped_default == "cap":
                    return created_at + self.max_token_ttl
                raise ApiError(422, "Validation failed: Expired at exceeds the organization's "
                                    "maximum team token lifetime", EXPIRED_AT)
            return default
        try:
            expiry = parse_time(raw) if isinstance(raw, str) else None
        except ValueError:
            expiry = None
        if expiry is None:
            raise ApiError(422, "Validation failed: Expired at must be an ISO 8601 time",
                           EXPIRED_AT)
        if expiry <= created_at:
            raise ApiError(422, "Validation failed: Expired at must be in the future",
                           EXPIRED_AT)
        if self.max_token_ttl is not None and expiry - created_at > self.max_token_ttl:
            raise ApiError(422, "Validation failed: Expired at exceeds the organization's "
                                "maximum team token lifetime", EXPIRED_AT)
        return expiry

    # -- rendering ---------------------------------------------------------------------------
    def _token_resource(self, token: TeamToken, reveal: bool = False) -> dict:
        return {
            "id": token.id,
            "type": "authentication-tokens",
            "attributes": {
                "created-at": isoformat_ms(token.created_at),
                "last-used-at": isoformat_ms(token.last_used_at),
                "description": token.description,
                "token": token.secret if reveal else None,   # only the create response shows it
                "expired-at": isoformat_ms(token.expired_at),
            },
            "relationships": {
                "team": {"data": {"id": token.team_id, "type": "teams"}},
                "created-by": {"data": {"id": token.created_by[1], "type": token.created_by[0]}},
            },
        }

    def _team_resource(self, team: Team) -> dict:
        return {
            "id": team.id,
            "type": "teams",
            "attributes": {
                "name": team.name,
                "sso-team-id": None,
                "users-count": 0,
                "visibility": team.visibility,
                "allow-member-token-management": True,
                "permissions": {"can-update-membership": True,
                                "can-destroy": team.name != OWNERS,
                                "can-update-api-token": True,
                                "can-update-visibility": True},
            },
            "relationships": {
                "organization": {"data": {"id": self.organization, "type": "organizations"}},
                "users": {"data": []},
            },
            "links": {"self": f"{API}/teams/{team.id}"},
        }

    def _page(self, items: list, render: Callable[[Any], dict]) -> Response:
        """One page of ``items`` with ``links`` and all six ``meta.pagination`` keys."""
        number = positive_int(request.args.get("page[number]"), 1)
        size = self.served(min(positive_int(request.args.get("page[size]"), DEFAULT_PAGE_SIZE),
                               MAX_PAGE_SIZE))
        total_pages = max(1, math.ceil(len(items) / size))
        pagination = {
            "current-page": number,
            "page-size": size,
            "prev-page": number - 1 if number > 1 else None,
            "next-page": number + 1 if number < total_pages else None,
            "total-pages": total_pages,
            "total-count": len(items),
        }
        chunk = items[(number - 1) * size:number * size]
        return self.json({"data": [render(item) for item in chunk],
                          "links": self._links(pagination),
                          "meta": {"pagination": pagination}})

    def _links(self, pagination: dict) -> dict:
        kept = [(key, value) for key, value in request.args.items(multi=True)
                if not key.startswith("page[")]

        def link(page: int | None) -> str | None:
            if page is None:
                return None
            query = kept + [("page[number]", page), ("page[size]", pagination["page-size"])]
            # brackets percent-encoded
            return self.absolute_link(f"{request.base_url}?{urlencode(query)}")

        return {"self": link(pagination["current-page"]), "first": link(1),
                "prev": link(pagination["prev-page"]), "next": link(pagination["next-page"]),
                "last": link(pagination["total-pages"])}

    # -- views: meta -------------------------------------------------------------------------
    def _ping(self) -> Response:
        return Response(b"", status=204, headers={
            "X-RateLimit-Limit": str(self.advertised_rate_limit), "TFP-API-Version": "2.6",
            "TFP-AppName": "HCP Terraform"})

    def _account_details(self) -> Response:
        """The caller: the admin user, or a team token's service user."""
        team_id = g.caller.get("team_id")
        if team_id is None:
            user_id, username, email, service = (self.admin_user_id, "admin",
                                                 "admin@example.test", False)
        else:
            team = self._teams[team_id]
            user_id, username, email, service = (team.service_user_id, f"api-{team.id}",
                                                 None, True)
        resource = {"id": team_id, "type": "teams"} if team_id else \
            {"id": user_id, "type": "users"}
        return self.json({"data": {"id": user_id, "type": "users", "attributes": {
            "username": username, "email": email, "is-service-account": service},
            "relationships": {"authenticated-resource": {"data": resource}}}})

    def _list_organizations(self) -> Response:
        """The organizations the credential sees (pytfe scripts start here): the one."""
        return self._page([self.organization], self._organization_resource)

    def _organization_resource(self, org: str) -> dict:
        return {"id": org, "type": "organizations", "attributes": {
            "name": org, "email": "owners@example.test",
            "created-at": isoformat_ms(self.created_at),
            "max-ttl-enabled": self.max_token_ttl is not None},
            "links": {"self": f"{API}/organizations/{org}"}}

    def _ttl_policies(self, org: str) -> Response:
        """One entry per token type (pytfe ``organization_token_ttl_policies.list``)."""
        self._require_org(org)
        if not self.described_tokens_supported:
            raise ApiError(404)         # older releases have no such endpoint
        if self.ttl_policies_status:
            raise ApiError(self.ttl_policies_status)
        if self.max_token_ttl is None:
            return self.json({"data": []})      # no policy: the provider reads "disabled"
        team_ms = int(self.max_token_ttl.total_seconds() * 1000)
        return self.json({"data": [
            {"id": f"ttl-{kind}", "type": "organization-token-ttl-policies",
             "attributes": {"token-type": kind,
                            "max-ttl-ms": team_ms if kind == "team" else DEFAULT_MAX_TTL_MS}}
            for kind in ("organization", "team", "user", "audit_trails")]})

    def _show_organization(self, org: str) -> Response:
        self._require_org(org)
        return self.json({"data": self._organization_resource(org)})

    # -- views: teams ------------------------------------------------------------------------
    def _list_teams(self, org: str) -> Response:
        self._require_org(org)
        self._require_owner()
        teams = sorted(self._teams.values(), key=lambda team: team.name)
        names = request.args.getlist("filter[names]")
        if names and not self.ignore_team_name_filter:
            wanted = {name.strip() for name in names[-1].split(",")}
            teams = [team for team in teams if team.name in wanted]
        query = (request.args.get("q") or "").lower()
        teams = [team for team in teams if query in team.name.lower()]
        return self._page(teams, self._team_resource)

    def _show_team(self, team_id: str) -> Response:
        return self.json({"data": self._team_resource(self._visible_team(team_id))})

    # -- views: team tokens ------------------------------------------------------------------
    def _created(self, token: TeamToken) -> Response:
        return self.json({"data": self._token_resource(token, reveal=True)}, 201)

    def _create_described(self, team_id: str) -> Response:
        team = self._managed_team(team_id)
        if not self.described_tokens_supported:
            raise ApiError(404)
        attributes = self._attributes()
        description = attributes.get("description")
        if not isinstance(description, str):
            raise ApiError(422, "Validation failed: Description is required", DESCRIPTION)
        if self._described(team.id, description):
            raise ApiError(422, "Validation failed: Description has already been taken",
                           DESCRIPTION)
        now = self.now()
        made_in = self.create_in_team if self.create_in_team in self._teams else team.id
        return self._created(self._issue(made_in, description, now,
                                         self._requested_expiry(attributes, now),
                                         self._creator()))

    def _create_legacy(self, team_id: str) -> Response:
        team = self._managed_team(team_id)
        now = self.now()
        expiry = self._requested_expiry(self._attributes(), now, legacy=True)
        return self._created(self._issue(team.id, None, now, expiry, self._creator()))

    def _legacy_or_404(self, team_id: str) -> TeamToken:
        token = self._legacy(self._managed_team(team_id).id)
        if token is None:
            raise ApiError(404)
        return token

    def _show_legacy(self, team_id: str) -> Response:
        return self.json({"data": self._token_resource(self._legacy_or_404(team_id))})

    def _delete_legacy(self, team_id: str) -> Response:
        self._remove(self._legacy_or_404(team_id))
        return self.empty()

    def _show_token(self, token_id: str) -> Response:
        return self.json({"data": self._token_resource(self._managed_token(token_id))})

    def _delete_token(self, token_id: str) -> Response:
        if not self.token_id_delete_supported:
            raise ApiError(404)
        self._remove(self._managed_token(token_id))
        return self.empty()

    def _list_tokens(self, org: str) -> Response:
        self._require_org(org)
        self._require_owner()
        tokens = list(self._tokens.values())
        query = (request.args.get("q") or "").lower()
        tokens = [token for token in tokens if query in self._teams[token.team_id].name.lower()]
        tokens = self._filter_by_status(tokens)
        return self._page(self._sorted(tokens), self._token_resource)

    def _filter_by_status(self, tokens: list[TeamToken]) -> list[TeamToken]:
        raw = request.args.get("filter[status]") or request.args.get("filter[expiry_status]")
        if not raw:
            return tokens
        predicates = status_predicates(self.now())
        wanted = [value.strip() for value in raw.split(",")]
        unknown = [value for value in wanted if value not in predicates]
        if unknown:
            raise ApiError(400, f"invalid filter[status] value: {', '.join(unknown)}")
        return [token for token in tokens
                if any(predicates[value](token.expired_at) for value in wanted)]

    def _sorted(self, tokens: list[TeamToken]) -> list[TeamToken]:
        """Sort as ``sort`` asks (default ascending expiry); ties keep creation order."""
        raw = request.args.get("sort") or "expired-at"
        field_name = raw.removeprefix("-")
        keys: dict[str, Callable[[TeamToken], Any]] = {
            "team-name": lambda token: self._teams[token.team_id].name,
            "created-by": lambda token: token.created_by[1],
            "expired-at": lambda token: nulls_last(token.expired_at),
            "last-used-at": lambda token: nulls_last(token.last_used_at),
        }
        if field_name not in keys:
            raise ApiError(400, f"invalid sort parameter {raw!r}; use one of "
                                f"{', '.join(keys)}, optionally with a leading -")
        return sorted(tokens, key=keys[field_name], reverse=raw.startswith("-"))

    def _bulk_delete(self, org: str) -> Response:
        self._require_org(org)
        if not self._is_owner():
            raise ApiError(403)     # documented for this endpoint instead of the usual 404
        body = self._body()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not all(
                isinstance(item, dict) and isinstance(item.get("id"), str) for item in data):
            raise ApiError(422, "data: must be a list of {type, id} token references", "/data")
        tokens = [self._tokens.get(item["id"]) for item in data]
        if any(token is None for token in tokens):
            raise ApiError(404)     # all or nothing: nothing is deleted
        for token in {token.id: token for token in tokens}.values():
            self._remove(token)
        return self.empty()
