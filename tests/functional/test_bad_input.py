"""Bad input fails before any request, with a message that starts with the option's name."""
from tests.functional.harness import leaked, run_playbook

CASES = [
    ("max_age", {"description": "x", "rotate": "due", "max_age": "ninety days"}),
    ("renew_before", {"description": "x", "rotate": "due", "renew_before": "-5d"}),
    ("expires_in", {"description": "x", "expires_in": "12 parsecs"}),
    ("expires_at", {"description": "x", "expires_at": "2026-13-45T99:00:00Z"}),
    ("expires_at", {"description": "x", "expires_at": "2001-01-01T00:00:00Z"}),
    ("api_url", {"description": "x", "api_url": "ftp://127.0.0.1/"}),
    ("api_url", {"description": "x", "api_url": "file:///etc/passwd"}),
    ("api_url", {"description": "x", "api_url": "http://alice:hunter2@127.0.0.1:1/"}),
    ("api_url", {"description": "x", "api_url": "http://127.0.0.1:1/?token=abc"}),
    ("api_token", {"description": "x", "api_token": "two words"}),
    ("timeout", {"description": "x", "timeout": 0}),
]


def test_bad_input_names_the_option_and_sends_nothing(sandbox, tmp_path):
    pulumi = sandbox["pulumi"]
    tasks = [{"name": "case %d" % number,
              "tokenops.tokens.pulumi_token": {"api_url": pulumi.url,
                                               "api_token": pulumi.admin_token, **args},
              "register": "case%d" % number, "ignore_errors": True}
             for number, (_option, args) in enumerate(CASES)]
    sandbox.log.clear()
    run = run_playbook(tmp_path, tasks)
    assert run.rc == 0, run.output
    for number, (option, _args) in enumerate(CASES):
        result = run["case%d" % number]
        assert result["failed"], (number, result)
        assert result["msg"].startswith(option + ":"), (number, result["msg"])
    assert sandbox.log.select() == [], "a request was sent before the input was checked"
    assert "hunter2" not in run.output
    assert leaked(sandbox, run.output) == []
