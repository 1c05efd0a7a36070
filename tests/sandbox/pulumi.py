"""Fake Pulumi Cloud access-token API: personal, organization and team tokens.

Follows ``api/pulumi.md``: plain JSON, ``Authorization: token <value>``, errors shaped
``{"code": <status>, "message": "<status text>: <detail>"}``, ``continuationToken`` pagination,
expiry as Unix seconds (0 = never). Choices the contract leaves open are marked "Assume".

State: one organization (``org_name``) whose admin user (``user_login``) owns the admin
credential, a plain member (``member_login``) and one team (``team_name``).
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any, Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .core import Platform, days_ago, isoformat_ms, isoformat_s, random_token, utcnow

PERSONAL, REFRESH, ORGANIZATION, TEAM = "personal", "refresh", "organization", "team"
USER_KINDS = (PERSONAL, REFRESH)            # what the personal list shows
FILTERS = ("active", "expired", "all")
SORT_KEYS: dict[str, Callable[["AccessToken"], Any]] = {
    "name": lambda token: token.name,
    "created": lambda token: token.created,
    "lastUsed": lambda token: token.last_used,
    "expires": lambda token: token.expires,
}
SORT_DIRECTIONS = ("asc", "desc")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
MAX_NAME_LENGTH = 40
CURSOR_PREFIX = "offset:"
UNAUTHORIZED = "No credentials provided or are invalid."        # Assume: wording unknown
TOKEN_NOT_FOUND = "token not found"
NOT_TEAM_TOKEN = "the requested token is not a team token"

Moment = datetime | int | None          # seed helpers take a datetime or Unix seconds
#: the feature flags ``OrganizationFeatures`` requires (pulumi-cloud-sdk 2026.10.26)
ORGANIZATION_FEATURES = (
    "auditLogsEnabled crossGuardEnabled webhooksEnabled integrationAssistantEnabled aleEnabled "
    "deployEnabled scimEnabled resourceSearchEnabled resourceExportEnabled "
    "propertySearchUIEnabled nlpSearchEnabled customTemplatesEnabled restoreStacksEnabled "
    "environmentsEnabled environmentRevisionTagsEnabled legacyDeploymentsOrgToken "
    "gitHubEnterpriseIntegrationEnabled gitHubEnterpriseCloudDataResidencyEnabled "
    "agentPoolRegistrationEnabled driftDetectionEnabled selfHostedDeploymentsEnabled "
    "auditLogUIFilteringEnabled dependencyCachingEnabled environmentsRestoreEnabled "
    "pangeaAccountsScanPageEnabled customRolesEnabled environmentSecretRotationEnabled "
    "insightsMonetizationEnabled selfServeIDPRemoval iacCloudImportEnabled "
    "bringYourOwnKeyEnabled approvalsEnabled escOnboardingEnabled escOnboardingV2Enabled "
    "escOnboardingAzureOAuthClientEnabled escOnboardingGcpOAuthClientEnabled "
    "policyManagementV2Enabled policyIssueManagementEnabled aiAgentsEnabled aiAgentsReadOnly "
    "themingEnabled customRoleCondition neoTaskSharingEnabled ghAppDetailedDiffEnabled "
    "neoCustomRolesEnabled discoveredStacksEnabled agentIntegrationCatalogEnabled "
    "agentScheduledTasksEnabled neoCustomAgentsEnabled neoSecurityEnabled "
    "agentTriggeredTasksEnabled customVCSEnabled bitbucketVCSEnabled "
    "insightsAutoPolicyPacksEnabled fixDriftWithNeoEnabled cliIntegrationCatalogEnabled "
    "serviceBackedConfigEnabled neoByokEnabled entityUserAssignmentsEnabled "
    "policyExceptionsEnabled staticDefaultRolesEnabled").split()


class ApiError(Exception):
    """Abort a view with ``{"code": status, "message": "<status text>: <detail>"}``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.message = f"{HTTPStatus(status).phrase}: {detail}"


@dataclass
class AccessToken:
    id: str
    type: str
    secret: str = field(repr=False)     # the current value, kept only to revoke it on delete
    created: datetime
    owner: str                          # user login (personal, refresh), org name, or team name
    created_by: str
    name: str = ""                      # Assume: personal and refresh tokens have name ""
    description: str = ""
    expires: int = 0
    last_used: int = 0
    admin: bool = False
    role_id: str | None = None

    def is_expired(self, now: int) -> bool:
        return self.expires != 0 and self.expires <= now


@dataclass
class Team:
    name: str
    display_name: str
    description: str = ""


def epoch(moment: Moment) -> int:
    """Unix seconds of a datetime; ints pass through; None is 0 ("never")."""
    if moment is None:
        return 0
    return int(moment.timestamp()) if isinstance(moment, datetime) else int(moment)


def two_years_after(moment: datetime) -> datetime:
    try:
        return moment.replace(year=moment.year + 2)
    except ValueError:                  # 29 February
        return moment.replace(year=moment.year + 2, day=28)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ApiError(400, "invalid continuation token") from None
    digits = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or not digits.isdigit():
        raise ApiError(400, "invalid continuation token")
    return int(digits)


class Pulumi(Platform):
    """Pulumi Cloud. The admin credential is a personal token of the org admin ``user_login``.

    Switches: ``send_retry_after`` on 429s; ``null_continuation_token`` (last page says
    ``"continuationToken": null`` instead of omitting it); ``created_style`` (``"iso"``
    ``2026-11-22T10:15:30Z``, ``"iso_ms"`` with milliseconds, ``"space"``
    ``2026-11-22 10:15:30.123`` without zone, ``"go"`` ``2026-11-22 10:15:30.123 +0000 UTC`` as
    Go's ``time.Time.String()`` prints it) to check that clients parse ``created`` leniently or
    survive a shape they cannot read;
    ``router_404_plain_text`` (unknown paths answer ``404 page not found`` as text, as the real
    router sometimes does); ``default_page_size`` and ``max_page_size``;
    ``gone_team_token_delete_status`` (a team-token delete of an id that no longer exists: 400
    "the requested token is not a team token", the only error the spec lists; 404 to answer as
    for other kinds); ``max_access_token_expiry_days``, ``expiry_policy_rule``,
    ``metadata_status`` (the organization's access token expiry policy) and
    ``drop_role_on_create`` and ``expiry_policy_after_create`` (faults). Organization and team token names stay reserved after
    deletion: any create with a name ever used answers 409 "Conflict: token name already
    exists".
    """

    name = "pulumi"
    #: Assumption: Pulumi publishes no number (pulumi/pulumi#7963: "generous rate limits on
    #: various endpoints"); 10 requests per second per token
    published_rate_limit = (10, 1.0)
    base_path = ""                  # clients get the host root; paths start with /api/
    send_retry_after = True         # Assume: 429s may carry Retry-After (undocumented)
    null_continuation_token = False
    created_style = "iso"
    router_404_plain_text = False
    default_page_size = 100
    max_page_size = 1000
    gone_team_token_delete_status = 400     # the spec lists only 204 and 400 for that delete
    #: the organization's access token expiry policy in days (None: no policy, the default of a
    #: new organization). pulumi/docs#20344 and the 2026-07-27 blog "Enforce Access Token Expiry
    #: Policies": a non-compliant token gets 403 on every request against the organization, and
    #: organization and team token creates over the cap are refused; personal token creates are
    #: not (a personal token spans organizations).
    max_access_token_expiry_days: int | None = None
    #: how compliance is judged: "total" (lifetime from creation to expiry within the cap;
    #: pulumi/docs#21382 after pulumi-service#48924) or "remaining" (expiry within the cap from
    #: now, the rule the policy was announced with)
    expiry_policy_rule = "total"
    #: a status for GET /api/orgs/{org}/metadata (403: a credential that may not read the policy)
    metadata_status: int | None = None
    #: a fault, not a fidelity choice: accept ``roleID`` on an organization token create but
    #: create the token without it (it gets the default member role), to prove that clients
    #: read a successor back and compare
    drop_role_on_create = False
    #: a fault: right after the next organization or team token create, the organization's
    #: expiry policy becomes this many days (another admin tightens it mid-rotation), so that a
    #: successor made within the old policy is over the new one
    expiry_policy_after_create: int | None = None
    SWITCHES = ("send_retry_after", "null_continuation_token", "created_style",
                "router_404_plain_text", "default_page_size", "max_page_size",
                "gone_team_token_delete_status", "max_access_token_expiry_days",
                "expiry_policy_rule", "metadata_status", "drop_role_on_create",
                "expiry_policy_after_create", "propagation_lag")

    # ------------------------------------------------------------------ platform hooks
    def setup(self) -> str:
        self.org_name = "tokenops"
        self.team_name = "platform"
        self.user_login = "alice"
        self.member_login = "bob"
        self.members: dict[str, str] = {self.user_login: "admin", self.member_login: "member"}
        self.teams: dict[str, Team] = {}
        self.roles: dict[str, dict] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._used_names: set[str] = set()    # org and team token names, deleted ones included
        self.add_team(self.team_name, "Platform")
        self.admin_token_id, secret = self.add_personal_token("sandbox admin")
        return secret

    def error(self, status: int, message: str, headers: dict | None = None) -> Response:
        return self.json({"code": status, "message": message}, status, headers)

    def rate_limited(self, retry_after: float) -> Response:
        wait = max(1, round(retry_after))
        headers = {"Retry-After": str(wait)} if self.send_retry_after else {}
        return self.error(429, "Too Many Requests: rate limit exceeded", headers)

    def credential(self, environ: dict) -> str | None:
        return self._presented_value(environ.get("HTTP_AUTHORIZATION"))

    def seed_demo(self) -> None:
        self.add_personal_token("ci-deploy", created=days_ago(120), last_used=days_ago(1))
        self.add_personal_token("laptop", created=days_ago(10))
        self.add_personal_token("nightly-build", created=days_ago(85),
                                expires=utcnow() + timedelta(days=5))
        self.add_personal_token("old-expired", created=days_ago(200), expires=days_ago(20))
        self.add_refresh_token("agent signup", created=days_ago(30))
        self.add_org_token("ci-org-admin", admin=True, created=days_ago(120))
        self.add_org_token("reader-bot", created=days_ago(20),
                           expires=utcnow() + timedelta(days=300))
        self.add_team_token(self.team_name, "platform-deployer", created=days_ago(100))

    def reset(self) -> str:
        """Revoke every secret, forget all state and per-instance switches; return a new admin
        credential (also stored in ``admin_token``). Lets one running sandbox serve many tests."""
        for token in list(self._tokens.values()):
            self._delete(token)
        for switch in self.SWITCHES:
            self.__dict__.pop(switch, None)
        self.reset_generic_switches()     # back to the class defaults
        self.rate_limiter = None
        self.admin_token = self.setup()
        return self.admin_token

    # ------------------------------------------------------------------ seeding helpers
    def add_personal_token(self, description: str = "", created: datetime | None = None,
                           expires: Moment = None, last_used: Moment = None,
                           user: str | None = None) -> tuple[str, str]:
        """A personal token of ``user`` (default: the admin user); returns (id, secret)."""
        login = user or self.user_login
        return self._seed(PERSONAL, login, login, created, description=description,
                          expires=epoch(expires), last_used=epoch(last_used))

    def add_refresh_token(self, description: str = "", created: datetime | None = None,
                          expires: Moment = None, user: str | None = None) -> tuple[str, str]:
        """An agent-signup refresh token: listed with personal tokens, never a credential."""
        login = user or self.user_login
        return self._seed(REFRESH, login, login, created, description=description,
                          expires=epoch(expires))

    def add_org_token(self, name: str, admin: bool = False, description: str = "",
                      created: datetime | None = None, expires: Moment = None,
                      last_used: Moment = None, role_id: str | None = None) -> tuple[str, str]:
        """An organization token; its name is reserved forever. Returns (id, secret)."""
        self._reserve_seed_name(name)
        return self._seed(ORGANIZATION, self.org_name, self.user_login, created, name=name,
                          description=description, expires=epoch(expires),
                          last_used=epoch(last_used), admin=admin, role_id=role_id)

    def add_team_token(self, team: str, name: str, description: str = "",
                       created: datetime | None = None, expires: Moment = None,
                       last_used: Moment = None) -> tuple[str, str]:
        """A token of ``team`` (created if missing); its name is reserved forever."""
        if team not in self.teams:
            self.add_team(team)
        self._reserve_seed_name(name)
        return self._seed(TEAM, team, self.user_login, created, name=name,
                          description=description, expires=epoch(expires),
                          last_used=epoch(last_used))

    def add_personal_tokens(self, count: int, prefix: str = "bulk",
                            **options: Any) -> list[tuple[str, str]]:
        """``count`` personal tokens described ``<prefix>-000``...; for pagination tests."""
        return [self.add_personal_token(f"{prefix}-{index:03d}", **options)
                for index in range(count)]

    def add_org_tokens(self, count: int, prefix: str = "bulk-org",
                       **options: Any) -> list[tuple[str, str]]:
        """``count`` org tokens named ``<prefix>-000``...; for pagination tests."""
        return [self.add_org_token(f"{prefix}-{index:03d}", **options) for index in range(count)]

    def add_team(self, name: str, display_name: str | None = None, description: str = "") -> Team:
        """A Pulumi-managed team of the organization."""
        self.teams[name] = Team(name, display_name or name, description)
        return self.teams[name]

    def add_teams(self, count: int, prefix: str = "team") -> list[Team]:
        return [self.add_team(f"{prefix}-{index:03d}") for index in range(count)]

    def add_role(self, role_id: str, name: str, default_identifier: str = "member") -> dict:
        """A custom role that org tokens may be created with (``roleID``). A token acts as its
        role's ``defaultIdentifier`` ("admin" passes the admin-only endpoints)."""
        self.roles[role_id] = {"id": role_id, "name": name, "defaultIdentifier": default_identifier}
        return self.roles[role_id]

    def token_by_id(self, token_id: str) -> dict | None:
        """The token as the list endpoints show it (no secret), or None once deleted."""
        token = self._tokens.get(token_id)
        return self._token_json(token) if token else None

    def tokens(self, kind: str | None = None) -> list[dict]:
        """Every token not deleted (expired included), optionally of one ``type``."""
        return [self._token_json(token) for token in self._tokens.values()
                if kind is None or token.type == kind]

    def secret_of(self, token_id: str) -> str | None:
        """The secret a token was issued with, while the token exists."""
        token = self._tokens.get(token_id)
        return token.secret if token else None

    def delete_token(self, token_id: str) -> None:
        """Delete a token as the platform would (its name stays reserved)."""
        self._delete(self._tokens[token_id])

    def name_reserved(self, name: str) -> bool:
        """Whether an org or team token ever carried this name."""
        return name in self._used_names

    def _reserve_seed_name(self, name: str) -> None:
        if name in self._used_names:
            raise ValueError(f"token name {name!r} is already reserved in {self.org_name}")
        self._used_names.add(name)

    def _seed(self, kind: str, owner: str, created_by: str, created: datetime | None,
              **attributes: Any) -> tuple[str, str]:
        token = self._new_token(kind, owner, created_by, created, **attributes)
        return token.id, token.secret

    def _new_token(self, kind: str, owner: str, created_by: str, created: datetime | None,
                   **attributes: Any) -> AccessToken:
        created = created or self.now()
        token_id = str(uuid.uuid4())
        expires = attributes.get("expires", 0)
        secret = self.secrets.issue(
            self.name, kind, {"token_id": token_id, "type": kind, "owner": owner},
            value="pul-" + random_token(40, "0123456789abcdef"), issued_at=created,
            expires_at=datetime.fromtimestamp(expires, timezone.utc) if expires else None)
        token = AccessToken(token_id, kind, secret.value, created, owner, created_by, **attributes)
        self._tokens[token_id] = token
        return token

    def _delete(self, token: AccessToken) -> None:
        del self._tokens[token.id]
        self.secrets.revoke(token.secret)

    # ------------------------------------------------------------------ routes
    def routes(self, app: Flask) -> None:
        app.register_error_handler(ApiError, lambda exc: self.error(exc.status, exc.message))
        app.register_error_handler(HTTPException, self._http_error)
        app.register_error_handler(
            Exception, lambda exc: self.error(500, "Internal Server Error: unexpected error"))
        org, team = "/api/orgs/<org>", "/api/orgs/<org>/teams/<team>"
        rules = [
            ("/api/user", "GET", self.current_user),
            ("/api/user/tokens", "GET", self.list_personal_tokens),
            ("/api/user/tokens", "POST", self.create_personal_token),
            ("/api/user/tokens/<token_id>", "DELETE", self.delete_personal_token),
            (f"{org}/tokens", "GET", self.list_org_tokens),
            (f"{org}/tokens", "POST", self.create_org_token),
            (f"{org}/tokens/<token_id>", "DELETE", self.delete_org_token),
            (f"{org}/roles/<role_id>/tokens", "GET", self.list_role_tokens),
            (f"{org}/metadata", "GET", self.get_org_metadata),
            (f"{org}/auditlogs", "GET", self.list_audit_log_events),
            (f"{org}/teams", "GET", self.list_teams),
            (team, "GET", self.get_team),
            (f"{team}/tokens", "GET", self.list_team_tokens),
            (f"{team}/tokens", "POST", self.create_team_token),
            (f"{team}/tokens/<token_id>", "DELETE", self.delete_team_token),
        ]
        for path, method, view in rules:
            app.add_url_rule(path, f"{method} {path}", view, methods=[method])

    def _http_error(self, exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 404 and self.router_404_plain_text:
            return Response("404 page not found\n", 404, content_type="text/plain; charset=utf-8")
        headers = {}
        if isinstance(exc, MethodNotAllowed):
            headers["Allow"] = ", ".join(sorted(exc.valid_methods or []))
        return self.error(status, f"{HTTPStatus(status).phrase}: {request.method} {request.path}",
                          headers)

    # ------------------------------------------------------------------ current user
    def current_user(self) -> Response:
        """Any working credential: a user, or for org and team tokens the org / team bot."""
        return self.json(self._user_json(self._caller()))

    def _user_json(self, caller: AccessToken) -> dict:
        # Assume: org and team tokens act as a bot named after the org / team, with tokenInfo.
        if caller.type == PERSONAL:
            login, role, info = caller.owner, self.members.get(caller.owner, "member"), None
        else:
            login, role = caller.owner, "admin" if caller.admin else "member"
            info = {"name": caller.name, "organization": self.org_name,
                    "team": caller.owner if caller.type == TEAM else ""}
        body = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pulumi-user/{login}")),
            "githubLogin": login, "name": login,
            "email": f"{login}@example.com" if caller.type == PERSONAL else "",
            "avatarUrl": "",
            "organizations": [{"name": self.org_name, "githubLogin": self.org_name,
                               "avatarUrl": "", "role": role}],
            "identities": [], "siteAdmin": False, "hasMFA": False,
            "isOrgManaged": False, "isManagedByMultiOrg": False,
        }
        if info is not None:
            body["tokenInfo"] = info
        return body

    # ------------------------------------------------------------------ personal tokens
    def list_personal_tokens(self) -> Response:
        login = self._user_caller().owner
        return self._list(lambda token: token.type in USER_KINDS and token.owner == login)

    def create_personal_token(self) -> Response:
        login = self._user_caller().owner
        body = self._body()
        token = self._new_token(PERSONAL, login, login, None,
                                description=self._description(body), expires=self._expires(body))
        return self._created(token)

    def delete_personal_token(self, token_id: str) -> Response:
        login = self._user_caller().owner
        token = self._tokens.get(token_id)
        if token is None or token.type not in USER_KINDS or token.owner != login:
            raise ApiError(404, TOKEN_NOT_FOUND)
        self._delete(token)
        return self.empty()

    # ------------------------------------------------------------------ organization tokens
    def list_org_tokens(self, org: str) -> Response:
        self._authorize(org, self._manages_team_tokens)
        return self._list(lambda token: token.type == ORGANIZATION)

    def create_org_token(self, org: str) -> Response:
        caller = self._authorize(org, self._is_org_admin_user)
        body = self._body()
        name = self._token_name(body)
        attributes = dict(description=self._description(body),
                          expires=self._within_policy(self._expires(body)),
                          admin=self._admin_flag(body), role_id=self._role_id(body))
        if self.drop_role_on_create:
            attributes["role_id"] = None
        self._claim_name(name)
        token = self._new_token(ORGANIZATION, self.org_name, caller.owner, None, name=name,
                                **attributes)
        self._tighten_policy_after_create()
        return self._created(token)

    def delete_org_token(self, org: str, token_id: str) -> Response:
        self._authorize(org, self._is_org_admin_user)
        token = self._existing(token_id)
        if token.type != ORGANIZATION:
            # Assume: mirrors the team endpoint's documented 400 for a token of another kind.
            raise ApiError(400, "the requested token is not an organization token")
        self._delete(token)
        return self.empty()

    def list_role_tokens(self, org: str, role_id: str) -> Response:
        self._authorize(org, self._manages_team_tokens)
        if role_id not in self.roles:
            raise ApiError(404, f"role '{role_id}' not found")
        tokens = [self._token_json(token) for token in self._ordered(self._tokens.values())
                  if token.type == ORGANIZATION and token.role_id == role_id]
        return self.json({"tokens": tokens})

    def get_org_metadata(self, org: str) -> Response:
        """``OrganizationMetadata`` as pulumi-cloud-sdk models it (its required fields, so that
        the SDK reads it), with ``maxAccessTokenExpiryDays`` (0: no policy)."""
        caller = self._authorize(org, lambda caller: True)
        if self.metadata_status:
            raise ApiError(self.metadata_status, "you are not allowed to perform this operation")
        role = "admin" if self._acts_as_admin(caller) else "member"
        return self.json({
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pulumi-org/{self.org_name}")),
            "kind": "pulumi", "created": "2024-01-02T03:04:05Z", "userRole": role,
            "defaultStackPermission": 102, "defaultEnvironmentPermission": "read",
            "defaultAccountPermission": 1, "membersCanCreateStacks": True,
            "membersCanDeleteStacks": False, "membersCanTransferStacks": False,
            "membersCanCreateTeams": False, "membersCanCreateAccounts": False,
            "neoEnabled": False, "neoApprovalMode": "manual", "neoTaskSharingMode": "none",
            "neoCLIExplanationsDisabled": True, "naturalLanguageSearchDisabled": True,
            "neoAgentDisabled": True, "insightsTrialUsingPolicy": False, "aiEnablement": "off",
            "preferredVCS": "none", "auditLogsEnabled": True, "webhooksEnabled": True,
            "features": dict.fromkeys(ORGANIZATION_FEATURES, False),
            "accountCount": 0, "environmentCount": 0, "stackCount": 0,
            "memberCount": len(self.members),
            "maxAccessTokenExpiryDays": self.max_access_token_expiry_days or 0})

    def list_audit_log_events(self, org: str) -> Response:
        """Admin only ("Get audit log events": the Admin column of the docs' permission table):
        the endpoint a consumer of an admin token proves its power on."""
        self._authorize(org, self._acts_as_admin)
        return self.json({"auditLogEvents": []})

    # ------------------------------------------------------------------ teams and team tokens
    def list_teams(self, org: str) -> Response:
        self._authorize(org, lambda caller: True)
        return self.json({"teams": [self._team_json(team) for team in self.teams.values()]})

    def get_team(self, org: str, team: str) -> Response:
        self._authorize(org, lambda caller: True)
        return self.json(self._team_json(self._team(team)))

    def list_team_tokens(self, org: str, team: str) -> Response:
        self._authorize(org, self._manages_team_tokens)
        self._team(team)
        return self._list(lambda token: token.type == TEAM and token.owner == team)

    def create_team_token(self, org: str, team: str) -> Response:
        caller = self._authorize(org, self._manages_team_tokens)
        self._team(team)
        body = self._body()
        name = self._token_name(body)
        attributes = dict(description=self._description(body),
                          expires=self._within_policy(self._expires(body)))
        self._claim_name(name)
        token = self._new_token(TEAM, team, caller.owner, None, name=name, **attributes)
        self._tighten_policy_after_create()
        return self._created(token)

    def _tighten_policy_after_create(self) -> None:
        if self.expiry_policy_after_create is not None:
            self.max_access_token_expiry_days = self.expiry_policy_after_create
            self.expiry_policy_after_create = None

    def delete_team_token(self, org: str, team: str, token_id: str) -> Response:
        self._authorize(org, self._manages_team_tokens)
        self._team(team)
        if token_id not in self._tokens and self.gone_team_token_delete_status == 400:
            raise ApiError(400, NOT_TEAM_TOKEN)
        token = self._existing(token_id)
        if token.type != TEAM:
            raise ApiError(400, NOT_TEAM_TOKEN)
        if token.owner != team:
            raise ApiError(404, TOKEN_NOT_FOUND)    # Assume: another team's token is unknown here
        self._delete(token)
        return self.empty()

    def _team(self, name: str) -> Team:
        if name not in self.teams:
            raise ApiError(404, f"team '{name}' not found")    # Assume: undocumented
        return self.teams[name]

    @staticmethod
    def _team_json(team: Team) -> dict:
        return {"kind": "pulumi", "name": team.name, "displayName": team.display_name,
                "description": team.description, "members": []}

    # ------------------------------------------------------------------ auth and permissions
    @staticmethod
    def _presented_value(header: str | None) -> str | None:
        scheme, _ignored, value = (header or "").partition(" ")
        if scheme.lower() != "token":       # the literal word "token", never "Bearer"
            return None
        return value.strip() or None

    def _caller(self) -> AccessToken:
        value = self._presented_value(request.headers.get("Authorization"))
        secret = self.authenticate(value)
        token = self._tokens.get(secret.subject["token_id"]) if secret else None
        if token is None or token.type == REFRESH:
            raise ApiError(401, UNAUTHORIZED)
        token.last_used = epoch(self.now())
        return token

    def _user_caller(self) -> AccessToken:
        caller = self._caller()
        if caller.type != PERSONAL:
            # Assume: org and team tokens have no personal tokens of their own.
            raise ApiError(403, "personal access tokens can only be managed by a user")
        return caller

    def _authorize(self, org: str, allowed: Callable[[AccessToken], bool]) -> AccessToken:
        """Auth (401), then the org exists (404), then the caller may do this (403)."""
        caller = self._caller()
        if org != self.org_name:
            raise ApiError(404, f"organization '{org}' not found")      # Assume: undocumented
        if not self.complies(caller):
            # Assume: the blog says only that the 403 names the organization and its maximum.
            raise ApiError(403, f"access token does not comply with the access token expiry "
                                f"policy of organization '{org}' (tokens may live at most "
                                f"{self.max_access_token_expiry_days} days); create a new "
                                f"token that meets the policy")
        if not allowed(caller):
            raise ApiError(403, "you are not allowed to perform this operation")
        return caller

    def complies(self, token: AccessToken) -> bool:
        """Whether ``token`` meets the organization's expiry policy (always, without one)."""
        days = self.max_access_token_expiry_days
        if not days:
            return True
        if token.expires == 0:
            return False        # never-expiring tokens violate any policy
        start = token.created if self.expiry_policy_rule == "total" else self.now()
        return token.expires - start.timestamp() <= days * 86400

    def _acts_as_admin(self, caller: AccessToken) -> bool:
        """An org admin user, an admin org token, or a token whose role's default identity is
        admin (the admin-only rows of the docs' permission table)."""
        role = self.roles.get(caller.role_id or "")
        return (self._is_org_admin_user(caller) or (caller.type == ORGANIZATION and caller.admin)
                or (role or {}).get("defaultIdentifier") == "admin")

    def _is_org_admin_user(self, caller: AccessToken) -> bool:
        # Only an org admin user may create or delete org tokens; admin org tokens may not.
        return caller.type == PERSONAL and self.members.get(caller.owner) == "admin"

    def _manages_team_tokens(self, caller: AccessToken) -> bool:
        # Listing tokens and managing team tokens: org admins and admin org tokens.
        return self._is_org_admin_user(caller) or (caller.type == ORGANIZATION and caller.admin)

    def _existing(self, token_id: str) -> AccessToken:
        token = self._tokens.get(token_id)
        if token is None or token.type in USER_KINDS:
            raise ApiError(404, TOKEN_NOT_FOUND)    # Assume: 404, as for personal tokens
        return token

    # ------------------------------------------------------------------ request bodies
    def _body(self) -> dict:
        raw = request.get_data()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid JSON body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    @staticmethod
    def _description(body: dict) -> str:
        description = body.get("description", "")      # Assume: optional, default ""
        if not isinstance(description, str):
            raise ApiError(400, "description must be a string")
        return description

    def _expires(self, body: dict) -> int:
        """0 (never) when omitted; otherwise a Unix time in (now, now + 2 years]."""
        expires = body.get("expires", 0)
        if isinstance(expires, bool) or not isinstance(expires, int):
            raise ApiError(400, "expires must be a unix timestamp in seconds")
        now = self.now()
        if expires == 0:
            return 0
        if expires <= now.timestamp():
            raise ApiError(400, "expires must be in the future")
        if expires > two_years_after(now).timestamp():
            raise ApiError(400, "expires must be no more than two years from now")
        return expires

    def _within_policy(self, expires: int) -> int:
        """Organization and team token creates must meet the expiry policy. Assume 400 (the
        blog says only that "the API rejects requests that exceed it")."""
        days = self.max_access_token_expiry_days
        if days and (expires == 0 or expires - self.now().timestamp() > days * 86400):
            raise ApiError(400, f"expires must be within the organization's maximum access "
                                f"token expiry of {days} days")
        return expires

    @staticmethod
    def _token_name(body: dict) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "Token name is required")
        if len(name) > MAX_NAME_LENGTH:
            raise ApiError(400, f"Token name must be at most {MAX_NAME_LENGTH} characters")
        if not NAME_PATTERN.fullmatch(name):
            raise ApiError(400, "Token name may only contain alphanumeric, hyphens, or underscores")
        return name

    def _claim_name(self, name: str) -> None:
        if name in self._used_names:
            raise ApiError(409, "token name already exists")
        self._used_names.add(name)

    @staticmethod
    def _admin_flag(body: dict) -> bool:
        admin = body.get("admin", False)    # Assume: omitted means a non-admin token
        if not isinstance(admin, bool):
            raise ApiError(400, "admin must be a boolean")
        return admin

    def _role_id(self, body: dict) -> str | None:
        role_id = body.get("roleID")
        if role_id is not None and (not isinstance(role_id, str) or role_id not in self.roles):
            raise ApiError(400, f"role '{role_id}' not found")      # Assume: undocumented
        return role_id

    # ------------------------------------------------------------------ responses
    def _created(self, token: AccessToken) -> Response:
        return self.json({"id": token.id, "tokenValue": token.secret})

    def _token_json(self, token: AccessToken) -> dict:
        body = {"id": token.id, "name": token.name, "description": token.description,
                "created": self._timestamp(token.created), "lastUsed": token.last_used,
                "expires": token.expires, "admin": token.admin, "createdBy": token.created_by,
                "type": token.type}
        if token.role_id in self.roles:
            body["role"] = self.roles[token.role_id]
        return body

    def _timestamp(self, moment: datetime) -> str:
        if self.created_style == "iso_ms":
            return isoformat_ms(moment) or ""
        if self.created_style == "space":
            return (isoformat_ms(moment) or "").replace("T", " ").removesuffix("Z")
        if self.created_style == "go":      # Go's time.Time.String(), as a Go server may print it
            utc = moment.astimezone(timezone.utc)
            return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d} +0000 UTC"
        return isoformat_s(moment) or ""

    # ------------------------------------------------------------------ listing
    def _list(self, belongs: Callable[[AccessToken], bool]) -> Response:
        """One page of the caller's tokens, filtered, searched and sorted as the query asks."""
        args = request.args
        shown = self._choice("filter", FILTERS, "active")
        page_size = self.served(self._page_size(args.get("maxResults")))
        offset = decode_cursor(args["continuationToken"]) if args.get("continuationToken") else 0
        search = args.get("search", "").lower()
        now = epoch(self.now())
        matching = [token for token in self._ordered(self._tokens.values())
                    if belongs(token) and self._shown(token, shown, now)
                    and search in f"{token.name}\n{token.description}".lower()]
        body: dict = {"tokens": [self._token_json(token)
                                 for token in matching[offset:offset + page_size]]}
        if offset + page_size < len(matching):
            body["continuationToken"] = encode_cursor(offset + page_size)
        elif self.null_continuation_token:
            body["continuationToken"] = None
        return self.json(body)

    def _ordered(self, tokens: Any) -> list[AccessToken]:
        """Assume: oldest first unless ``sortBy`` / ``sortDirection`` say otherwise."""
        key = SORT_KEYS[self._choice("sortBy", tuple(SORT_KEYS), "created")]
        descending = self._choice("sortDirection", SORT_DIRECTIONS, "asc") == "desc"
        return sorted(tokens, key=key, reverse=descending)

    @staticmethod
    def _shown(token: AccessToken, shown: str, now: int) -> bool:
        if shown == "all":
            return True
        return token.is_expired(now) == (shown == "expired")

    @staticmethod
    def _choice(parameter: str, allowed: tuple[str, ...], default: str) -> str:
        value = request.args.get(parameter, default)
        if value not in allowed:
            raise ApiError(400, f"invalid {parameter} '{value}'")
        return value

    def _page_size(self, raw: str | None) -> int:
        if raw is None:
            return self.default_page_size
        try:
            size = int(raw)
        except ValueError:
            raise ApiError(400, f"invalid maxResults '{raw}'") from None
        if not 1 <= size <= self.max_page_size:
            raise ApiError(400, f"maxResults must be between 1 and {self.max_page_size}")
        return size
