"""Two playbooks running a module on one token at once (issue 23, item 6, the modules alone).

Run A regenerates the PactFlow token in place; the platform acts at once, but its answer
reaches A only after run B's regeneration. Meanwhile run B regenerates it again (A's secret
dies) and writes its own secret to the shared secret_dest. Then A's answer arrives. Today A
wrote its dead secret over B's working one and both ended rc 0. A module now checks, before it
writes secret_dest or returns, that the secret it issued still works, and fails clearly when
another run replaced it.
"""
import subprocess
import threading

import yaml

from tests.functional.harness import BIN, ansible_env, leaked


class SlowAnswer:
    """WSGI middleware: the first matching request is acted on at once, and answered only once
    a second matching request was acted on (or after ``limit`` seconds). While it waits, it lets
    go of the sandbox's lock (held around every request), so that other requests are served."""

    def __init__(self, sandbox, app, method, suffix, limit=280):
        self.sandbox = sandbox
        self.app, self.method, self.suffix, self.limit = app, method, suffix, limit
        self.hit, self.second = threading.Event(), threading.Event()
        self.in_time = None

    def __call__(self, environ, start_response):
        body = b"".join(self.app(environ, start_response))
        if (environ["REQUEST_METHOD"] == self.method
                and environ.get("PATH_INFO", "").endswith(self.suffix)):
            if not self.hit.is_set():
                self.hit.set()
                self.sandbox.lock.release()
                try:
                    self.in_time = self.second.wait(self.limit)
                finally:
                    self.sandbox.lock.acquire()
            else:
                self.second.set()
        return [body]


def playbook(tmp_path, name, pactflow, dest):
    work = tmp_path / name
    work.mkdir()
    credentials = work / "credentials.yml"
    credentials.write_text(yaml.safe_dump({"credential": pactflow.admin_token}))
    credentials.chmod(0o600)
    path = work / "play.yml"
    path.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "vars_files": [str(credentials)],
        "tasks": [{"name": "rotate the read-only token",
                   "tokenops.tokens.pactflow_token": {
                       "api_url": pactflow.url, "api_token": "{{ credential }}",
                       "type": "read-only", "rotate": "always", "secret_dest": str(dest),
                       # the answer of A's regenerate waits for B's: no timeout in between
                       "timeout": 300},
                   "register": "rotated"}]}]))
    return subprocess.Popen([str(BIN / "ansible-playbook"), "-i", "localhost,", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ansible_env(work), cwd=work)


def test_two_playbooks_on_one_token_never_end_rc_0_with_a_dead_secret_dest(sandbox, tmp_path):
    pactflow = sandbox["pactflow"]
    dest = tmp_path / "read-only-token"
    slow = SlowAnswer(sandbox, pactflow.app, "POST", "/regenerate")
    pactflow.app = slow
    first = playbook(tmp_path, "a", pactflow, dest)
    assert slow.hit.wait(60), "run A never regenerated the token"
    second = playbook(tmp_path, "b", pactflow, dest)
    outputs = {"b": second.communicate(timeout=400)[0]}
    outputs["a"] = first.communicate(timeout=400)[0]
    assert slow.in_time, "run B never regenerated while A waited: the case proves nothing"
    rcs = {"a": first.returncode, "b": second.returncode}
    held = dest.read_text().strip()
    assert sandbox.secrets.is_live(held), "secret_dest holds a dead secret (rcs %s)" % rcs
    assert rcs["b"] == 0, outputs["b"]
    assert rcs["a"] != 0, "run A ended rc 0 although its secret died: %s" % outputs["a"]
    assert "another run (a second playbook or job over the same token" in outputs["a"]
    assert "secret_dest was not written" in outputs["a"]
    assert held == pactflow.token_by_type("read-only")["value"]
    assert leaked(sandbox, *outputs.values()) == []
