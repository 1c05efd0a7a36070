"""The alert rules the collection ships (roles/rotate/files/prometheus/tokenops-rules.yml),
checked and unit-tested by Debian's promtool (issue 27): every rule has a case that fires and
one that does not."""
import pathlib
import subprocess

import yaml

from tests.functional.harness import ROOT
from tests.functional.test_rotation_metrics import debian_tool

RULES = ROOT / "roles" / "rotate" / "files" / "prometheus" / "tokenops-rules.yml"
TESTS = ROOT / "tests" / "prometheus" / "tokenops-rules.test.yml"


def promtool(*args, cwd=None):
    proc = subprocess.run([debian_tool("promtool"), *args], capture_output=True, text=True,
                          cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_promtool_checks_the_rules():
    assert "SUCCESS: 4 rules found" in promtool("check", "rules", str(RULES))


def test_promtool_unit_tests_pass():
    assert "SUCCESS" in promtool("test", "rules", TESTS.name, cwd=TESTS.parent)


def test_every_rule_has_a_case_that_fires_and_one_that_does_not():
    alerts = [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
              for rule in group["rules"] if "alert" in rule]
    assert set(alerts) == {"TokenopsTokenExpiringNotRotated", "TokenopsTokenRotationFailed",
                           "TokenopsRotationNotSucceeding", "TokenopsTokenUnused"}
    suite = yaml.safe_load(TESTS.read_text())
    assert [pathlib.Path(TESTS.parent, f).resolve() for f in suite["rule_files"]] == [RULES]
    for alert in alerts:
        fires = quiet = False
        for case in suite["tests"]:
            evals = [e for e in case.get("alert_rule_test", []) if e["alertname"] == alert]
            if not evals:
                continue
            expected = [a["exp_labels"] for e in evals for a in e["exp_alerts"]]
            fires = fires or bool(expected)
            # quiet: an evaluation that expects nothing, or an input series no alert names
            named = {(a.get("label"), a.get("job")) for a in expected}
            inputs = {(_label(s["series"], "label"), _label(s["series"], "job"))
                      for s in case["input_series"]}
            quiet = quiet or any(not e["exp_alerts"] for e in evals) or bool(inputs - named)
        assert fires, "%s: no case fires it" % alert
        assert quiet, "%s: no case where it stays silent" % alert


def _label(series, name):
    marker = '%s="' % name
    if marker not in series:
        return None
    return series.split(marker, 1)[1].split('"', 1)[0]
