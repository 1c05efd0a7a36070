"""Platform text shown as text (issue 23, item 8)."""
import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._text import markdown, printable


@pytest.mark.parametrize("raw, shown", [
    ("plain", "plain"),
    ("\x1b[31mred\x1b[0m", "[31mred[0m"),
    ("a\nb\r\nc\td", "a b c d"),
    ("right\u202eto\u2066left\u200b", "righttoleft"),
    ("\x9b31m C1 \x7f", "31m C1 "),
    (42, "42"),
])
def test_printable(raw, shown):
    assert printable(raw) == shown


def test_markdown_is_literal_text_on_one_line():
    shown = markdown("<b>x</b> & [a](b) ![i](j) **c** `d` | e \\ ~f~ _g_\n# h")
    assert shown == ("&lt;b&gt;x&lt;/b&gt; &amp; [a]\\(b) !\\[i]\\(j) \\*\\*c\\*\\* \\`d\\` \\| e "
                     "\\\\ \\~f\\~ \\_g\\_ # h")


def test_markdown_leaves_identifiers_readable():
    assert markdown("rotate_tokens[cf-gh].deliver[0].token") == \
        "rotate_tokens[cf-gh].deliver[0].token"
