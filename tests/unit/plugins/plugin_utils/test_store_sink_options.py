"""The store sinks' options (issue 24): checked before any request, each error naming the option,
community.hashi_vault's and boto3's environment variables as fallbacks, no credential in a
sink's description; a missing client library fails the sink's check with Ansible's standard
message. No server needed (tests/functional/test_store_sinks.py uses real ones)."""
import pytest

from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import (
    SinkError, make_sink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import (
    aws_secretsmanager, vault_kv,
)

WHERE = "rotate_tokens[ci].deliver[0]"
TOKEN = "hvs.CAESIJustATestTokenThatMustNeverShow"
ENV = ("ANSIBLE_HASHI_VAULT_ADDR", "VAULT_ADDR", "ANSIBLE_HASHI_VAULT_TOKEN", "VAULT_TOKEN",
       "ANSIBLE_HASHI_VAULT_AUTH_METHOD", "ANSIBLE_HASHI_VAULT_ROLE_ID", "VAULT_ROLE_ID",
       "ANSIBLE_HASHI_VAULT_SECRET_ID", "VAULT_SECRET_ID", "ANSIBLE_HASHI_VAULT_NAMESPACE",
       "VAULT_NAMESPACE", "VAULT_SKIP_VERIFY", "ANSIBLE_HASHI_VAULT_CA_CERT", "VAULT_CACERT",
       "ANSIBLE_HASHI_VAULT_TIMEOUT", "AWS_REGION", "AWS_DEFAULT_REGION", "EC2_REGION", "AWS_URL",
       "EC2_URL")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def sink(**options):
    return make_sink(dict(options), WHERE, "ci", "pulumi", "PULUMI_ACCESS_TOKEN")


def vault(**more):
    return sink(**dict(dict(type="vault_kv", url="https://vault.example:8200", token=TOKEN,
                            path="ci/pulumi"), **more))


@pytest.mark.parametrize("options, error", [
    (dict(url=None), r"deliver\[0\]\.url \(or VAULT_ADDR\): required"),
    (dict(url="vault.example:8200"), r"\.url \(or VAULT_ADDR\): expected an http:// or https://"),
    (dict(url="https://root:%s@vault.example" % TOKEN), r"\.url .*must not hold credentials"),
    (dict(auth_method="ldap"), r"\.auth_method: must be one of token, approle, got 'ldap'"),
    (dict(token=None), r"\.token: required with auth_method token \(or VAULT_TOKEN\)"),
    (dict(auth_method="approle", token=None), r"\.role_id: required with auth_method approle"),
    (dict(path="ci/../other"), r"\.path: expected a path such as ci/pulumi"),
    (dict(path="//"), r"\.path: expected a path"),
    (dict(engine_mount_point="a//b"), r"\.engine_mount_point: expected a path"),
    (dict(timeout="soon"), r"\.timeout: expected a number of seconds"),
    (dict(validate_certs="maybe"), r"\.validate_certs: expected true or false"),
    (dict(key="to\nken"), r"\.key: must not hold control characters"),
    (dict(path="ci/p", paths="x"), r"unsupported option\(s\) paths for a vault_kv sink"),
])
def test_a_bad_vault_kv_option_is_refused_naming_it(options, error):
    with pytest.raises(SinkError, match=error) as raised:
        vault(**options)
    assert TOKEN not in str(raised.value)


def test_vault_kv_defaults_and_environment_fallbacks(monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:8200/")
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    monkeypatch.setenv("VAULT_NAMESPACE", "team-a/")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    checked = sink(type="vault_kv", path="/ci/pulumi/").options
    assert checked["url"] == "http://127.0.0.1:8200" and checked["token"] == TOKEN
    assert checked["namespace"] == "team-a" and checked["validate_certs"] is False
    assert (checked["engine_mount_point"], checked["path"], checked["key"]) == (
        "secret", "ci/pulumi", "token")
    assert checked["timeout"] == 30
    # community.hashi_vault's own variables come first.
    monkeypatch.setenv("ANSIBLE_HASHI_VAULT_ADDR", "https://first.example")
    monkeypatch.setenv("ANSIBLE_HASHI_VAULT_AUTH_METHOD", "approle")
    monkeypatch.setenv("ANSIBLE_HASHI_VAULT_ROLE_ID", "role")
    checked = sink(type="vault_kv", path="x").options
    assert checked["url"] == "https://first.example" and checked["auth_method"] == "approle"
    assert checked["role_id"] == "role" and "token" not in checked


def test_a_vault_kv_sink_describes_itself_without_its_credentials():
    described = vault(namespace="ns1", engine_mount_point="kv", key="pulumi").describe()
    assert described == "vault_kv:https://vault.example:8200/ns1/kv/ci/pulumi#pulumi"
    assert TOKEN not in described and TOKEN not in vault().target
    # One target per secret path: two tokens never share one secret (check-and-set would make
    # the second fail on every run).
    assert vault(key="a").target == vault(key="b").target


def aws(**more):
    return sink(**dict(dict(type="aws_secretsmanager", name="ci/pulumi", region="eu-west-1"),
                       **more))


@pytest.mark.parametrize("options, error", [
    (dict(name=None), r"deliver\[0\]\.name: required"),
    (dict(name="x" * 2049), r"\.name: a secret name or ARN is at most 2048 characters"),
    (dict(access_key="AKIA0000"), r"deliver\[0\]: access_key and secret_key go together"),
    (dict(profile="ops", access_key="AKIA0000", secret_key="s3cr3t-key"),
     r"profile and access_key are mutually exclusive"),
    (dict(endpoint_url="localhost:4566"), r"\.endpoint_url: expected an http:// or https://"),
    (dict(key=""), None),
])
def test_a_bad_aws_option_is_refused_naming_it(options, error):
    if error is None:
        assert aws(**options).options["key"] is None
        return
    with pytest.raises(SinkError, match=error) as raised:
        aws(**options)
    assert "s3cr3t-key" not in str(raised.value)


def test_aws_environment_fallbacks_and_description(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_URL", "http://127.0.0.1:4566")
    checked = sink(type="aws_secretsmanager", name="n", key="token", access_key="AKIA1",
                   secret_key="s3cr3t-key")
    assert checked.options["region"] == "ap-south-1"
    assert checked.options["endpoint_url"] == "http://127.0.0.1:4566"
    assert checked.describe() == "aws_secretsmanager:n#token"
    assert "s3cr3t-key" not in checked.describe() + checked.target


@pytest.mark.parametrize("build, module, library", [
    (vault, vault_kv, "hvac"),
    (aws, aws_secretsmanager, "boto3"),
])
def test_a_missing_client_library_fails_the_check_with_the_standard_message(
        monkeypatch, build, module, library):
    monkeypatch.setattr(module, library, None)
    with pytest.raises(SinkError) as raised:
        build().preflight()
    assert "Failed to import the required Python library (%s)" % library in str(raised.value)
    assert str(raised.value).startswith(build().describe() + ": ")


def test_a_store_error_never_shows_a_credential_or_the_secret():
    sink_ = vault(auth_method="approle", token=None, role_id="role-id-123456",
                  secret_id="secret-id-123456")
    error = sink_._fail("refused role-id-123456 / secret-id-123456 and pul-abcdef", "pul-abcdef")
    assert "role-id-123456" not in str(error) and "secret-id-123456" not in str(error)
    assert "pul-abcdef" not in str(error)
