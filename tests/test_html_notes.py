"""Zotero's HTML notes become Markdown with nothing active left in them."""

from reader_app.importers.html_notes import html_to_markdown


def test_structure_is_kept():
    md, dropped = html_to_markdown(
        '<div data-schema-version="8"><h2>Method</h2><p>We <b>train</b> <i>twice</i>, see '
        '<a href="https://example.org/a b">the code</a>.</p><ul><li>one</li><li>two<ol><li>a</li></ol></li></ul>'
        '<blockquote>quoted</blockquote><pre>x = 1\n  y = 2</pre></div>')
    assert md.startswith("## Method\n\nWe **train** *twice*, see [the code](https://example.org/a%20b).")
    assert "- one\n- two" in md and "   1. a" in md and "> quoted" in md and "```\nx = 1\n  y = 2\n```" in md
    assert dropped == []


def test_active_content_and_images_are_dropped():
    md, dropped = html_to_markdown(
        '<p onclick="steal()">Hi <a href="javascript:alert(1)">click</a></p><script>alert(1)</script>'
        '<style>p{}</style><iframe src="https://evil.example"></iframe><img src="https://t.example/p.gif">'
        '<img src="data:image/png;base64,AAAA" alt="figure 2"><p>&lt;script&gt; is text here</p>')
    assert "alert" not in md and "steal" not in md and "evil.example" not in md and "t.example" not in md
    assert "click" in md and "javascript" not in md
    assert "*(remote image not imported)*" in md and "*(embedded image not imported: figure 2)*" in md
    assert "\\<script\\> is text here" in md  # escaped: Markdown never turns it into a tag
    assert set(dropped) == {"event handler", "link", "script", "iframe", "remote image", "embedded image"}
