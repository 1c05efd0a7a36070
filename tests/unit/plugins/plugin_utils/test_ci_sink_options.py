"""Options of the github_secret and tfe_variable sinks (issue 25): every bad input names the
option before any request; credentials fall back to their usual environment variables and
never reach a description."""
import pytest

from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import SinkError, make_sink
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import github_secret

WHERE = "rotate_tokens[ci].deliver[0]"
TOKEN = "ghp_" + "a" * 36


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "TFE_TOKEN", "TFE_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    # PyNaCl is an optional controller-side requirement: present unless a test takes it away.
    monkeypatch.setattr(github_secret, "_sealed_box_class", lambda: (object, object))


def sink(**raw):
    return make_sink(raw, WHERE, "ci", None, "TOKEN")


def github(**raw):
    return sink(**dict({"type": "github_secret", "key": "deploy_token", "token": TOKEN}, **raw))


def tfe(**raw):
    return sink(**dict({"type": "tfe_variable", "organization": "acme", "key": "TFE_TOKEN",
                        "api_token": "x.atlasv1.y"}, **raw))


@pytest.mark.parametrize("raw,message", [
    ({}, WHERE + ": give either repository (owner/name) or organization"),
    ({"repository": "a/b", "organization": "a"}, WHERE + ": give either"),
    ({"repository": "nope"}, WHERE + ".repository: must be owner/name"),
    ({"repository": "a/b/c"}, WHERE + ".repository: must be owner/name"),
    ({"repository": "a/b", "visibility": "all"}, WHERE + ".visibility: applies to organization"),
    ({"organization": "a", "environment": "prod"}, WHERE + ".environment: applies to repository"),
    ({"organization": "a", "visibility": "public"}, WHERE + ".visibility: must be one of"),
    ({"organization": "a", "visibility": "selected"}, WHERE + ".selected_repositories: a list"),
    ({"organization": "a", "selected_repositories": ["b"]},
     WHERE + ".selected_repositories: needs visibility: selected"),
    ({"repository": "a/b", "key": "GITHUB_TOKEN"}, WHERE + ".key: required"),
    ({"repository": "a/b", "key": "1ABC"}, WHERE + ".key: required"),
    ({"repository": "a/b", "key": "A-B"}, WHERE + ".key: required"),
    ({"repository": "a/b", "api_url": "ftp://x"}, WHERE + ".api_url: must be an https:// URL"),
    ({"repository": "a/b", "api_url": "https://u:p@x"}, WHERE + ".api_url: must not contain"),
    ({"repository": "a/b", "token": "has space"}, WHERE + ".token: must not contain white"),
    ({"repository": "a/b", "unknown": 1}, WHERE + ": unsupported option(s) unknown"),
    ({"repository": "../.."}, WHERE + ".repository: must be owner/name"),
    ({"repository": "a/b", "environment": ".."}, WHERE + ".environment: must be an environment"),
    ({"organization": "a", "visibility": "selected", "selected_repositories": ["../x"]},
     WHERE + ".selected_repositories: a list"),
    ({"organization": "a", "visibility": "selected", "selected_repositories": [""]},
     WHERE + ".selected_repositories: a list"),
    ({"repository": "a/b", "timeout": "soon"}, WHERE + ".timeout: expected a number of seconds"),
    ({"repository": "a/b", "timeout": 0}, WHERE + ".timeout: expected a number of seconds"),
    ({"repository": "a/b", "validate_certs": "maybe"}, WHERE + ".validate_certs: expected true"),
    ({"repository": "a/b", "max_retry_wait": -1}, WHERE + ".max_retry_wait: expected a number"),
])
def test_github_secret_refuses_bad_options_naming_them(raw, message):
    with pytest.raises(SinkError) as failed:
        github(**raw)
    assert str(failed.value).startswith(message), str(failed.value)


def test_github_secret_token_falls_back_to_github_token_then_gh_token(monkeypatch):
    with pytest.raises(SinkError, match=r"\.token: no credential given; set token or the "
                                        r"GITHUB_TOKEN or GH_TOKEN environment variable"):
        github(repository="a/b", token=None)
    monkeypatch.setenv("GH_TOKEN", "from-gh")
    assert github(repository="a/b", token=None).options["token"] == "from-gh"
    monkeypatch.setenv("GITHUB_TOKEN", "from-github")
    assert github(repository="a/b", token=None).options["token"] == "from-github"
    assert github(repository="a/b").options["token"] == TOKEN


def test_github_secret_needs_pynacl_and_says_so_naming_the_sink(monkeypatch):
    monkeypatch.setattr(github_secret, "_sealed_box_class", lambda: None)
    with pytest.raises(SinkError) as failed:
        github(repository="a/b")
    assert str(failed.value) == (WHERE + ": the github_secret sink needs the PyNaCl Python "
                                 "library on the controller (pip install PyNaCl) to seal the "
                                 "secret")


def test_github_secret_targets_and_descriptions_never_hold_the_token():
    repo = github(repository="acme/infra")
    assert repo.options["key"] == "DEPLOY_TOKEN", "GitHub keeps names upper-case"
    assert repo.describe() == "github_secret:acme/infra DEPLOY_TOKEN"
    env = github(repository="acme/infra", environment="prod",
                 api_url="https://ghe.example/api/v3/")
    assert env.describe() == ("github_secret:acme/infra environment prod DEPLOY_TOKEN on "
                              "https://ghe.example/api/v3")
    org = github(organization="acme", visibility="selected",
                 selected_repositories=["infra", "o/x"])
    assert org.options["selected_repositories"] == ["acme/infra", "o/x"]
    assert org.options["visibility"] == "selected"
    assert github(organization="acme").options["visibility"] == "private"
    for each in (repo, env, org):
        assert TOKEN not in each.describe() and TOKEN not in repr(each.target)
    assert len({repo.target, env.target, org.target}) == 3


@pytest.mark.parametrize("raw,message", [
    ({}, WHERE + ": give either workspace or variable_set"),
    ({"workspace": "w", "variable_set": "v"}, WHERE + ": give either"),
    ({"workspace": "w", "organization": None}, WHERE + ".organization: required"),
    ({"workspace": "w", "key": ""}, WHERE + ".key: required"),
    ({"workspace": "a/b"}, WHERE + ".workspace: must be a name"),
    ({"workspace": "w", "category": "policy-set"}, WHERE + ".category: must be one of env, "),
    ({"workspace": "w", "sensitive": "yes"}, WHERE + ".sensitive: must be true or false"),
    ({"workspace": "w", "hcl": 1}, WHERE + ".hcl: must be true or false"),
    ({"workspace": "w", "api_token": None}, WHERE + ".api_token: no credential given"),
    ({"workspace": "w", "api_url": "app.terraform.io"}, WHERE + ".api_url: must be"),
    ({"workspace": ".."}, WHERE + ".workspace: must be a name"),
    ({"variable_set": "."}, WHERE + ".variable_set: must be a name"),
    ({"workspace": "w", "organization": ".."}, WHERE + ".organization: must be a name"),
    ({"workspace": "w", "timeout": "soon"}, WHERE + ".timeout: expected a number of seconds"),
    ({"workspace": "w", "validate_certs": "maybe"}, WHERE + ".validate_certs: expected true"),
    ({"workspace": "w", "max_retry_wait": "x"}, WHERE + ".max_retry_wait: expected a number"),
])
def test_tfe_variable_refuses_bad_options_naming_them(raw, message):
    with pytest.raises(SinkError) as failed:
        tfe(**raw)
    assert str(failed.value).startswith(message), str(failed.value)


def test_tfe_variable_defaults_and_environment_fallbacks(monkeypatch):
    checked = tfe(workspace="prod").options
    assert (checked["category"], checked["sensitive"], checked["hcl"]) == ("env", True, False)
    assert checked["api_url"] == "https://app.terraform.io"
    monkeypatch.setenv("TFE_ADDRESS", "https://tfe.example/")
    monkeypatch.setenv("TFE_TOKEN", "env.atlasv1.token")
    from_env = tfe(variable_set="shared", api_token=None).options
    assert (from_env["api_url"], from_env["api_token"]) == ("https://tfe.example",
                                                            "env.atlasv1.token")
    described = tfe(variable_set="shared", api_token=None).describe()
    assert described == ("tfe_variable:acme/variable set shared TFE_TOKEN (env) on "
                         "https://tfe.example")
    assert "atlasv1" not in described


def test_the_ci_sinks_connection_options_default_as_the_modules_do():
    for checked in (github(repository="a/b").options, tfe(workspace="w").options):
        assert (checked["validate_certs"], checked["timeout"], checked["max_retry_wait"]) == (
            True, 30, 120.0)
    checked = github(repository="a/b", validate_certs="no", timeout="5",
                     max_retry_wait=0).options
    assert (checked["validate_certs"], checked["timeout"], checked["max_retry_wait"]) == (
        False, 5.0, 0.0)


def test_a_tfe_variable_written_with_the_rotated_credential_knows_it_however_the_url_is_spelled():
    """The sink writes with the new secret (in place, the previous one is dead) only when it
    authenticates as the rotation does: the same credential at the same instance, whatever the
    URL's case, default port or trailing slash."""
    for rotation_url in ("https://app.terraform.io", "https://APP.Terraform.io/",
                         "https://app.terraform.io:443"):
        sink = tfe(workspace="w", api_url="https://app.terraform.io")
        sink.rotating("tfe", rotation_url, "x.atlasv1.y")
        assert sink._shares_rotation_credential, rotation_url
    for platform, url, credential in (("tfe", "https://tfe.example", "x.atlasv1.y"),
                                      ("tfe", "https://app.terraform.io", "other"),
                                      ("pulumi", "https://app.terraform.io", "x.atlasv1.y")):
        sink = tfe(workspace="w", api_url="https://app.terraform.io")
        sink.rotating(platform, url, credential)
        assert not sink._shares_rotation_credential, (platform, url)
