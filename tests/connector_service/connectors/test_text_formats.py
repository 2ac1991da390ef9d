"""ADF and Confluence storage format to text: every node and element kind at once, so the
dispatch tables keep rendering each the way the Jira and Confluence connectors showed it."""

from __future__ import annotations

from connector_service.connectors.adf import adf_to_text
from connector_service.connectors.storage import storage_to_text


def T(s, **k):
    return {"type": "text", "text": s, **k}


ADF = {
    "type": "doc",
    "content": [
        {"type": "heading", "content": [T("Title")]},
        {
            "type": "paragraph",
            "content": [
                T("see "),
                T("docs", marks=[{"type": "link", "attrs": {"href": "https://x.example/d"}}]),
                {"type": "hardBreak"},
                {"type": "mention", "attrs": {"text": "ann"}},
                {"type": "emoji", "attrs": {"shortName": ":smile:"}},
                {"type": "status", "attrs": {"text": "DONE"}},
                {"type": "date", "attrs": {"timestamp": "86400000"}},
            ],
        },
        {
            "type": "orderedList",
            "attrs": {"order": 3},
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [T("three")]},
                        {
                            "type": "bulletList",
                            "content": [
                                {"type": "listItem", "content": [{"type": "paragraph", "content": [T("nested")]}]}
                            ],
                        },
                    ],
                },
                {"type": "listItem", "content": [{"type": "paragraph", "content": [T("four")]}]},
            ],
        },
        {
            "type": "taskList",
            "content": [
                {"type": "taskItem", "attrs": {"state": "DONE"}, "content": [T("done")]},
                {"type": "taskItem", "attrs": {"state": "TODO"}, "content": [T("todo")]},
            ],
        },
        {
            "type": "blockquote",
            "content": [{"type": "paragraph", "content": [T("quoted")]}, {"type": "paragraph", "content": [T("more")]}],
        },
        {"type": "codeBlock", "attrs": {"language": "py"}, "content": [T("print(1)")]},
        {"type": "rule"},
        {"type": "expand", "attrs": {"title": "More"}, "content": [{"type": "paragraph", "content": [T("hidden")]}]},
        {
            "type": "table",
            "content": [
                {
                    "type": "tableRow",
                    "content": [
                        {"type": "tableHeader", "content": [{"type": "paragraph", "content": [T("a")]}]},
                        {
                            "type": "tableCell",
                            "content": [
                                {"type": "paragraph", "content": [T("b")]},
                                {"type": "paragraph", "content": [T("c")]},
                            ],
                        },
                    ],
                }
            ],
        },
        {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "m1"}}]},
        {"type": "panel", "content": [{"type": "paragraph", "content": [T("in panel")]}]},
        {"type": "someFutureNode", "content": [T("future")]},
    ],
}
STORAGE = (
    '<h1>Title</h1><p>Hello <a href="https://x.example/p">link</a><br/>next <ac:emoticon ac:name="smile"/></p>'
    "<ul><li>one<ol><li>a</li><li>b</li></ol></li><li>two</li></ul>"
    "<ac:task-list><ac:task><ac:task-body>task</ac:task-body></ac:task></ac:task-list>"
    "<table><tr><th>h1</th><th>h2</th></tr><tr><td>c1</td><td>c2</td></tr></table>"
    '<p><ac:link><ri:page ri:content-title="Other page"/></ac:link> by '
    '<ac:link><ri:user ri:account-id="abc"/></ac:link></p>'
    '<ac:image><ri:attachment ri:filename="pic.png"/></ac:image><hr/>'
    '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">py</ac:parameter>'
    "<ac:plain-text-body><![CDATA[x = 1]]></ac:plain-text-body></ac:structured-macro><script>no</script>"
)


def test_adf_renders_every_block_and_inline_kind():
    assert adf_to_text(ADF) == (
        "Title\n\nsee docs (https://x.example/d)\n@ann:smile:[DONE]1970-01-02\n\n3. three\n   - nested\n4. four\n\n"
        "- [x] done\n- [ ] todo\n\n> quoted\n\n> more\n\n```py\nprint(1)\n```\n\n---\n\nMore\nhidden\n\n"
        "a | b c\n\n[attachment m1]\n\nin panel\n\nfuture"
    )


def test_storage_renders_every_element_kind():
    assert storage_to_text(STORAGE) == (
        "Title\n\nHello link (https://x.example/p)\nnext :smile:\n\n- one\n  1. a\n  2. b\n- two\n\n- task\n\n"
        "h1 | h2\nc1 | c2\n\nOther page by @abc\n\n[image pic.png]\n\n---\n\nx = 1"
    )
