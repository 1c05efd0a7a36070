"""Delivery to secret stores (issue 24): the role rotates tokens into HashiCorp Vault / OpenBao
KV version 2 (``vault_kv``) and AWS Secrets Manager (``aws_secretsmanager``), against a real
OpenBao server and moto's server mode (``tests/stores.py``, one of each per test session).

What consumers use reads the result back: hvac and AWX's HashiCorp Vault credential plugin
(``awx-plugins-core``) for Vault; boto3 by stage (and ``VersionIdsToStages``) for AWS. The
sandbox says which secrets work. Every run's output, report, journal and state directory, the
OpenBao audit log, the secrets' Vault metadata and AWS descriptions and tags are searched for
every secret the sandbox issued and every store credential.
"""
import json
import os
import signal
import time

import pytest

from tests.functional.harness import leaked
from tests.functional.test_rotate_role import assert_no_leak, collect, rotate
from tests.sandbox.core import days_ago
from tests.stores import unique

from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import (
    IN_PLACE_CHECK_FAILED,
)


# -- what a test sets up ------------------------------------------------------------------------

def vault_sink(openbao, path, auth, key=None):
    """A ``vault_kv`` sink at ``secret/<path>``; ``auth`` is a token or ``(role_id, secret_id)``."""
    sink = {"type": "vault_kv", "url": openbao.url, "path": path}
    if isinstance(auth, tuple):
        sink.update(auth_method="approle", role_id=auth[0], secret_id=auth[1])
    else:
        sink.update(token=auth)
    if key:
        sink["key"] = key
    return sink


class Stores:
    """The store side of a test: Vault paths and AWS secrets, their credentials and readers."""

    def __init__(self, openbao, moto):
        self.openbao, self.moto = openbao, moto
        self.base = unique("ci")
        self.credentials = [moto.SECRET_KEY]

    def path(self, label):
        return "%s/%s" % (self.base, label)

    def vault_auth(self, labels, approle=False):
        policy = self.openbao.writer_policy([self.path(label) for label in labels])
        if approle:
            role_id, secret_id = self.openbao.approle([policy])
            self.credentials += [role_id, secret_id]
            return role_id, secret_id
        token = self.openbao.token([policy])
        self.credentials.append(token)
        return token

    def versions(self, label):
        """The current Vault version of a path (0: none)."""
        try:
            return self.openbao.metadata(self.path(label))["current_version"]
        except Exception:  # noqa: BLE001 (hvac's InvalidPath: no secret there)
            return 0

    def awx_vault_read(self, label, auth, key="token"):
        """What an AWX job's HashiCorp Vault Secret Lookup credential reads."""
        from awx_plugins.credentials import hashivault  # pylint: disable=import-outside-toplevel
        login = ({"role_id": auth[0], "secret_id": auth[1], "default_auth_path": "approle"}
                 if isinstance(auth, tuple) else {"token": auth})
        return hashivault.kv_backend(url=self.openbao.url, api_version="v2",
                                     secret_backend="secret", secret_path=self.path(label),
                                     secret_key=key, **login)

    def leaks(self, sandbox, aws_names, vault_labels):
        """Secrets or credentials in the audit log (outside the KV data they belong in), in the
        Vault metadata, in the AWS descriptions and tags, or in moto's request log."""
        known = list(sandbox.secrets.all_values())
        found = self.openbao.audit_leaks(
            known, allowed_data_paths={"secret/data/%s" % self.path(label)
                                       for label in vault_labels})
        texts = [self.moto.server_log.read_text()]
        for label in vault_labels:
            meta = self.openbao.metadata(self.path(label))
            texts.append(json.dumps(meta.get("custom_metadata")))
        for name in aws_names:
            about = self.moto.client().describe_secret(SecretId=name)
            texts.append(json.dumps([about.get("Description"), about.get("Tags")]))
        found += leaked(sandbox, *texts, extra=self.credentials)
        audit = self.openbao.audit_log.read_text()
        found += ["a store credential in the audit log" for credential in self.credentials
                  if credential in audit]
        return found


def pulumi_item(sandbox, label, deliver, **more):
    pulumi = sandbox["pulumi"]
    return {"provider": "pulumi", "id": label, "max_age": "90d", "deliver": deliver,
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": label}, **more}


# -- the four platforms into both stores ---------------------------------------------------------

def test_four_platforms_deliver_to_vault_and_aws_then_a_second_run_changes_nothing(
        sandbox, openbao, moto, tmp_path):
    pulumi, tfe, cloudflare, cloudtruth = (sandbox[name] for name in
                                           ("pulumi", "tfe", "cloudflare", "cloudtruth"))
    old = {
        "pulumi": pulumi.add_personal_token("stores-pulumi", created=days_ago(120)),
        "tfe": tfe.add_token(tfe.add_team("stores"), "stores-ci", created_at=days_ago(120)),
        "cloudflare": cloudflare.add_token("stores-cf", issued_on=days_ago(120)),
        "cloudtruth": cloudtruth.add_service_account("stores-ct", created_at=days_ago(120)),
    }
    stores = Stores(openbao, moto)
    labels = list(old)
    # Vault: pulumi's path holds its previous secret beside another field; the others are new.
    openbao.write(stores.path("pulumi"), {"token": old["pulumi"][1], "owner": "platform-team"})
    token = stores.vault_auth(labels)
    approle = stores.vault_auth(labels, approle=True)
    auth = {"pulumi": token, "tfe": approle, "cloudflare": token, "cloudtruth": approle}
    # AWS: a plain string (pulumi's exists, tfe's is absent and gets created) and a JSON field
    # beside other fields (cloudflare's, cloudtruth's).
    names = dict((label, unique(label)) for label in labels)
    aws = moto.client()
    aws.create_secret(Name=names["pulumi"], SecretString=old["pulumi"][1])
    aws.create_secret(Name=names["cloudflare"], SecretString=json.dumps(
        {"token": old["cloudflare"][1], "zone": "example.com"}))
    aws.create_secret(Name=names["cloudtruth"], SecretString=json.dumps(
        {"api_key": old["cloudtruth"][1], "environment": "production"}))
    aws_key = {"pulumi": None, "tfe": None, "cloudflare": "token", "cloudtruth": "api_key"}
    params = {
        "pulumi": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                   "description": "stores-pulumi"},
        "tfe": {"api_url": tfe.url, "api_token": tfe.admin_token,
                "organization": tfe.organization, "team": "stores", "description": "stores-ci"},
        "cloudflare": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                       "name": "stores-cf"},
        "cloudtruth": {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token,
                       "name": "stores-ct", "keep_previous_for": "5m"},
    }
    tokens = [{"provider": label, "id": label, "params": params[label], "max_age": "90d",
               "deliver": [vault_sink(openbao, stores.path(label), auth[label]),
                           moto.sink(names[label], **({"key": aws_key[label]}
                                                      if aws_key[label] else {}))]}
              for label in labels]
    before = {label: len(moto.stages(names[label])) for label in ("pulumi", "cloudflare",
                                                                   "cloudtruth")}

    run = rotate(tmp_path, tokens, name="apply")
    assert run.rc == 0, run.output
    rows = run.rows()
    delivered = {}
    for label in labels:
        row = rows[label]
        assert row["action"] == "rotated", row
        held = openbao.read(stores.path(label))["token"]
        delivered[label] = held
        # Every consumer path reads the new secret, and the platform accepts it.
        assert held != old[label][1] and sandbox.secrets.is_live(held), label
        assert stores.awx_vault_read(label, auth[label]) == held, label
        assert moto.current(names[label], aws_key[label]) == held, label
        stages = moto.stages(names[label])
        current = [v for v, s in stages.items() if "AWSCURRENT" in s]
        assert len(current) == 1
        if label != "tfe":
            assert len(stages) == before[label] + 1, "not one new version: %s" % stages
            assert [v for v, s in stages.items() if "AWSPREVIOUS" in s], "AWSPREVIOUS lost"
        # The previous token is revoked (CloudTruth: its window ends, here within 5 minutes).
        if label == "cloudtruth":
            assert sandbox.secrets.get(old[label][1]).revoked_at is not None
        else:
            assert not sandbox.secrets.is_live(old[label][1]), label
        custom = openbao.metadata(stores.path(label))["custom_metadata"]
        assert custom["tokenops_platform"] == label
        assert custom["tokenops_token_id"] == row["token_id"]
        assert custom["tokenops_rotated_at"] and custom["tokenops_expires_at"]
        assert row["delivered"] == ["vault_kv:%s/secret/%s#token" % (openbao.url,
                                                                     stores.path(label)),
                                    "aws_secretsmanager:%s%s" % (names[label], "#%s" % aws_key[
                                        label] if aws_key[label] else "")]
    # The other fields are untouched.
    assert openbao.read(stores.path("pulumi"))["owner"] == "platform-team"
    assert json.loads(aws.get_secret_value(SecretId=names["cloudflare"], VersionStage="AWSCURRENT")
                      ["SecretString"])["zone"] == "example.com"
    assert json.loads(aws.get_secret_value(SecretId=names["cloudtruth"], VersionStage="AWSCURRENT")
                      ["SecretString"])["environment"] == "production"
    assert_no_leak(sandbox, run)
    assert leaked(sandbox, run.output, run.report_md, run.written,
                  extra=stores.credentials) == []
    assert stores.leaks(sandbox, names.values(), labels) == []
    vault_versions = {label: stores.versions(label) for label in labels}
    aws_versions = {label: moto.stages(names[label]) for label in labels}

    # The second run changes nothing: not due, no platform write, no new store version.
    sandbox.log.clear()
    again = rotate(tmp_path, tokens, name="again")
    assert again.rc == 0, again.output
    assert {row["action"] for row in again.rows().values()} == {"not due"}, again.report_md
    assert set(sandbox.log.methods()) == {"GET"}, sandbox.log.writes()
    assert {label: stores.versions(label) for label in labels} == vault_versions
    assert {label: moto.stages(names[label]) for label in labels} == aws_versions

    # Someone puts a dead secret where Cloudflare's consumers read it: the next run reads the
    # stores back, finds it refused, and delivers a working one (the others stay untouched).
    aws.put_secret_value(SecretId=names["cloudflare"], SecretString=json.dumps(
        {"token": old["cloudflare"][1], "zone": "example.com"}))
    third = rotate(tmp_path, tokens, name="third")
    assert third.rc == 0, third.output
    rows = third.rows()
    assert rows["cloudflare"]["action"] == "rotated", rows["cloudflare"]
    assert "refused by Cloudflare" in rows["cloudflare"]["reason"]
    assert sandbox.secrets.is_live(moto.current(names["cloudflare"], "token"))
    assert {row["action"] for label, row in rows.items() if label != "cloudflare"} == {"not due"}
    assert stores.leaks(sandbox, names.values(), labels) == []
    assert_no_leak(sandbox, third)
