# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The rotation report: one row per token, as JSON and as Markdown. Never a secret: rows are
built from token metadata, decisions and messages that the client already redacted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path
from ansible_collections.tokenops.tokens.plugins.module_utils._text import markdown as md_text
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_hygiene import (
    markdown as hygiene_markdown,
)

COLUMNS = (('platform', 'Platform'), ('label', 'Label'), ('token_id', 'Token'),
           ('age_days', 'Age (days)'), ('expires_at', 'Expires'), ('action', 'Action'),
           ('reason', 'Reason'), ('delivered', 'Delivered to'))

ROW_KEYS = ('label', 'provider', 'platform', 'token_id', 'previous_id', 'age_days',
            'expires_at', 'action', 'reason', 'overlaps', 'in_place', 'delivered', 'notes',
            'error', 'scope', 'due', 'issued_at', 'last_used_at')


def new_row(label, provider, platform):
    row = dict((key, None) for key in ROW_KEYS)
    row.update(label=label, provider=provider, platform=platform, delivered=[], notes=[])
    return row


def summary(rows):
    counts = {}
    for row in rows:
        counts[row['action']] = counts.get(row['action'], 0) + 1
    return counts


def _cell(value):
    """A table cell: every field may hold what a platform sent (an error body, a token id), so
    each is shown as literal text (``_text.markdown``: no control character, no markup)."""
    if value is None or value == []:
        return ''
    if isinstance(value, list):
        value = ', '.join(str(v) for v in value)
    return md_text(value)


def markdown(rows, generated_at, check_mode=False, hygiene=None):
    counts = summary(rows)
    mode = ' in check mode (nothing was changed)' if check_mode else ''
    counted = ', '.join('%d %s' % (n, action) for action, n in sorted(counts.items()))
    lines = ['# Token rotation report', '',
             'Generated %s%s. %s.' % (generated_at, mode, counted or 'no tokens'),
             '',
             '| %s |' % ' | '.join(title for key, title in COLUMNS),
             '|%s|' % '|'.join(' --- ' for column in COLUMNS)]
    for row in rows:
        cells = []
        for key, title in COLUMNS:
            value = row.get(key)
            if key == 'reason':
                value = '; '.join([row.get('reason') or ''] + list(row.get('notes') or []))
                value = value.strip('; ')
            cells.append(_cell(value))
        lines.append('| %s |' % ' | '.join(cells))
    failed = [row for row in rows if row['action'] == 'failed']
    if failed:
        lines += ['', '## Failed', '']
        lines += ['- **%s** (%s): %s'
                  % (_cell(row['label']), _cell(row['platform']), _cell(row.get('error')))
                  for row in failed]
    lines += hygiene_markdown(hygiene)
    return '\n'.join(lines) + '\n'


def document(rows, generated_at, check_mode=False, hygiene=None):
    result = dict(generated_at=generated_at, check_mode=check_mode, summary=summary(rows),
                  tokens=rows)
    if hygiene is not None:
        result['hygiene'] = hygiene
    return result


def _json_lines(values):
    return '[]' if not values else (
        '[\n    ' + ',\n    '.join(json.dumps(value) for value in values) + '\n  ]')


def document_json(rows, generated_at, hygiene=None):
    """``document`` as JSON text, one row (and one hygiene scope) per line: readable, and
    written by the C encoder (``indent`` makes ``json`` fall back to its pure-Python encoder,
    ten times slower)."""
    head = document(rows, generated_at)
    del head['tokens']
    text = json.dumps(head, indent=2)[:-2] + ',\n  "tokens": ' + _json_lines(rows)
    if hygiene is not None:
        settings = dict((key, value) for key, value in hygiene.items() if key != 'scopes')
        scopes = _json_lines(hygiene['scopes'])
        text += ',\n  "hygiene": %s, "scopes": %s}' % (json.dumps(settings)[:-1], scopes)
    return text + '\n}\n'


def check_directory(report_dir):
    """Refuse (``UnsafePath``) a report directory that another user could change; create it."""
    os.close(safe_path.private_directory(report_dir, 'rotate_report_dir'))


def write(report_dir, rows, generated_at, hygiene=None):
    """Write ``report.json`` and ``report.md`` (with the ``hygiene`` sections when given);
    return their paths and the Markdown text.

    In a directory of the run's user (or root) that no one else can write, relative to its
    descriptor and never through a symbolic link (``module_utils/_safe_path.py``).
    """
    json_path = os.path.join(report_dir, 'report.json')
    md_path = os.path.join(report_dir, 'report.md')
    text = markdown(rows, generated_at, hygiene=hygiene)
    dir_fd = safe_path.private_directory(report_dir, 'rotate_report_dir')
    try:
        safe_path.write_file(dir_fd, 'report.json', document_json(rows, generated_at, hygiene),
                             json_path)
        safe_path.write_file(dir_fd, 'report.md', text, md_path)
    finally:
        os.close(dir_fd)
    return json_path, md_path, text
