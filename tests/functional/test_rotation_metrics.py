"""The rotation role's Prometheus metrics (issue 27): the textfile checked by Debian's
``promtool``, the push received by Debian's ``prometheus-pushgateway`` started on loopback, a
push that fails only warning, bad options refused before any request; and the estate playbook
that turns the inventory plugin's hosts into metrics.
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.request
from datetime import timedelta

import pytest
import yaml

from tests.functional.harness import BIN, ansible_env, leaked
from tests.functional.test_rotate_role import file_sink, rotate
from tests.sandbox.core import days_ago, utcnow

TOKEN_METRICS = ("tokenops_token_expiry_timestamp_seconds",
                 "tokenops_token_last_rotation_timestamp_seconds",
                 "tokenops_token_last_used_timestamp_seconds", "tokenops_token_due",
                 "tokenops_token_rotation_failed")
RUN_METRICS = ("tokenops_rotation_last_run_timestamp_seconds",
               "tokenops_rotation_last_success_timestamp_seconds", "tokenops_rotation_tokens")


def debian_tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is missing: scripts/install_debian_tools.sh installs it (make test runs "
                    "it)" % name)
    return path


def promtool_check(path):
    proc = subprocess.run([debian_tool("promtool"), "check", "metrics"], input=path.read_text(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), \
        proc.stdout + proc.stderr


def samples(text):
    """``{(name, frozenset(labels)): value}`` of the text exposition format."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        assert match, line
        labels = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        found[(match.group(1), labels)] = float(match.group(3))
    return found


def series(found, name, **labels):
    wanted = frozenset(labels.items())
    return [value for (metric, have), value in found.items()
            if metric == name and wanted <= have]


def epoch(moment):
    return float(int(moment.timestamp()))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def pushgateway(tmp_path):
    """Debian's prometheus-pushgateway on a free loopback port, stopped after the test."""
    port = free_port()
    proc = subprocess.Popen([debian_tool("prometheus-pushgateway"),
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tmp_path, start_new_session=True)
    url = "http://127.0.0.1:%d" % port
    try:
        for _attempt in range(100):
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the Pushgateway did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def items(sandbox, sinks):
    """A due Pulumi token, a fresh TFE token with expiry and last use, a Cloudflare token whose
    rotation fails (the sandbox refuses its create), and a CloudTruth account that is gone."""
    pulumi, tfe, cloudflare = sandbox["pulumi"], sandbox["tfe"], sandbox["cloudflare"]
    now = utcnow()
    pulumi.add_personal_token("metrics-due", created=days_ago(120), last_used=days_ago(3))
    team = tfe.add_team("metrics")
    tfe.add_token(team, "metrics-fresh", created_at=now - timedelta(days=10),
                  expired_at=now + timedelta(days=40), last_used_at=now - timedelta(days=2))
    cloudflare.add_token("metrics-fails", issued_on=now - timedelta(days=200))
    conn = {platform: {"api_url": sandbox[platform].url, "api_token": sandbox[platform].admin_token}
            for platform in ("pulumi", "tfe", "cloudflare", "cloudtruth")}
    tokens = [
        {"provider": "pulumi", "id": "pulumi-due", "max_age": "90d",
         "params": dict(conn["pulumi"], description="metrics-due"),
         "deliver": [file_sink(sinks / "pulumi-due")]},
        {"provider": "tfe", "id": "tfe-fresh", "max_age": "90d",
         "params": dict(conn["tfe"], organization=tfe.organization, team="metrics",
                        description="metrics-fresh"),
         "deliver": [file_sink(sinks / "tfe-fresh")]},
        {"provider": "cloudflare", "id": "cloudflare-fails", "max_age": "90d",
         "params": dict(conn["cloudflare"], name="metrics-fails"),
         "deliver": [file_sink(sinks / "cloudflare-fails")]},
        {"provider": "cloudtruth", "id": "cloudtruth-gone", "max_age": "90d",
         "params": dict(conn["cloudtruth"], name="no-such-account"),
         "deliver": [file_sink(sinks / "cloudtruth-gone")]},
    ]
    return tokens, dict(now=now, team=team)


def test_metrics_file_of_a_run_with_a_failed_token(sandbox, tmp_path):
    sinks, out = tmp_path / "sinks", tmp_path / "textfile"
    sinks.mkdir()
    out.mkdir()
    tokens, seeded = items(sandbox, sinks)
    sandbox.faults.add("status", platform="cloudflare", method="POST", status=400, times=None,
                       message="refused by the test")
    metrics_file = out / "tokenops.prom"
    started = utcnow()
    run = rotate(tmp_path, tokens, extra={"rotate_metrics_file": str(metrics_file)})
    assert run.rc != 0          # the role fails: one token could not be rotated
    rows = run.rows()
    assert rows["pulumi-due"]["action"] == "rotated"
    assert rows["tfe-fresh"]["action"] == "not due"
    assert rows["cloudflare-fails"]["action"] == "failed"
    assert rows["cloudtruth-gone"]["action"] == "failed"

    promtool_check(metrics_file)
    assert stat.S_IMODE(os.stat(metrics_file).st_mode) == 0o644
    assert [p.name for p in out.iterdir()] == ["tokenops.prom"]       # no temporary left
    text = metrics_file.read_text()
    found = samples(text)
    assert leaked(sandbox, text) == []
    tfe_scope = "%s/%s" % (sandbox["tfe"].organization, seeded["team"])
    labels = {"pulumi-due": dict(platform="pulumi", scope="user"),
              "tfe-fresh": dict(platform="tfe", scope=tfe_scope),
              "cloudflare-fails": dict(platform="cloudflare", scope="user"),
              "cloudtruth-gone": dict(platform="cloudtruth", scope="organization")}
    for label, more in labels.items():
        assert series(found, "tokenops_token_rotation_failed", label=label, **more) == [
            1.0 if label in ("cloudflare-fails", "cloudtruth-gone") else 0.0], label
    # every token series has exactly the three labels
    assert {frozenset(k for k, v in have) for (name, have) in found if name in TOKEN_METRICS} \
        == {frozenset(("platform", "label", "scope"))}
    now = seeded["now"]
    # due: only the token that was due and not rotated; unknown (no series) where unplanned
    assert series(found, "tokenops_token_due", label="pulumi-due") == [0.0]
    assert series(found, "tokenops_token_due", label="tfe-fresh") == [0.0]
    assert series(found, "tokenops_token_due", label="cloudflare-fails") == [1.0]
    assert series(found, "tokenops_token_due", label="cloudtruth-gone") == []
    # times: the TFE token's own, the Pulumi token's new rotation, nothing for the lost account
    assert series(found, "tokenops_token_expiry_timestamp_seconds", label="tfe-fresh") == [
        epoch(now + timedelta(days=40))]
    assert series(found, "tokenops_token_last_used_timestamp_seconds", label="tfe-fresh") == [
        epoch(now - timedelta(days=2))]
    assert series(found, "tokenops_token_last_rotation_timestamp_seconds",
                  label="tfe-fresh") == [epoch(now - timedelta(days=10))]
    rotated_at, = series(found, "tokenops_token_last_rotation_timestamp_seconds",
                         label="pulumi-due")
    assert epoch(started) <= rotated_at <= time.time()
    assert series(found, "tokenops_token_last_used_timestamp_seconds", label="pulumi-due") == []
    assert series(found, "tokenops_token_expiry_timestamp_seconds", label="pulumi-due") == []
    assert series(found, "tokenops_token_last_rotation_timestamp_seconds",
                  label="cloudtruth-gone") == []
    assert series(found, "tokenops_token_last_rotation_timestamp_seconds",
                  label="cloudflare-fails") == [epoch(now - timedelta(days=200))]
    # per run: outcomes counted, the run's time, no success yet
    for outcome, count in (("rotated", 1), ("not_due", 1), ("failed", 2), ("skipped", 0)):
        assert series(found, "tokenops_rotation_tokens", outcome=outcome) == [count], outcome
    last_run, = series(found, "tokenops_rotation_last_run_timestamp_seconds")
    assert epoch(started) <= last_run <= time.time()
    assert series(found, "tokenops_rotation_last_success_timestamp_seconds") == []

    # The next run, without the failing items, succeeds: its time is the last success; a run
    # that fails after it keeps that time.
    sandbox.faults.clear()
    run = rotate(tmp_path, tokens[:2], name="second",
                 extra={"rotate_metrics_file": str(metrics_file)})
    assert run.rc == 0, run.output
    promtool_check(metrics_file)
    found = samples(metrics_file.read_text())
    success, = series(found, "tokenops_rotation_last_success_timestamp_seconds")
    assert series(found, "tokenops_rotation_last_run_timestamp_seconds") == [success]
    assert series(found, "tokenops_token_rotation_failed", label="cloudflare-fails") == []
    run = rotate(tmp_path, tokens[1:], name="third",
                 extra={"rotate_metrics_file": str(metrics_file)})
    assert run.rc != 0
    found = samples(metrics_file.read_text())
    assert series(found, "tokenops_rotation_last_success_timestamp_seconds") == [success]
    assert series(found, "tokenops_rotation_last_run_timestamp_seconds")[0] >= success


def test_the_pushgateway_receives_the_metrics(sandbox, tmp_path, pushgateway):
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    tokens, _seeded = items(sandbox, sinks)
    run = rotate(tmp_path, tokens[:2], extra={"rotate_pushgateway_url": pushgateway,
                                              "rotate_pushgateway_job": "nightly"})
    assert run.rc == 0, run.output
    with urllib.request.urlopen(pushgateway + "/metrics", timeout=10) as answer:
        scraped = answer.read().decode()
    found = samples("\n".join(line for line in scraped.splitlines()
                              if line.startswith("tokenops_")))
    assert series(found, "tokenops_token_rotation_failed", label="pulumi-due",
                  job="nightly") == [0.0]
    assert series(found, "tokenops_rotation_tokens", outcome="rotated", job="nightly") == [1.0]
    assert series(found, "tokenops_rotation_last_success_timestamp_seconds", job="nightly")
    assert leaked(sandbox, scraped) == []
    # The next push replaces the group: the token left out is gone from it.
    run = rotate(tmp_path, tokens[1:2], name="second",
                 extra={"rotate_pushgateway_url": pushgateway,
                        "rotate_pushgateway_job": "nightly"})
    assert run.rc == 0, run.output
    with urllib.request.urlopen(pushgateway + "/metrics", timeout=10) as answer:
        scraped = answer.read().decode()
    assert 'label="pulumi-due"' not in scraped and 'label="tfe-fresh"' in scraped


def test_an_unreachable_pushgateway_warns_and_the_run_succeeds(sandbox, tmp_path):
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    tokens, _seeded = items(sandbox, sinks)
    url = "http://metrics:pushgateway-password@127.0.0.1:%d" % free_port()
    run = rotate(tmp_path, tokens[:2], extra={"rotate_pushgateway_url": url})
    assert run.rc == 0, run.output
    assert run.rows()["pulumi-due"]["action"] == "rotated"
    assert "pushing the metrics to the Pushgateway at http://127.0.0.1:" in run.output
    assert "pushgateway-password" not in run.output


def test_bad_metrics_options_fail_before_any_request(sandbox, tmp_path):
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    tokens, _seeded = items(sandbox, sinks)
    for extra, message in (
            ({"rotate_metrics_file": str(tmp_path / "missing" / "tokenops.prom")},
             "rotate_metrics_file: the directory %s does not exist" % (tmp_path / "missing")),
            ({"rotate_pushgateway_url": "ftp://pushgateway.example.com"},
             "rotate_pushgateway_url: give the Pushgateway's http:// or https:// URL"),
            ({"rotate_pushgateway_url": "http://127.0.0.1:9091",
              "rotate_pushgateway_job": "a/b"}, "rotate_pushgateway_job: letters, digits")):
        sandbox.log.clear()
        run = rotate(tmp_path, tokens[:2], name="bad", extra=extra)
        assert run.rc != 0
        assert message in run.output, run.output
        assert sandbox.log.select() == []


def test_the_metrics_file_only_in_a_directory_no_other_user_can_change(
        sandbox, tmp_path, other_user, world_dir):
    """node_exporter serves whatever the file says: a directory another user can write (as
    /tmp), or reaches through a link of theirs, is refused before any request; a link at the
    file's own name is replaced, never written through."""
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    tokens, _seeded = items(sandbox, sinks)
    target = tmp_path / "root-only"
    target.mkdir(mode=0o755)
    link = os.path.join(world_dir, "textfile")
    other_user.run(["ln", "-s", str(target), link])
    for path, message in (
            (os.path.join(world_dir, "tokenops.prom"),
             "rotate_metrics_file: %s is owned by root, mode 1777" % world_dir),
            (os.path.join(link, "tokenops.prom"),
             "rotate_metrics_file: %s is a symbolic link of user %s" % (link, other_user.name))):
        sandbox.log.clear()
        run = rotate(tmp_path, tokens[:2], name="refused",
                     extra={"rotate_metrics_file": path})
        assert run.rc != 0
        assert message in run.output, run.output
        assert sandbox.log.select() == []
    assert os.listdir(target) == [] and sorted(os.listdir(world_dir)) == ["textfile"]

    # In the run's own directory, a link where the file goes is replaced, not followed.
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    (target / "tokenops.prom").symlink_to(victim)
    run = rotate(tmp_path, tokens[:2], extra={"rotate_metrics_file": str(target / "tokenops.prom")})
    assert run.rc == 0, run.output
    assert victim.read_text() == "root's file\n"
    assert not (target / "tokenops.prom").is_symlink()
    promtool_check(target / "tokenops.prom")
    assert stat.S_IMODE(os.stat(target / "tokenops.prom").st_mode) == 0o644


def test_the_estate_playbook_turns_the_inventory_into_metrics(sandbox, tmp_path):
    """``playbooks/estate_metrics.yml`` over the inventory plugin's hosts: one series per token
    and time the platform tells, checked by promtool."""
    cloudflare, pulumi = sandbox["cloudflare"], sandbox["pulumi"]
    now = utcnow()
    expiring, _secret = cloudflare.add_token("estate-expiring", issued_on=now - timedelta(days=20),
                                             expires_on=now + timedelta(days=3))
    used, _secret = pulumi.add_personal_token("estate-used", created=now - timedelta(days=50),
                                              last_used=now - timedelta(days=7))
    source = tmp_path / "estate.tokens.yml"
    source.write_text(yaml.safe_dump({"plugin": "tokenops.tokens.tokens", "connections": [
        {"platform": name, "api_url": sandbox[name].url, "api_token": sandbox[name].admin_token}
        for name in ("cloudflare", "pulumi", "pactflow")]}))
    out = tmp_path / "estate.prom"
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(source),
                           "tokenops.tokens.estate_metrics", "-e",
                           json.dumps({"estate_metrics_file": str(out)})],
                          capture_output=True, text=True, env=ansible_env(tmp_path),
                          cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    promtool_check(out)
    text = out.read_text()
    found = samples(text)
    host = "cloudflare_estate-expiring_" + expiring
    assert series(found, "tokenops_token_expiry_timestamp_seconds", label=host,
                  platform="cloudflare", scope="user") == [epoch(now + timedelta(days=3))]
    assert series(found, "tokenops_token_last_used_timestamp_seconds",
                  label="pulumi_estate-used_" + used) == [epoch(now - timedelta(days=7))]
    assert series(found, "tokenops_token_last_rotation_timestamp_seconds",
                  label="pulumi_estate-used_" + used) == [epoch(now - timedelta(days=50))]
    # PactFlow's tokens say no time: no series
    assert not [key for key in found if ("platform", "pactflow") in key[1]]
    assert {name for name, _labels in found} == {
        "tokenops_token_expiry_timestamp_seconds", "tokenops_token_last_rotation_timestamp_seconds",
        "tokenops_token_last_used_timestamp_seconds"}
    assert leaked(sandbox, text, proc.stdout, proc.stderr) == []


class HostileServer:
    """A loopback server (a Pushgateway, a Vault...) that reads a request and answers as
    ``mode`` says: ``trickle`` (one byte of its status line and headers a second, never
    ending) or ``loud`` (a 500 with an ESC sequence and 64 MiB of body)."""

    def __init__(self, mode):
        self.mode = mode
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _address = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            conn.recv(65536)
            if self.mode == "trickle":
                for byte in b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"y" * 10000:
                    if self.stopped.is_set():
                        break
                    conn.sendall(bytes([byte]))
                    time.sleep(1)
            else:
                size = 64 << 20
                conn.sendall(b"HTTP/1.1 500 Boom\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n" % (size + 12))
                conn.sendall(b"\x1b[2Jboom\x1b]0;")
                chunk = b"x" * (1 << 20)
                for _index in range(64):
                    conn.sendall(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped.set()
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("mode", ["trickle", "loud"])
def test_a_hostile_pushgateway_costs_the_run_a_bounded_time_and_a_plain_warning(
        sandbox, tmp_path, mode):
    """The push is a request like any other (issue 23 item 3): one deadline for connect,
    headers and body, a bounded body, a message without control characters. A Pushgateway (or
    anything at its address) that trickled its answer held the run, and its lock, for ever."""
    sinks = tmp_path / "sinks"
    sinks.mkdir()
    tokens, _seeded = items(sandbox, sinks)
    server = HostileServer(mode)
    returncode, output, elapsed = rotate_bounded(
        tmp_path, tokens[:1], server, "the Pushgateway",
        extra={"rotate_pushgateway_url": server.url})
    assert returncode == 0, output
    assert "Pushgateway at %s" % server.url in output, output
    assert "\x1b" not in output
    assert elapsed < 90, elapsed


def rotate_bounded(tmp_path, tokens, server, what, extra=None):
    """The role over ``tokens`` while ``server`` (a HostileServer, stopped after) misbehaves:
    ``(returncode, output, seconds)``; a run still waiting after 120 s is killed and fails the
    test, naming ``what`` it waited for."""
    try:
        started = time.monotonic()
        proc = rotate(tmp_path, tokens, extra=extra, popen=True)
        try:
            output, _errors = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail("the run was still waiting for %s after 120 s" % what)
        return proc.returncode, output, time.monotonic() - started
    finally:
        server.stop()


def test_the_estate_playbook_escapes_every_label_value(tmp_path):
    """A label value holding a backslash, a double quote or a line break is escaped as the text
    format says (the playbook runs over any host with ``tokenops_token``; a scope comes from the
    connection's options). The Jinja string literals ``'\\\\'`` meant to escape them are not read
    as escapes by ansible-core: a quote came out as ``\\\\"`` (ending the value), a backslash and a
    line break unescaped, and promtool refused the file."""
    scope = 'acme\nteam "x" \\ y \u00e9'
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {'odd "host" \\ name': {
        "tokenops_token": {"platform": "pulumi", "scope": scope,
                           "expires_at": "2027-01-01T00:00:00Z", "issued_at": None,
                           "last_used_at": None}}}}}))
    out = tmp_path / "estate.prom"
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory),
                           "tokenops.tokens.estate_metrics", "-e",
                           json.dumps({"estate_metrics_file": str(out)})],
                          capture_output=True, text=True, env=ansible_env(tmp_path),
                          cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    promtool_check(out)
    line, = [x for x in out.read_text().splitlines() if x and not x.startswith("#")]
    assert line == ('tokenops_token_expiry_timestamp_seconds{platform="pulumi",'
                    'label="odd \\"host\\" \\\\ name",'
                    'scope="acme\\nteam \\"x\\" \\\\ y \u00e9"} 1798761600')
