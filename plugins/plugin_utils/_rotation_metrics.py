# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""A rotation run's Prometheus metrics: the text exposition format, written atomically for
node_exporter's textfile collector and pushed to a Pushgateway.

Built from the report's rows only: label, platform, scope, times and outcomes, never a secret or
a credential. Per token (labels ``platform``, ``label``, ``scope``): expiry, last rotation, last
use (each only where known), whether it is still due, whether its rotation failed. Per run: the
run's time, the last run without a failure, and the tokens by outcome.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import re
import stat

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path
from ansible_collections.tokenops.tokens.plugins.module_utils._estate import moment_of
from ansible_collections.tokenops.tokens.plugins.module_utils._text import printable
from ansible_collections.tokenops.tokens.plugins.module_utils._transport import (
    BodyTooLargeError, DeadlineSession, DeadlineTimeout,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, isoformat, parse_optional_timestamp,
)

try:
    from urllib.parse import quote, urlsplit, urlunsplit
except ImportError:  # pragma: no cover
    from urllib import quote  # type: ignore
    from urlparse import urlsplit, urlunsplit  # type: ignore

TOKEN_METRICS = (
    ('tokenops_token_expiry_timestamp_seconds',
     'When the token expires, in Unix seconds; no series for a token without expiry.'),
    ('tokenops_token_last_rotation_timestamp_seconds',
     'When the current secret was issued (by this run, an earlier rotation, or as the platform '
     'says), in Unix seconds; no series where unknown.'),
    ('tokenops_token_last_used_timestamp_seconds',
     'When the token was last used, as the platform says, in Unix seconds; no series for a token '
     'never used, rotated by this run, or on a platform that does not say.'),
    ('tokenops_token_due', '1 when the token was due and this run did not rotate it, else 0.'),
    ('tokenops_token_rotation_failed', '1 when this run failed to rotate or check the token, '
                                       'else 0.'),
)
RUN_METRICS = (
    ('tokenops_rotation_last_run_timestamp_seconds',
     'When the last rotation run finished, in Unix seconds.'),
    ('tokenops_rotation_last_success_timestamp_seconds',
     'When the last rotation run without a failed token finished, in Unix seconds.'),
    ('tokenops_rotation_tokens', 'Tokens of the last rotation run, by outcome.'),
)
OUTCOMES = ('rotated', 'not_due', 'failed', 'skipped')
#: label -> the report row's field: the platform as the inventory plugin names it (the item's
#: provider), the item's id, the token's scope
LABELS = (('platform', 'provider'), ('label', 'label'), ('scope', 'scope'))
#: where the last run without a failure is remembered, in the state directory
LAST_RUN_FILE = 'last_run.json'
PUSH_JOB = re.compile(r'^[A-Za-z0-9_.:-]+$')
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
PUSH_TIMEOUT = 10
#: the most of the Pushgateway's answer read (it answers an empty body, or a line of error)
PUSH_ANSWER_BYTES = 64 * 1024


class MetricsError(Exception):
    """The metrics file or the push failed; the message never holds a URL's credentials."""


def _escape(value):
    return str(value).replace('\\', '\\\\').replace('\n', '\\n').replace('"', '\\"')


def _number(value):
    return '%d' % value if float(value).is_integer() else repr(float(value))


def _epoch(text):
    moment = moment_of(text)
    return None if moment is None else (moment - _EPOCH).total_seconds()


_EPOCH = parse_optional_timestamp('1970-01-01T00:00:00Z')


def _token_values(row, now):
    """The per-token values of one report row (``None``: no series)."""
    rotated = row.get('action') == 'rotated'
    due = row.get('due')
    return {
        'tokenops_token_expiry_timestamp_seconds': _epoch(row.get('expires_at')),
        'tokenops_token_last_rotation_timestamp_seconds':
            _epoch(isoformat(now)) if rotated else _epoch(row.get('issued_at')),
        'tokenops_token_last_used_timestamp_seconds':
            None if rotated else _epoch(row.get('last_used_at')),
        'tokenops_token_due': None if due is None else int(bool(due) and not rotated),
        'tokenops_token_rotation_failed': int(row.get('action') == 'failed'),
    }


def outcome(row):
    return (row.get('action') or '').replace(' ', '_')


def exposition(rows, now, last_success):
    """The text exposition format (version 0.0.4) of a run's rows."""
    lines = []
    values = [(','.join('%s="%s"' % (key, _escape(row.get(field) or '')) for key, field in LABELS),
               _token_values(row, now)) for row in rows]
    for name, text in TOKEN_METRICS:
        lines += ['# HELP %s %s' % (name, text), '# TYPE %s gauge' % name]
        lines += ['%s{%s} %s' % (name, labels, _number(value[name]))
                  for labels, value in values if value[name] is not None]
    (run, run_help), (success, success_help), (tokens, tokens_help) = RUN_METRICS
    lines += ['# HELP %s %s' % (run, run_help), '# TYPE %s gauge' % run,
              '%s %s' % (run, _number(_epoch(isoformat(now))))]
    lines += ['# HELP %s %s' % (success, success_help), '# TYPE %s gauge' % success]
    if last_success is not None:
        lines.append('%s %s' % (success, _number(_epoch(last_success))))
    counts = dict((name, 0) for name in OUTCOMES)
    for row in rows:
        counts[outcome(row)] = counts.get(outcome(row), 0) + 1
    lines += ['# HELP %s %s' % (tokens, tokens_help), '# TYPE %s gauge' % tokens]
    lines += ['%s{outcome="%s"} %d' % (tokens, _escape(name), count)
              for name, count in sorted(counts.items())]
    return '\n'.join(lines) + '\n'


def remember_run(state_dir, now, succeeded):
    """Record this run in the state directory; return the last run without a failure (ISO 8601
    text, this one when it succeeded), or None when no run succeeded yet.

    ``last_run.json`` is read and written as the journal is (``module_utils/_safe_path.py``): in
    the run's own directory, never through a link, only a file of the run's user is believed.
    ``MetricsError`` when it cannot be."""
    path = os.path.join(state_dir, LAST_RUN_FILE)
    try:
        dir_fd = safe_path.private_directory(state_dir, 'rotate_state_dir')
    except (safe_path.UnsafePath, EnvironmentError) as exc:
        raise MetricsError('the last successful run could not be remembered: %s' % _reason(exc))
    try:
        try:
            earlier = json.loads(safe_path.read_file(dir_fd, LAST_RUN_FILE, path) or b'{}')
        except (safe_path.UnsafePath, EnvironmentError, ValueError):
            earlier = {}
        if not isinstance(earlier, dict):
            earlier = {}
        last_success = isoformat(now) if succeeded else earlier.get('last_success')
        if moment_of(last_success) is None:
            last_success = None
        safe_path.write_file(dir_fd, LAST_RUN_FILE, json.dumps(dict(
            last_run=isoformat(now), last_success=last_success)), path)
    except EnvironmentError as exc:
        raise MetricsError('the last successful run could not be remembered: %s' % _reason(exc))
    finally:
        os.close(dir_fd)
    return last_success


def _reason(exc):
    """An exception as a short text: ``path: No space left on device``."""
    if isinstance(exc, EnvironmentError) and exc.strerror:
        return '%s: %s' % (exc.filename, exc.strerror) if exc.filename else exc.strerror
    return str(exc)


# -- checks before any request ----------------------------------------------------------------
def metrics_directory(path):
    """A descriptor of the metrics file's directory, or ``InputError`` naming
    ``rotate_metrics_file``.

    The directory is reached without another user's link on the way and must belong to the
    run's user or root and be writable by no one else (``module_utils/_safe_path.py``), as the
    role's other directories: node_exporter serves whatever the file says, so no other local
    user may plant, swap or link it. Debian's textfile directory,
    ``/var/lib/prometheus/node-exporter``, is root's, mode 0755. It is not created.
    """
    if not os.path.isabs(path):
        raise InputError('rotate_metrics_file: must be an absolute path, got %s' % path)
    directory = os.path.dirname(os.path.normpath(path))
    try:
        dir_fd = safe_path.private_directory(directory, 'rotate_metrics_file', create=False)
    except safe_path.UnsafePath as exc:
        raise InputError(str(exc))
    except EnvironmentError as exc:
        if exc.errno == errno.ENOENT:
            raise InputError('rotate_metrics_file: the directory %s does not exist' % directory)
        raise InputError('rotate_metrics_file: the directory %s cannot be used (%s)'
                         % (directory, _reason(exc)))
    try:
        if not os.access('.', os.W_OK | os.X_OK, dir_fd=dir_fd):
            raise InputError('rotate_metrics_file: this run (uid %d) may not create files in %s'
                             % (os.geteuid(), directory))
        info = safe_path.file_info(dir_fd, os.path.basename(path))
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise InputError('rotate_metrics_file: %s is a directory' % path)
    except BaseException:
        os.close(dir_fd)
        raise
    return dir_fd


def check_metrics_file(path):
    """``InputError`` naming ``rotate_metrics_file`` when the file could not be written."""
    if path:
        os.close(metrics_directory(path))


def shown_url(url):
    """``url`` without a user name or password, for messages."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ''
        if parts.port:
            netloc += ':%d' % parts.port
        return urlunsplit((parts.scheme, netloc, parts.path, '', ''))
    except ValueError:
        return '(an unreadable URL)'


def check_pushgateway(url, job):
    """``InputError`` naming the option when the Pushgateway URL or job cannot be used."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError:
        raise InputError('rotate_pushgateway_url: not a valid URL')
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise InputError('rotate_pushgateway_url: give the Pushgateway\'s http:// or https:// '
                         'URL, such as http://pushgateway.example.com:9091; got %s'
                         % shown_url(url))
    if parts.query or parts.fragment:
        raise InputError('rotate_pushgateway_url: must not contain a query string or fragment')
    if not PUSH_JOB.match(job or ''):
        raise InputError('rotate_pushgateway_job: letters, digits, "_", ".", ":" and "-" only; '
                         'got %r' % (job,))


# -- output -------------------------------------------------------------------------------------
def write_metrics_file(path, text):
    """Replace the metrics file whole (node_exporter reads it at any time): a temporary file
    beside it, never through a link, renamed over it; readable by all, as the textfile
    collector runs as another user; it holds no secret."""
    try:
        dir_fd = metrics_directory(path)
    except InputError as exc:
        raise MetricsError('%s; the metrics file was not written' % exc)
    try:
        safe_path.write_file(dir_fd, os.path.basename(os.path.normpath(path)), text, path,
                             mode=0o644)
    except EnvironmentError as exc:
        raise MetricsError('rotate_metrics_file: %s could not be written: %s'
                           % (path, exc.strerror or type(exc).__name__))
    finally:
        os.close(dir_fd)


def push(url, job, text, timeout=PUSH_TIMEOUT):
    """PUT the metrics as the group ``job`` (replacing what the last run pushed).

    Within one deadline of ``timeout`` seconds for connecting, the headers and the body, and
    reading at most ``PUSH_ANSWER_BYTES`` of the answer (``_transport``): ``requests``' own
    timeout bounds each read, so an address that answers a byte a second would hold the run,
    and its lock, for ever.
    """
    target = '%s/metrics/job/%s' % (url.rstrip('/'), quote(job, safe=''))
    session = DeadlineSession(timeout, PUSH_ANSWER_BYTES)
    try:
        answer = session.put(target, data=text.encode('utf-8'), timeout=(timeout, timeout),
                             headers={'Content-Type': CONTENT_TYPE}, allow_redirects=False)
    except Exception as exc:  # pylint: disable=broad-except
        # anything the HTTP stack raises; its text may quote the URL's password, except ours
        why = str(exc) if isinstance(exc, (DeadlineTimeout, BodyTooLargeError)) \
            else type(exc).__name__
        raise MetricsError('pushing the metrics to the Pushgateway at %s failed: %s'
                           % (shown_url(url), why))
    finally:
        session.close()
    if answer.status_code >= 300:
        raise MetricsError('the Pushgateway at %s answered HTTP %d: %s'
                           % (shown_url(url), answer.status_code,
                              printable(' '.join(_answer_text(answer).split()))[:300]))


def _answer_text(answer):
    try:
        return answer.text or ''
    except (LookupError, ValueError, TypeError):     # an unknown or broken charset
        return answer.content.decode('utf-8', 'replace')
