"""Timed ansible-playbook runs for the benchmarks, and request counting between markers."""
import pathlib
import statistics
import tempfile
import time

from tests.functional.harness import run_playbook

MARKER = "/__bench_marker__/"


def marker_task(sandbox, platform, label):
    """A request the sandbox logs (and answers 404) that splits the log between operations."""
    return {"name": "marker %s" % label,
            "ansible.builtin.uri": {"url": sandbox.root_url(platform) + MARKER + label,
                                    "status_code": [200, 401, 403, 404]}}


def requests_between_markers(sandbox, platform):
    """{label: [requests after that marker, up to the next]} from the sandbox's request log."""
    counted, current = {}, None
    for entry in sandbox.log.select(platform):
        if entry.path.startswith(MARKER):
            current = entry.path[len(MARKER):]
            counted[current] = []
        elif current is not None:
            counted[current].append(entry)
    return counted


def timed_run(tasks, repeats, **kwargs):
    """Median wall time of ``repeats`` runs of a playbook made of ``tasks``."""
    times = []
    for _index in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            run = run_playbook(pathlib.Path(tmp), tasks, **kwargs)
            times.append(time.perf_counter() - started)
            if run.rc != 0:
                raise RuntimeError("benchmark playbook failed:\n" + run.output[-3000:])
    return statistics.median(times), times


def run_once(tasks, **kwargs):
    with tempfile.TemporaryDirectory() as tmp:
        run = run_playbook(pathlib.Path(tmp), tasks, **kwargs)
    if run.rc != 0:
        raise RuntimeError("benchmark playbook failed:\n" + run.output[-3000:])
    return run
