# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Text that a platform controls (error bodies, token ids and names) shown as text.

A message, warning or report may quote what a server sent. On a terminal an ESC sequence
(``\\x1b[2J``, an OSC 8 link, a title change) acts rather than shows; in a log a line break
forges a line; bidirectional and zero-width formatting characters make text read other than it
is. :func:`printable` removes all of them (line breaks and tabs become a space).
:func:`markdown` also escapes what Markdown and HTML would read as markup.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

#: C0 controls but tab and line breaks, DEL, C1 controls; zero-width and bidirectional
#: formatting characters; byte-order mark
_CONTROL = re.compile(u'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e'
                      u'\u2060-\u2064\u2066-\u2069\ufeff]')
_BREAK = re.compile(u'[\t\n\r\u2028\u2029]+')
#: what CommonMark and GitHub read as inline markup, escaped with a backslash: code spans,
#: emphasis, table cells, strike-through; an underscore only where it can open or close emphasis
#: (inside a word, as in ``rotate_tokens``, it cannot); a link or image only by its ``](`` and
#: ``![`` (without a line break, a bracket alone links nothing)
_MARKUP = re.compile(r'([\\`*|~])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|\]\(|!\[')
_HTML = (('&', '&amp;'), ('<', '&lt;'), ('>', '&gt;'))


def printable(text):
    """``text`` (any value: its ``str``) without control or invisible formatting characters;
    line breaks and tabs become one space."""
    if not isinstance(text, str):
        text = str(text)
    return _CONTROL.sub(u'', _BREAK.sub(u' ', text))


def markdown(text):
    """``text`` as literal text in a Markdown (GitHub) document: printable, with HTML's special
    characters as entities and Markdown's inline markup escaped, on one line."""
    text = printable(text)
    for char, entity in _HTML:
        text = text.replace(char, entity)
    return _MARKUP.sub(_escape, text)


def _escape(match):
    found = match.group(0)
    if found == '](':
        return ']\\('
    if found == '![':
        return '!\\['
    return '\\' + found
