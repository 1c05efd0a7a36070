"""Text from platforms is shown as text (issue 23, item 8).

A server's error body and a token's id reach failure messages, warnings and the role's report.
Each holds an ESC sequence, HTML and a line break followed by Markdown; none of them may reach the
terminal, the log or report.md as anything but inert text.
"""
import re

from tests.functional.harness import module_task, run_playbook
from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.sandbox.core import days_ago

HOSTILE = ("\x1b]0;owned\x07\x1b[2J\x1b[31mred\u202eevil\u200b <img src=x onerror=alert(1)> "
           "&amp; [click](https://evil.example) **bold** `code` | cell |\n# Injected heading\n"
           "| forged | row |\r\n- forged item")


def assert_inert(text):
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\u200b" not in text and "\r" not in text


def assert_inert_markdown(markdown):
    assert_inert(markdown)
    assert "<img" not in markdown and "**bold**" not in markdown
    assert not re.search(r"(?<!\\)\]\(", markdown), "a live Markdown link"
    assert "`code`" not in markdown and "&amp; [" not in markdown
    for line in markdown.splitlines():
        assert not line.startswith(("# Injected", "| forged", "- forged")), line


def rename_token(pulumi, token_id, new_id):
    """Give a sandbox token another id (what the platform lists)."""
    token = pulumi._tokens.pop(token_id)
    token.id = new_id
    pulumi._tokens[new_id] = token


def test_a_hostile_error_body_fails_a_module_as_plain_text(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    sandbox.faults.add("status", platform="pulumi", method="GET", status=400, message=HOSTILE,
                       times=None)
    run = run_playbook(tmp_path, [module_task("pulumi_token", "result", {
        "api_url": pulumi.url, "api_token": pulumi.admin_token, "description": "x",
        "rotate": "always", "secret_dest": str(tmp_path / "secret")}, ignore_errors=True)])
    assert run["result"]["failed"]
    message = run["result"]["msg"]
    assert "red" in message and "Injected heading" in message, message
    assert_inert(message)
    assert_inert(run.output)


def test_hostile_text_in_the_report_and_on_the_terminal(sandbox, tmp_path):
    pulumi, cloudflare = sandbox["pulumi"], sandbox["cloudflare"]
    pulumi.add_personal_token("fresh", created=days_ago(1))
    fresh_id = [t["id"] for t in pulumi.tokens("personal") if t["description"] == "fresh"][0]
    hostile_id = "\x1b[2J<b>x</b>|forged|\n# Injected heading"
    rename_token(pulumi, fresh_id, hostile_id)
    cloudflare.add_token("cf-hostile", issued_on=days_ago(120))
    # a token no item covers, named by someone else: the report's hygiene lists it (issue 27)
    cloudflare.add_token("by hand " + HOSTILE, issued_on=days_ago(5))
    sandbox.faults.add("status", platform="cloudflare", method="POST", status=400,
                       message=HOSTILE, times=None)
    pconn = {"api_url": pulumi.url, "api_token": pulumi.admin_token}
    tokens = [
        {"provider": "pulumi", "id": "fresh", "params": dict(pconn, description="fresh"),
         "max_age": "90d", "deliver": [file_sink(tmp_path / "fresh")]},
        {"provider": "cloudflare", "id": "cf-hostile",
         "params": {"api_url": cloudflare.url, "api_token": cloudflare.admin_token,
                    "name": "cf-hostile"},
         "max_age": "90d", "deliver": [file_sink(tmp_path / "cf")]},
    ]
    run = rotate(tmp_path, tokens)
    assert run.rc != 0
    rows = run.rows()
    assert rows["fresh"]["token_id"] == hostile_id          # the JSON report keeps the value
    assert rows["cf-hostile"]["action"] == "failed"
    assert "Injected heading" in rows["cf-hostile"]["error"]
    assert_inert_markdown(run.report_md)
    # What the report shows of them, as text.
    assert "&lt;img src=x onerror=alert(1)&gt;" in run.report_md
    assert "[click]\\(https://evil.example)" in run.report_md
    assert "[2J&lt;b&gt;x&lt;/b&gt;\\|forged\\| # Injected heading" in run.report_md
    hygiene = run.report_md.split("## Hygiene")[1]
    assert "by hand ]0;owned" in hygiene and "\\`code\\`" in hygiene
    assert "[2J&lt;b&gt;x&lt;/b&gt;\\|forged\\|" in hygiene        # never expires
    assert_inert(run.output)
    assert "<img" not in run.output
    assert_no_leak(sandbox, run)
