"""GitHub (github.com and GitHub Enterprise Server): GitHub Actions secrets.

A stand-in, since no GitHub server runs here; its fidelity is checked by GitHub's own CLI
(``tests/fidelity/test_github.py`` runs ``gh secret set/list/delete`` against it over TLS).
What it serves, as GitHub's REST docs (docs.github.com/rest/actions/secrets) show it:

* repository, environment and organization **public keys**
  (``GET .../secrets/public-key`` → ``{"key_id", "key"}``: a base64 X25519 key);
* **secrets** of each: ``PUT`` with ``encrypted_value`` + ``key_id`` (201 with ``{}`` when
  created, 204 when updated), ``GET`` metadata (``name``, ``created_at``, ``updated_at`` at
  second precision; never the value), list (``total_count`` + ``secrets``, ``per_page`` default
  30, max 100, ``Link`` headers), ``DELETE`` (204); organization secrets also carry
  ``visibility`` (``all``, ``private``, ``selected``) and ``selected_repositories_url``, and
  their repositories are listed and replaced at ``.../secrets/NAME/repositories``;
* environment secrets also at the older ``/repositories/{repository_id}/environments/...``
  paths; ``GET /repos/{owner}/{repo}`` and ``/environments``, ``GET /orgs/{org}``, ``GET /user``,
  ``GET /rate_limit``;
* the same routes under ``/api/v3`` (GitHub Enterprise Server), and a GraphQL endpoint
  (``/graphql``, ``/api/graphql``) that answers only what ``gh secret set --repos`` asks:
  ``repository(owner:, name:) { databaseId }`` under aliases.

The stand-in decrypts every value it receives (a libsodium sealed box opened with the target's
private key, PyNaCl) and keeps the plaintext: ``secret_value(...)`` is the oracle of what a
workflow would read.

Errors are GitHub's JSON body ``{"message", "documentation_url", "status"}``. Who may do what:

* tokens are classic personal access tokens (``ghp_…``, ``scopes``) or fine-grained ones
  (``github_pat_…``: the repositories they select, repository ``permissions`` such as
  ``{"secrets": "write", "environments": "read"}`` and ``organization_permissions`` such as
  ``{"secrets": "write"}``); both act as their user;
* a repository is visible to a token when it is public, or when its user has a role on it
  and the token reaches it (classic: the ``repo`` scope; fine-grained: the repository is
  selected or the token has all repositories). A repository, or an environment of one, that is
  missing or invisible answers 404, as GitHub does to an unauthorised caller;
* repository and environment secrets need a ``write`` or ``admin`` role on the repository
  (a ``read`` role: 403 "Must have admin rights to Repository.", as github/docs#8338 and
  #29818 report); a fine-grained token also needs the ``secrets`` permission (repository
  secrets) or ``environments`` (environment secrets) at ``read`` for reads and ``write`` for
  writes, else 403 "Resource not accessible by personal access token";
* organization secrets need an organization admin, with ``admin:org`` (classic) or the
  organization ``secrets`` permission (fine-grained); else 403;
* every answer carries ``x-ratelimit-limit``, ``-remaining``, ``-used``, ``-reset`` (epoch
  seconds) and ``-resource: core``; past the limit (``rate_limit`` per hour and credential,
  default 5000) 403 "API rate limit exceeded …" (``rate_limit_status = 429`` for the other
  answer GitHub documents) with ``x-ratelimit-remaining: 0``; classic tokens also get
  ``x-oauth-scopes`` and ``x-accepted-oauth-scopes``.

Choices where GitHub documents no answer: a PUT whose ``key_id`` is not the current key, whose
``encrypted_value`` is not a sealed box for it, a secret name GitHub's rules refuse, a value
over 48 KB, ``selected_repository_ids`` without ``visibility: selected`` or naming a repository
outside the organization: 422 with a message that says so. A missing ``key_id`` answers
GitHub's own "Invalid request.\\n\\n\\"key_id\\" wasn't supplied." (octokit/request.js#403).
Secret names are case-insensitive and kept upper-case, as GitHub shows them.
"""
from __future__ import annotations

import base64
import math
import re
import secrets as _random
import string
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from werkzeug.exceptions import HTTPException

from .core import Platform, isoformat_s, random_token

ALNUM = string.ascii_letters + string.digits
DOCS = "https://docs.github.com/rest"
SECRETS_DOCS = DOCS + "/actions/secrets"
RATE_LIMIT_DOCS = DOCS + "/overview/rate-limits-for-the-rest-api"
ENTERPRISE_PREFIX = "/api/v3"
PREFIX_KEY = "tokenops.api_prefix"
DEFAULT_PER_PAGE, MAX_PER_PAGE = 30, 100
MAX_SECRET_BYTES = 48 * 1024
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ROLES = ("read", "triage", "write", "maintain", "admin")
WRITERS = ("write", "maintain", "admin")
VISIBILITIES = ("all", "private", "selected")
NOT_ACCESSIBLE = "Resource not accessible by personal access token"
REPO_ADMIN = "Must have admin rights to Repository."
ORG_ADMIN = "Must have admin rights to Organization."
GRAPHQL_REPOSITORY = re.compile(
    r'(\w+)\s*:\s*repository\s*\(\s*owner\s*:\s*"([^"]*)"\s*,\s*name\s*:\s*"([^"]*)"\s*\)'
    r'\s*\{\s*databaseId\s*\}')


class GitHubError(Exception):
    def __init__(self, status: int, message: str, documentation_url: str = DOCS,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message = status, message
        self.documentation_url, self.headers = documentation_url, headers or {}


@dataclass
class KeyPair:
    """The X25519 key a target's secrets are sealed to."""
    key_id: str
    private: PrivateKey

    @classmethod
    def new(cls) -> "KeyPair":
        return cls(str(_random.randbelow(9 * 10 ** 17) + 10 ** 17), PrivateKey.generate())

    @property
    def public_b64(self) -> str:
        return base64.b64encode(bytes(self.private.public_key)).decode()


@dataclass
class ActionsSecret:
    name: str
    value: str              # the decrypted plaintext: the oracle, never served
    created_at: datetime
    updated_at: datetime
    visibility: str | None = None           # organization secrets only
    selected: list[int] = field(default_factory=list)


@dataclass
class Scope:
    """What holds secrets: a repository, an environment or an organization."""
    keys: KeyPair = field(default_factory=KeyPair.new)
    secrets: dict[str, ActionsSecret] = field(default_factory=dict)


@dataclass
class Environment(Scope):
    id: int = 0
    name: str = ""
    created_at: datetime | None = None


@dataclass
class Repository(Scope):
    id: int = 0
    owner: str = ""
    name: str = ""
    private: bool = True
    roles: dict[str, str] = field(default_factory=dict)     # login → role
    environments: dict[str, Environment] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Organization(Scope):
    id: int = 0
    login: str = ""
    admins: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)


@dataclass
class User:
    id: int
    login: str


def _lower(name: str) -> str:
    return name.lower()


class GitHub(Platform):
    name = "github"
    base_path = ""
    content_type = "application/json; charset=utf-8"
    #: GitHub's primary limit for a user's token: 5000 requests per hour
    published_rate_limit = (5000, 3600.0)

    # Switches: tests flip them on the instance.
    organization = "tokenops"
    admin_login = "tokenops-admin"
    enterprise = False          # True: ``url`` is the GitHub Enterprise Server base, HOST/api/v3
    rate_limit = 5000           # requests per hour and credential
    rate_limit_status = 403     # GitHub answers a spent primary limit with 403 or 429

    # -- wiring ------------------------------------------------------------------------------
    def routes(self, app: Flask) -> None:
        app.before_request(self._authenticate)
        app.after_request(self._rate_limit_headers)
        app.register_error_handler(GitHubError, self._render)
        app.register_error_handler(HTTPException, self._render_http_exception)
        app.register_error_handler(Exception, lambda exc: self.error(500, "Server Error"))
        repo = "/repos/<owner>/<repo>"
        env = repo + "/environments/<environment>"
        legacy_env = "/repositories/<int:repository_id>/environments/<environment>"
        org = "/orgs/<org>"
        one = "/<secret>"
        routes: dict[str, dict[str, Callable[..., Response]]] = {
            "/user": {"GET": self._user},
            "/rate_limit": {"GET": self._rate_limit},
            org: {"GET": self._show_org},
            repo: {"GET": self._show_repo},
            repo + "/environments": {"GET": self._list_environments},
            env: {"GET": self._show_environment},
            repo + "/actions/secrets/public-key": {"GET": self._repo_key},
            repo + "/actions/secrets": {"GET": self._repo_list},
            repo + "/actions/secrets" + one: {"GET": self._repo_get, "PUT": self._repo_put,
                                              "DELETE": self._repo_delete},
            env + "/secrets/public-key": {"GET": self._env_key},
            env + "/secrets": {"GET": self._env_list},
            env + "/secrets" + one: {"GET": self._env_get, "PUT": self._env_put,
                                     "DELETE": self._env_delete},
            legacy_env + "/secrets/public-key": {"GET": self._legacy_env_key},
            legacy_env + "/secrets": {"GET": self._legacy_env_list},
            legacy_env + "/secrets" + one: {"GET": self._legacy_env_get,
                                            "PUT": self._legacy_env_put,
                                            "DELETE": self._legacy_env_delete},
            org + "/actions/secrets/public-key": {"GET": self._org_key},
            org + "/actions/secrets": {"GET": self._org_list},
            org + "/actions/secrets" + one: {"GET": self._org_get, "PUT": self._org_put,
                                             "DELETE": self._org_delete},
            org + "/actions/secrets/<secret>/repositories": {"GET": self._org_repos,
                                                             "PUT": self._org_set_repos},
            org + "/actions/secrets/<secret>/repositories/<int:repository_id>": {
                "PUT": self._org_add_repo, "DELETE": self._org_remove_repo},
            "/graphql": {"POST": self._graphql},
        }
        # One catch-all rule and our own matching: werkzeug compiles every rule it is given,
        # which made this stand-in the slowest part of starting a sandbox (one per test).
        self._router = [(_pattern(path), views) for path, views in routes.items()]
        app.add_url_rule("/<path:path>", endpoint="route", view_func=self._dispatch,
                         methods=["GET", "PUT", "POST", "DELETE", "PATCH"])
        app.wsgi_app = _strip_enterprise_prefix(app.wsgi_app)

    def _dispatch(self, path: str) -> Response:
        for pattern, views in self._router:
            found = pattern.fullmatch("/" + path)
            if found is not None and request.method in views:
                arguments = {name: int(value) if name == "repository_id" else value
                             for name, value in found.groupdict().items()}
                return views[request.method](**arguments)
        raise GitHubError(404, "Not Found")

    def setup(self) -> str:
        self._ids = iter(range(1_000_001, 10 ** 9))
        self._users: dict[str, User] = {}
        self._orgs: dict[str, Organization] = {}
        self._repos: dict[str, Repository] = {}
        self._usage: dict[str, tuple[float, int]] = {}     # credential → (window start, used)
        self.add_user(self.admin_login)
        self.add_org(self.organization, admins=[self.admin_login])
        return self.issue_token(self.admin_login, scopes=("repo", "admin:org", "workflow"))

    def seed_demo(self) -> None:
        self.add_repo(f"{self.organization}/infra", environments=["production"])
        self.add_repo(f"{self.organization}/app", private=False)

    @property
    def url(self) -> str:
        root = self.sandbox.root_url(self.name)
        return root + ENTERPRISE_PREFIX if self.enterprise else root

    def credential(self, environ: dict) -> str | None:
        scheme, _ignored, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        return (value.strip() or None) if scheme.lower() in ("token", "bearer") else None

    # -- public helpers for tests (no HTTP) --------------------------------------------------
    def add_user(self, login: str) -> int:
        if _lower(login) in self._users:
            raise ValueError(f"user {login!r} exists")
        user = User(next(self._ids), login)
        self._users[_lower(login)] = user
        return user.id

    def add_org(self, login: str, admins: list[str] = (), members: list[str] = ()) -> int:
        if _lower(login) in self._orgs:
            raise ValueError(f"organization {login!r} exists")
        org = Organization(id=next(self._ids), login=login, admins=set(map(_lower, admins)),
                           members=set(map(_lower, members)))
        self._orgs[_lower(login)] = org
        return org.id

    def add_repo(self, full_name: str, private: bool = True, roles: dict | None = None,
                 environments: list[str] = ()) -> int:
        """A repository owned by an organization (whose admins are its admins) or a user."""
        owner, _slash, name = full_name.partition("/")
        if not owner or not name or _lower(full_name) in self._repos:
            raise ValueError(f"bad or existing repository {full_name!r}")
        if _lower(owner) not in self._orgs and _lower(owner) not in self._users:
            raise ValueError(f"no user or organization {owner!r}")
        repo_roles = {_lower(login): role for login, role in (roles or {}).items()}
        if any(role not in ROLES for role in repo_roles.values()):
            raise ValueError(f"roles are {ROLES}")
        org = self._orgs.get(_lower(owner))
        for admin in (org.admins if org else {_lower(owner)}):
            repo_roles.setdefault(admin, "admin")
        repo = Repository(id=next(self._ids), owner=owner, name=name, private=private,
                          roles=repo_roles)
        self._repos[_lower(full_name)] = repo
        for environment in environments:
            self.add_environment(full_name, environment)
        return repo.id

    def set_role(self, full_name: str, login: str, role: str) -> None:
        """Give ``login`` a role (read … admin) on a repository."""
        if role not in ROLES:
            raise ValueError(f"roles are {ROLES}")
        self._repos[_lower(full_name)].roles[_lower(login)] = role

    def add_member(self, organization: str, login: str) -> None:
        """Make ``login`` a member (not an admin) of an organization."""
        self._orgs[_lower(organization)].members.add(_lower(login))

    def add_environment(self, full_name: str, name: str) -> int:
        repo = self._repos[_lower(full_name)]
        environment = Environment(id=next(self._ids), name=name, created_at=self.now())
        repo.environments[_lower(name)] = environment
        return environment.id

    def issue_token(self, login: str, scopes: tuple[str, ...] = ("repo",)) -> str:
        """A classic personal access token of ``login``."""
        user = self._users[_lower(login)]
        return self.secrets.issue(self.name, "classic", {
            "login": user.login, "user_id": user.id, "scopes": tuple(scopes)},
            value="ghp_" + random_token(36, ALNUM)).value

    def issue_fine_grained_token(self, login: str, repositories: list[str] | None = None,
                                 permissions: dict | None = None,
                                 organization_permissions: dict | None = None) -> str:
        """A fine-grained token: ``repositories`` None means all the user's repositories."""
        user = self._users[_lower(login)]
        return self.secrets.issue(self.name, "fine_grained", {
            "login": user.login, "user_id": user.id,
            "repositories": None if repositories is None else {_lower(r) for r in repositories},
            "permissions": dict(permissions or {}),
            "organization_permissions": dict(organization_permissions or {})},
            value="github_pat_" + random_token(82, ALNUM + "_")).value

    def repository_id(self, full_name: str) -> int:
        return self._repos[_lower(full_name)].id

    def public_key(self, repository: str | None = None, environment: str | None = None,
                   organization: str | None = None) -> tuple[str, str]:
        """``(key_id, base64 key)`` of a target."""
        keys = self._scope(repository, environment, organization).keys
        return keys.key_id, keys.public_b64

    def rotate_public_key(self, repository: str | None = None, environment: str | None = None,
                          organization: str | None = None) -> None:
        """Give a target a new key pair (a value sealed to the old one is then refused)."""
        self._scope(repository, environment, organization).keys = KeyPair.new()

    def put_secret(self, name: str, value: str, repository: str | None = None,
                   environment: str | None = None, organization: str | None = None,
                   visibility: str = "private") -> None:
        """Seed a secret, as if written through the API."""
        now = self.now()
        self._scope(repository, environment, organization).secrets[name.upper()] = \
            ActionsSecret(name.upper(), value, now, now,
                          visibility if organization is not None else None)

    def secret(self, name: str, repository: str | None = None, environment: str | None = None,
               organization: str | None = None) -> ActionsSecret | None:
        """The stored secret (its decrypted ``value`` is the oracle), or None."""
        return self._scope(repository, environment, organization).secrets.get(name.upper())

    def secret_value(self, name: str, **target: str) -> str | None:
        found = self.secret(name, **target)
        return found.value if found else None

    def selected_repositories(self, name: str, organization: str) -> list[str]:
        found = self.secret(name, organization=organization)
        by_id = {repo.id: repo.full_name for repo in self._repos.values()}
        return sorted(by_id[repo_id] for repo_id in found.selected) if found else []

    def _scope(self, repository: str | None, environment: str | None,
               organization: str | None) -> Scope:
        if organization is not None:
            return self._orgs[_lower(organization)]
        repo = self._repos[_lower(repository)]
        return repo.environments[_lower(environment)] if environment is not None else repo

    # -- errors ------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict | None = None) -> Response:
        return self._error_body(status, message, DOCS, headers)

    def rate_limited(self, retry_after: float) -> Response:
        """A secondary rate limit (the core limiter): 429 with ``retry-after``."""
        return self._error_body(429, "You have exceeded a secondary rate limit. Please wait a "
                                     "few minutes before you try again.", RATE_LIMIT_DOCS,
                                {"retry-after": str(max(1, math.ceil(retry_after)))})

    def _error_body(self, status: int, message: str, documentation_url: str,
                    headers: dict | None = None) -> Response:
        return self.json({"message": message, "documentation_url": documentation_url,
                          "status": str(status)}, status, headers)

    def _render(self, exc: GitHubError) -> Response:
        return self._error_body(exc.status, exc.message, exc.documentation_url, exc.headers)

    def _render_http_exception(self, exc: HTTPException) -> Any:
        status = exc.code or 500
        if status < 400:
            return exc
        return self._error_body(status, "Not Found" if status == 404 else
                                (exc.name or "Error"), DOCS)

    # -- authentication, rate limit ----------------------------------------------------------
    def _authenticate(self) -> Response | None:
        g.caller = None
        g.accepted_scopes = None
        raw = self.credential(request.environ)
        if raw is None and request.headers.get("Authorization"):
            raise GitHubError(401, "Bad credentials")
        if raw is not None:
            secret = self.secrets.authenticate(self.name, raw)
            if secret is None:
                raise GitHubError(401, "Bad credentials")
            g.caller = dict(secret.subject, kind=secret.kind)
        self._count_request(raw or request.remote_addr or "anonymous")
        return None

    def _count_request(self, key: str) -> None:
        now = time.time()
        start, used = self._usage.get(key, (now, 0))
        if now - start >= 3600:
            start, used = now, 0
        g.rate = (start, used + 1)
        if used >= self.rate_limit:
            g.rate = (start, used)
            who = g.caller["user_id"] if g.caller else request.remote_addr
            raise GitHubError(self.rate_limit_status,
                              f"API rate limit exceeded for user ID {who}.", RATE_LIMIT_DOCS)
        self._usage[key] = g.rate

    def _rate_limit_headers(self, response: Response) -> Response:
        start, used = getattr(g, "rate", (time.time(), 0))
        response.headers.update({
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(start + 3600)),
            "x-ratelimit-resource": "core",
            "x-github-media-type": "github.v3; format=json",
        })
        caller = getattr(g, "caller", None)
        if caller and caller["kind"] == "classic":
            response.headers["x-oauth-scopes"] = ", ".join(caller["scopes"])
            if getattr(g, "accepted_scopes", None) is not None:
                response.headers["x-accepted-oauth-scopes"] = g.accepted_scopes
        return response

    # -- permissions -------------------------------------------------------------------------
    def _caller(self) -> dict:
        if g.caller is None:
            raise GitHubError(401, "Requires authentication")
        return g.caller

    def _role(self, repo: Repository) -> str | None:
        caller = g.caller
        return repo.roles.get(_lower(caller["login"])) if caller else None

    def _reaches(self, repo: Repository) -> bool:
        """Does the caller's token reach this (private) repository at all?"""
        caller = g.caller
        if caller is None or self._role(repo) is None:
            return False
        if caller["kind"] == "classic":
            return "repo" in caller["scopes"]
        selected = caller["repositories"]
        return selected is None or _lower(repo.full_name) in selected

    def _repo(self, owner: str, name: str, doc: str = DOCS + "/repos/repos#get-a-repository"
              ) -> Repository:
        repo = self._repos.get(_lower(f"{owner}/{name}"))
        if repo is None or (repo.private and not self._reaches(repo)):
            raise GitHubError(404, "Not Found", doc)
        return repo

    def _repo_by_id(self, repository_id: int, doc: str) -> Repository:
        for repo in self._repos.values():
            if repo.id == repository_id:
                return self._repo(repo.owner, repo.name, doc)
        raise GitHubError(404, "Not Found", doc)

    def _environment(self, repo: Repository, name: str, doc: str) -> Environment:
        environment = repo.environments.get(_lower(name))
        if environment is None:
            raise GitHubError(404, "Not Found", doc)
        return environment

    def _require_repo_secrets(self, repo: Repository, permission: str, write: bool,
                              doc: str) -> None:
        """Secrets of a repository or its environments: a writer, with the permission."""
        caller = self._caller()
        g.accepted_scopes = "repo"
        if caller["kind"] == "classic":
            if "repo" not in caller["scopes"] or self._role(repo) not in WRITERS:
                raise GitHubError(403, REPO_ADMIN, doc)
            return
        if self._role(repo) not in WRITERS or not self._reaches(repo):
            raise GitHubError(403, REPO_ADMIN if self._role(repo) else NOT_ACCESSIBLE, doc)
        granted = caller["permissions"].get(permission)
        if granted not in (("write",) if write else ("read", "write")):
            raise GitHubError(403, NOT_ACCESSIBLE, doc)

    def _org(self, login: str, doc: str) -> Organization:
        org = self._orgs.get(_lower(login))
        if org is None:
            raise GitHubError(404, "Not Found", doc)
        return org

    def _require_org_secrets(self, org: Organization, write: bool, doc: str) -> None:
        caller = self._caller()
        g.accepted_scopes = "admin:org"
        is_admin = _lower(caller["login"]) in org.admins
        if caller["kind"] == "classic":
            if "admin:org" not in caller["scopes"] or not is_admin:
                raise GitHubError(403, ORG_ADMIN, doc)
            return
        granted = caller["organization_permissions"].get("secrets")
        if not is_admin or granted not in (("write",) if write else ("read", "write")):
            raise GitHubError(403, NOT_ACCESSIBLE, doc)

    # -- request bodies ----------------------------------------------------------------------
    @staticmethod
    def _body(doc: str) -> dict:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise GitHubError(400, "Problems parsing JSON", doc)
        return body

    @staticmethod
    def _missing(field_name: str, doc: str) -> GitHubError:
        return GitHubError(422, f'Invalid request.\n\n"{field_name}" wasn\'t supplied.', doc)

    def _open(self, scope: Scope, body: dict, doc: str) -> str:
        """The plaintext of ``encrypted_value``, sealed to the scope's current key."""
        if "encrypted_value" not in body:
            raise self._missing("encrypted_value", doc)
        if "key_id" not in body:
            raise self._missing("key_id", doc)
        if str(body["key_id"]) != scope.keys.key_id:
            raise GitHubError(422, "Bad request: key_id is not the current public key's id",
                              doc)
        try:
            sealed = base64.b64decode(str(body["encrypted_value"]), validate=True)
            plain = SealedBox(scope.keys.private).decrypt(sealed)
            value = plain.decode("utf-8")
        except (ValueError, CryptoError, UnicodeDecodeError):
            raise GitHubError(422, "Bad request: encrypted_value is not a sealed box of this "
                                   "key", doc) from None
        if len(plain) > MAX_SECRET_BYTES:
            raise GitHubError(422, "Secret value is larger than 48 KB", doc)
        return value

    @staticmethod
    def _check_name(name: str, doc: str) -> str:
        if not SECRET_NAME.match(name) or name.upper().startswith("GITHUB_"):
            raise GitHubError(422, "Secret names can only contain alphanumeric characters "
                                   "([a-z], [A-Z], [0-9]) or underscores (_), must not start "
                                   "with a number or the GITHUB_ prefix", doc)
        return name.upper()

    # -- rendering ---------------------------------------------------------------------------
    def _api_root(self) -> str:
        """The API root the request came through: ``https://HOST`` or ``…/api/v3``."""
        prefix = request.environ.get(PREFIX_KEY, "")
        return request.host_url.rstrip("/") + prefix

    def _secret_resource(self, secret: ActionsSecret, org: Organization | None = None) -> dict:
        body: dict[str, Any] = {"name": secret.name,
                                "created_at": isoformat_s(secret.created_at),
                                "updated_at": isoformat_s(secret.updated_at)}
        if org is not None:
            body["visibility"] = secret.visibility
            if secret.visibility == "selected":
                body["selected_repositories_url"] = (
                    f"{self._api_root()}/orgs/{org.login}/actions/secrets/{secret.name}"
                    "/repositories")
        return body

    def _repo_resource(self, repo: Repository) -> dict:
        root = self._api_root()
        owner = self._orgs.get(_lower(repo.owner)) or self._users.get(_lower(repo.owner))
        role = self._role(repo)
        level = ROLES.index(role) if role else -1
        return {"id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name,
                "full_name": repo.full_name, "private": repo.private,
                "visibility": "private" if repo.private else "public",
                "owner": {"login": repo.owner, "id": owner.id,
                          "type": "Organization" if isinstance(owner, Organization)
                          else "User"},
                "url": f"{root}/repos/{repo.full_name}",
                "permissions": {"admin": level >= ROLES.index("admin"),
                                "maintain": level >= ROLES.index("maintain"),
                                "push": level >= ROLES.index("write"),
                                "triage": level >= ROLES.index("triage"),
                                "pull": level >= ROLES.index("read")}}

    def _environment_resource(self, repo: Repository, environment: Environment) -> dict:
        stamp = isoformat_s(environment.created_at)
        return {"id": environment.id, "node_id": f"EN_{environment.id}",
                "name": environment.name,
                "url": f"{self._api_root()}/repos/{repo.full_name}/environments/"
                       f"{environment.name}",
                "created_at": stamp, "updated_at": stamp, "protection_rules": [],
                "deployment_branch_policy": None}

    def _page(self, items: list, key: str, render: Callable[[Any], dict],
              extra: dict | None = None) -> Response:
        """``{"total_count", key: [...]}`` with GitHub's ``per_page``/``page`` and Link."""
        per_page = _positive(request.args.get("per_page"), DEFAULT_PER_PAGE, MAX_PER_PAGE)
        page = _positive(request.args.get("page"), 1, None)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page:page * per_page]
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last),
                            ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or \
                    (rel in ("next", "last") and page < last):
                query = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
                links.append(f'<{request.base_url}?{urlencode(query + [("page", number)])}>; '
                             f'rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else None
        return self.json({"total_count": len(items), key: [render(item) for item in chunk],
                          **(extra or {})}, headers=headers)

    # -- views: meta -------------------------------------------------------------------------
    def _user(self) -> Response:
        caller = self._caller()
        return self.json({"login": caller["login"], "id": caller["user_id"],
                          "node_id": f"U_{caller['user_id']}", "type": "User",
                          "site_admin": False})

    def _rate_limit(self) -> Response:
        start, used = g.rate
        core = {"limit": self.rate_limit, "used": used,
                "remaining": max(0, self.rate_limit - used), "reset": int(start + 3600)}
        return self.json({"resources": {"core": core}, "rate": core})

    def _show_org(self, org: str) -> Response:
        found = self._org(org, DOCS + "/orgs/orgs#get-an-organization")
        return self.json({"login": found.login, "id": found.id, "node_id": f"O_{found.id}",
                          "url": f"{self._api_root()}/orgs/{found.login}",
                          "type": "Organization"})

    def _show_repo(self, owner: str, repo: str) -> Response:
        return self.json(self._repo_resource(self._repo(owner, repo)))

    def _list_environments(self, owner: str, repo: str) -> Response:
        found = self._repo(owner, repo, DOCS + "/deployments/environments#list-environments")
        environments = sorted(found.environments.values(), key=lambda e: e.name.lower())
        return self._page(environments, "environments",
                          lambda environment: self._environment_resource(found, environment))

    def _show_environment(self, owner: str, repo: str, environment: str) -> Response:
        doc = DOCS + "/deployments/environments#get-an-environment"
        found = self._repo(owner, repo, doc)
        return self.json(self._environment_resource(found,
                                                    self._environment(found, environment, doc)))

    # -- views: secrets, shared by the three targets -----------------------------------------
    def _key(self, scope: Scope) -> Response:
        return self.json({"key_id": scope.keys.key_id, "key": scope.keys.public_b64})

    def _list(self, scope: Scope, org: Organization | None = None) -> Response:
        secrets = sorted(scope.secrets.values(), key=lambda secret: secret.name)
        return self._page(secrets, "secrets", lambda secret: self._secret_resource(secret, org))

    def _get(self, scope: Scope, name: str, doc: str, org: Organization | None = None
             ) -> Response:
        secret = scope.secrets.get(name.upper())
        if secret is None:
            raise GitHubError(404, "Not Found", doc)
        return self.json(self._secret_resource(secret, org))

    def _put(self, scope: Scope, name: str, doc: str,
             org: Organization | None = None) -> Response:
        name = self._check_name(name, doc)
        body = self._body(doc)
        value = self._open(scope, body, doc)
        visibility, selected = None, []
        if org is not None:
            visibility, selected = self._org_visibility(org, scope.secrets.get(name), body, doc)
        now = self.now()
        existing = scope.secrets.get(name)
        if existing is None:
            scope.secrets[name] = ActionsSecret(name, value, now, now, visibility, selected)
            return self.json({}, 201)
        existing.value, existing.updated_at = value, now
        if org is not None:
            existing.visibility, existing.selected = visibility, selected
        return self.empty(204)

    def _org_visibility(self, org: Organization, existing: ActionsSecret | None, body: dict,
                        doc: str) -> tuple[str, list[int]]:
        visibility = body.get("visibility")
        if visibility is None:
            if existing is None:
                raise self._missing("visibility", doc)
            visibility = existing.visibility
        if visibility not in VISIBILITIES:
            raise GitHubError(422, f"visibility must be one of {', '.join(VISIBILITIES)}", doc)
        ids = body.get("selected_repository_ids")
        if ids is None:
            keep = existing.selected if existing and visibility == "selected" else []
            return visibility, list(keep)
        if visibility != "selected":
            raise GitHubError(422, "selected_repository_ids can only be given with "
                                   "visibility selected", doc)
        return visibility, self._org_repository_ids(org, ids, doc)

    def _org_repository_ids(self, org: Organization, ids: Any, doc: str) -> list[int]:
        if not isinstance(ids, list):
            raise GitHubError(422, "selected_repository_ids must be an array", doc)
        owned = {repo.id for repo in self._repos.values() if _lower(repo.owner) == _lower(
            org.login)}
        try:
            wanted = sorted({int(value) for value in ids})
        except (TypeError, ValueError):
            raise GitHubError(422, "selected_repository_ids must be repository ids",
                              doc) from None
        if not set(wanted) <= owned:
            raise GitHubError(422, "selected_repository_ids names a repository outside the "
                                   "organization", doc)
        return wanted

    def _delete(self, scope: Scope, name: str, doc: str) -> Response:
        if scope.secrets.pop(name.upper(), None) is None:
            raise GitHubError(404, "Not Found", doc)
        return self.empty(204)

    # -- views: repository secrets -----------------------------------------------------------
    def _repo_scope(self, owner: str, repo: str, anchor: str, write: bool = False
                    ) -> tuple[Repository, str]:
        doc = f"{SECRETS_DOCS}#{anchor}"
        found = self._repo(owner, repo, doc)
        self._require_repo_secrets(found, "secrets", write, doc)
        return found, doc

    def _repo_key(self, owner: str, repo: str) -> Response:
        return self._key(self._repo_scope(owner, repo, "get-a-repository-public-key")[0])

    def _repo_list(self, owner: str, repo: str) -> Response:
        return self._list(self._repo_scope(owner, repo, "list-repository-secrets")[0])

    def _repo_get(self, owner: str, repo: str, secret: str) -> Response:
        found, doc = self._repo_scope(owner, repo, "get-a-repository-secret")
        return self._get(found, secret, doc)

    def _repo_put(self, owner: str, repo: str, secret: str) -> Response:
        found, doc = self._repo_scope(owner, repo, "create-or-update-a-repository-secret",
                                      write=True)
        return self._put(found, secret, doc)

    def _repo_delete(self, owner: str, repo: str, secret: str) -> Response:
        found, doc = self._repo_scope(owner, repo, "delete-a-repository-secret", write=True)
        return self._delete(found, secret, doc)

    # -- views: environment secrets ----------------------------------------------------------
    def _env_scope(self, repo: Repository, environment: str, anchor: str,
                   write: bool = False) -> tuple[Environment, str]:
        doc = f"{SECRETS_DOCS}#{anchor}"
        found = self._environment(repo, environment, doc)
        self._require_repo_secrets(repo, "environments", write, doc)
        return found, doc

    def _env_key(self, owner: str, repo: str, environment: str) -> Response:
        return self._key(self._env_scope(self._repo(owner, repo), environment,
                                         "get-an-environment-public-key")[0])

    def _env_list(self, owner: str, repo: str, environment: str) -> Response:
        return self._list(self._env_scope(self._repo(owner, repo), environment,
                                          "list-environment-secrets")[0])

    def _env_get(self, owner: str, repo: str, environment: str, secret: str) -> Response:
        found, doc = self._env_scope(self._repo(owner, repo), environment,
                                     "get-an-environment-secret")
        return self._get(found, secret, doc)

    def _env_put(self, owner: str, repo: str, environment: str, secret: str) -> Response:
        found, doc = self._env_scope(self._repo(owner, repo), environment,
                                     "create-or-update-an-environment-secret", write=True)
        return self._put(found, secret, doc)

    def _env_delete(self, owner: str, repo: str, environment: str, secret: str) -> Response:
        found, doc = self._env_scope(self._repo(owner, repo), environment,
                                     "delete-an-environment-secret", write=True)
        return self._delete(found, secret, doc)

    def _legacy(self, repository_id: int) -> tuple[str, str]:
        repo = self._repo_by_id(repository_id, SECRETS_DOCS)
        return repo.owner, repo.name

    def _legacy_env_key(self, repository_id: int, environment: str) -> Response:
        return self._env_key(*self._legacy(repository_id), environment)

    def _legacy_env_list(self, repository_id: int, environment: str) -> Response:
        return self._env_list(*self._legacy(repository_id), environment)

    def _legacy_env_get(self, repository_id: int, environment: str, secret: str) -> Response:
        return self._env_get(*self._legacy(repository_id), environment, secret)

    def _legacy_env_put(self, repository_id: int, environment: str, secret: str) -> Response:
        return self._env_put(*self._legacy(repository_id), environment, secret)

    def _legacy_env_delete(self, repository_id: int, environment: str, secret: str
                           ) -> Response:
        return self._env_delete(*self._legacy(repository_id), environment, secret)

    # -- views: organization secrets ---------------------------------------------------------
    def _org_scope(self, org: str, anchor: str, write: bool = False
                   ) -> tuple[Organization, str]:
        doc = f"{SECRETS_DOCS}#{anchor}"
        found = self._org(org, doc)
        self._require_org_secrets(found, write, doc)
        return found, doc

    def _org_key(self, org: str) -> Response:
        return self._key(self._org_scope(org, "get-an-organization-public-key")[0])

    def _org_list(self, org: str) -> Response:
        found, _doc = self._org_scope(org, "list-organization-secrets")
        return self._list(found, found)

    def _org_get(self, org: str, secret: str) -> Response:
        found, doc = self._org_scope(org, "get-an-organization-secret")
        return self._get(found, secret, doc, found)

    def _org_put(self, org: str, secret: str) -> Response:
        found, doc = self._org_scope(org, "create-or-update-an-organization-secret", True)
        return self._put(found, secret, doc, found)

    def _org_delete(self, org: str, secret: str) -> Response:
        found, doc = self._org_scope(org, "delete-an-organization-secret", True)
        return self._delete(found, secret, doc)

    def _org_secret(self, org: str, secret: str, anchor: str, write: bool = False
                    ) -> tuple[Organization, ActionsSecret, str]:
        found, doc = self._org_scope(org, anchor, write)
        stored = found.secrets.get(secret.upper())
        if stored is None:
            raise GitHubError(404, "Not Found", doc)
        return found, stored, doc

    def _org_repos(self, org: str, secret: str) -> Response:
        _found, stored, doc = self._org_secret(
            org, secret, "list-selected-repositories-for-an-organization-secret")
        if stored.visibility != "selected":
            raise GitHubError(409, "The visibility of the secret is not selected", doc)
        repos = [repo for repo in self._repos.values() if repo.id in stored.selected]
        return self._page(sorted(repos, key=lambda repo: repo.id), "repositories",
                          self._repo_resource)

    def _org_set_repos(self, org: str, secret: str) -> Response:
        found, stored, doc = self._org_secret(
            org, secret, "set-selected-repositories-for-an-organization-secret", True)
        ids = self._body(doc).get("selected_repository_ids")
        if ids is None:
            raise self._missing("selected_repository_ids", doc)
        if stored.visibility != "selected":
            raise GitHubError(409, "The visibility of the secret is not selected", doc)
        stored.selected = self._org_repository_ids(found, ids, doc)
        return self.empty(204)

    def _org_add_repo(self, org: str, secret: str, repository_id: int) -> Response:
        found, stored, doc = self._org_secret(
            org, secret, "add-selected-repository-to-an-organization-secret", True)
        if stored.visibility != "selected":
            raise GitHubError(409, "The visibility of the secret is not selected", doc)
        stored.selected = self._org_repository_ids(found, stored.selected + [repository_id],
                                                   doc)
        return self.empty(204)

    def _org_remove_repo(self, org: str, secret: str, repository_id: int) -> Response:
        _found, stored, doc = self._org_secret(
            org, secret, "remove-selected-repository-from-an-organization-secret", True)
        if stored.visibility != "selected":
            raise GitHubError(409, "The visibility of the secret is not selected", doc)
        stored.selected = [value for value in stored.selected if value != repository_id]
        return self.empty(204)

    # -- views: GraphQL (only what ``gh secret set --repos`` asks) ---------------------------
    def _graphql(self) -> Response:
        self._caller()
        body = request.get_json(force=True, silent=True) or {}
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str):
            return self.json({"errors": [{"message": "A query attribute must be specified "
                                                     "and must be a string."}]})
        asked = GRAPHQL_REPOSITORY.findall(query)
        if not asked:
            return self.json({"errors": [{"message": "the stand-in answers only "
                                                     "repository(owner:, name:) "
                                                     "{ databaseId }"}]})
        data: dict[str, Any] = {}
        errors = []
        for alias, owner, name in asked:
            repo = self._repos.get(_lower(f"{owner}/{name}"))
            if repo is None or (repo.private and not self._reaches(repo)):
                data[alias] = None
                errors.append({"type": "NOT_FOUND", "path": [alias],
                               "message": f"Could not resolve to a Repository with the name "
                                          f"'{owner}/{name}'."})
            else:
                data[alias] = {"databaseId": repo.id}
        return self.json({"data": data, **({"errors": errors} if errors else {})})


def _pattern(path: str) -> re.Pattern:
    """``/repos/<owner>/<int:repository_id>`` → a regular expression with named groups."""
    return re.compile(re.sub(r"<(?:int:)?(\w+)>",
                             lambda m: rf"(?P<{m.group(1)}>\d+)" if m.group(0).startswith("<int:")
                             else rf"(?P<{m.group(1)}>[^/]+)", path))


def _strip_enterprise_prefix(wsgi_app: Callable) -> Callable:
    """Serve ``/api/v3/...`` (REST) and ``/api/graphql`` as GitHub Enterprise Server does, by
    the same routes as github.com's ``/...`` and ``/graphql``."""
    def app(environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ENTERPRISE_PREFIX + "/"):
            environ = dict(environ, PATH_INFO=path[len(ENTERPRISE_PREFIX):],
                           SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + ENTERPRISE_PREFIX)
            environ[PREFIX_KEY] = ENTERPRISE_PREFIX
        elif path == "/api/graphql":
            environ = dict(environ, PATH_INFO="/graphql")
        return wsgi_app(environ, start_response)
    return app


def _positive(raw: str | None, default: int, ceiling: int | None) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = default
    value = value if value >= 1 else default
    return min(value, ceiling) if ceiling else value
