"""Two sinks that write one stored secret are refused before any request, like two file sinks
of one path: two tokens there would each overwrite the other's secret (and each other's
check-and-set or staged version make one of them fail on every run). One secret has many
spellings: a URL's host in another case or with its default port, a GitHub owner in another
case, an AWS secret by name and by ARN, a Vault namespace given as a mount prefix."""
import datetime

import pytest

from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    ValidationError, validate_items,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import github_secret

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
VAULT = {"type": "vault_kv", "url": "https://vault.example.com:8200", "token": "hvs.x",
         "path": "ci/deploy"}
AWS = {"type": "aws_secretsmanager", "name": "prod/ci/deploy", "region": "eu-west-1"}
ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/ci/deploy-a1B2c3"
GITHUB = {"type": "github_secret", "repository": "acme/infra", "key": "DEPLOY_TOKEN",
          "token": "ghp_" + "a" * 36}
TFE = {"type": "tfe_variable", "organization": "acme", "workspace": "prod", "key": "TFE_TOKEN",
       "api_token": "x.atlasv1.y"}


@pytest.fixture(autouse=True)
def with_pynacl(monkeypatch):
    monkeypatch.setattr(github_secret, "_sealed_box_class", lambda: (object, object))


def items(first, second, same_item=False):
    def item(label, sinks):
        return {"provider": "pulumi", "id": label, "max_age": "90d",
                "params": {"api_url": "https://api.pulumi.example", "api_token": "pul-x",
                           "description": label},
                "deliver": sinks}
    if same_item:
        return [item("a", [first, second])]
    return [item("a", [first]), item("b", [second])]


SAME = {
    "vault: one path, another field": (VAULT, dict(VAULT, key="other")),
    "vault: the host in capitals, a trailing slash": (
        VAULT, dict(VAULT, url="HTTPS://Vault.Example.com:8200/")),
    "vault: the namespace as a mount prefix": (
        dict(VAULT, namespace="team-a"), dict(VAULT, engine_mount_point="team-a/secret")),
    "aws: by name and by ARN": (AWS, dict(AWS, name=ARN, region=None)),
    "aws: one secret, two fields": (dict(AWS, key="a"), dict(AWS, key="b")),
    "github: the owner in another case": (GITHUB, dict(GITHUB, repository="ACME/Infra")),
    "github: the key in lower case, the API URL with its default port": (
        GITHUB, dict(GITHUB, key="deploy_token", api_url="https://api.github.com:443/")),
    "github: an environment in another case": (
        dict(GITHUB, environment="Production"), dict(GITHUB, environment="production")),
    "tfe: the organization in another case": (TFE, dict(TFE, organization="ACME")),
}
APART = {
    "vault: another path": (VAULT, dict(VAULT, path="ci/other")),
    "vault: another server": (VAULT, dict(VAULT, url="https://vault2.example.com:8200")),
    "aws: another region": (AWS, dict(AWS, region="us-east-1")),
    "github: the repository's and an environment's secret": (
        GITHUB, dict(GITHUB, environment="production")),
    "github: a repository's and its organization's secret": (
        GITHUB, {k: v for k, v in dict(GITHUB, organization="acme").items()
                 if k != "repository"}),
    "tfe: a workspace's and a variable set's variable": (
        TFE, {k: v for k, v in dict(TFE, variable_set="shared").items() if k != "workspace"}),
    "tfe: another category": (TFE, dict(TFE, category="terraform")),
}


@pytest.mark.parametrize("case", list(SAME))
@pytest.mark.parametrize("same_item", [False, True], ids=["two tokens", "one token"])
def test_two_sinks_that_write_one_stored_secret_are_refused(case, same_item):
    first, second = SAME[case]
    with pytest.raises(ValidationError) as raised:
        validate_items(items(first, second, same_item), NOW)
    message = str(raised.value)
    where = "rotate_tokens[a].deliver[1]" if same_item else "rotate_tokens[b].deliver[0]"
    assert message.startswith(where + ": writes %s:" % first["type"]), message
    assert "as rotate_tokens[a].deliver[0] does" in message, message
    assert ("two sinks of one token cannot" if same_item else "two tokens cannot") in message
    assert "('" not in message, "a target must read as a place, not a tuple"
    for credential in ("hvs.x", "ghp_", "atlasv1"):
        assert credential not in message


@pytest.mark.parametrize("case", list(APART))
def test_sinks_that_write_different_secrets_are_accepted(case):
    first, second = APART[case]
    assert len(validate_items(items(first, second), NOW)) == 2
