"""Issue 22 point 6: a chat message cannot be forged through an object key, a job name or CI's message.

Driven as SCF drives it: handlers.report.main_handler against the emulator over HTTP, jobs whose flagged keys and
error messages carry markup, the webhook POST captured with `responses`. What each platform renders, as published:
- WeCom group bot `markdown`: headings, bold, `[text](url)` links, inline code, `>` quotes, `<font color>` and
  `<@userid>` mentions (https://developer.work.weixin.qq.com/document/path/91770, "markdown类型"); no escape
  character is documented, so lib.escape replaces the active characters with full-width look-alikes.
- DingTalk custom robot `markdown`: headings, quotes, bold, `[text](url)` links, `![](url)` images, lists; `@` only
  notifies people listed in the `at` field, which we never send
  (https://open.dingtalk.com/document/orgapp/custom-bot-send-message-type).
- Feishu custom bot `text` (what lib.report.render sends, msg_type text): `<at user_id="all">所有人</at>` mentions everyone
  (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, "发送文本消息").
- Slack mrkdwn: `&`, `<`, `>` are control characters and must be sent as `&amp;`, `&lt;`, `&gt;`; `<url|text>` links,
  `<@U…>`, `<!channel>` mentions (https://api.slack.com/reference/surfaces/formatting#escaping).
Clients also link a bare `https://…` by themselves (inference from how each client shows a URL in plain text).
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import List

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from handlers.report import main_handler
from lib import escape
from tests.reliability.support import examples
from tests.security.hostile_jobs import EVIL, FAKE_HEADLINE, HOSTILE_KEYS, HOSTILE_MESSAGE, REPORT_TIME, seed_job
from tests.support.emulator import EMULATOR_NOW, fresh_bucket
from tests.support.events import timer_event

WEBHOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=chat-injection-test-0001"
FORMATS = ("wecom", "dingtalk", "feishu", "slack")
# Our own link: the console's file list (lib.report.delivery.CONSOLE_URL), the one link a message may carry.
OURS = re.compile(r"https://console\.cloud\.tencent\.com/cos/bucket\?[^\s)>|]+")
TITLE = re.compile(r"^\**cos-batch-autopilot report")
MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\n]*)\)")
TAG = re.compile(r"<[A-Za-z@!/#][^>\n]*>")
BARE_URL = re.compile(r"(?i)(?:https?://|(?<![\w.])www\.)[^\s)>|`]+")


@pytest.fixture
def chat(emulator_bucket, emulator, monkeypatch):
    """The report function pointed at a bot that accepts everything; yields the captured calls."""
    monkeypatch.setenv("REPORT_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("REPORT_NOTIFY", "always")
    with responses.RequestsMock() as rsps:
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))  # COS and CI go on to the emulator
        rsps.post(WEBHOOK, json={"errcode": 0, "errmsg": "ok", "code": 0})
        yield rsps


def sent_message(rsps, fmt: str) -> str:
    posts = [c for c in rsps.calls if c.request.url == WEBHOOK]
    assert posts, "the report posted nothing"
    body = json.loads(posts[-1].request.body)
    return {"wecom": lambda: body["markdown"]["content"], "dingtalk": lambda: body["markdown"]["text"],
            "feishu": lambda: body["content"]["text"], "slack": lambda: body["text"]}[fmt]()


def run_report(fmt: str, monkeypatch) -> dict:
    monkeypatch.setenv("REPORT_WEBHOOK_FORMAT", fmt)
    time = datetime.fromisoformat(REPORT_TIME.replace("Z", "+00:00"))
    return main_handler(timer_event(time, name="daily-report"), {"request_id": "chat"})


def live_markup(fmt: str, text: str) -> List[str]:
    """Every link, mention or tag the platform would act on, other than our own console link."""
    found: List[str] = []
    for line in text.split("\n"):
        if fmt == "slack":
            found += [t for t in re.findall(r"<([^>\n]*)>", line) if not OURS.fullmatch(t.split("|")[0])]
        else:
            found += [u for u in MD_LINK.findall(line) if not OURS.fullmatch(u)]
            found += TAG.findall(line)
        found += [u for u in BARE_URL.findall(line) if not OURS.match(u)]
    return found


def outside_code_spans(line: str) -> str:
    return re.sub(r"`[^`\n]*`", "", line)


def assert_inert(fmt: str, text: str, keys: List[str]) -> None:
    """No live markup; the verdict is the first line and no other; each key on one line, inside its code span."""
    assert live_markup(fmt, text) == []
    lines = text.split("\n")
    assert [n for n, line in enumerate(lines) if TITLE.match(line)] == [0]
    for key in keys:
        marker = key.split("\n")[0][:9]  # `uploads/x`: what survives escaping unchanged
        holding = [line for line in lines if marker in line]
        assert len(holding) == 1 and holding[0].startswith("- "), (key, holding)
        if fmt != "feishu":  # Feishu text has no code span
            assert holding[0].count("`") % 2 == 0
            assert "evil" not in outside_code_spans(holding[0]) and "@all" not in outside_code_spans(holding[0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_keys_add_no_link_mention_or_line_to_the_chat_message(chat, emulator, monkeypatch, fmt):
    seed_job(emulator, HOSTILE_KEYS)
    run_report(fmt, monkeypatch)
    assert_inert(fmt, sent_message(chat, fmt), list(HOSTILE_KEYS))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failed_jobs_message_adds_no_link_mention_or_line(chat, emulator, monkeypatch, fmt):
    seed_job(emulator, (), state="Failed", message=HOSTILE_MESSAGE)
    run_report(fmt, monkeypatch)
    text = sent_message(chat, fmt)
    assert live_markup(fmt, text) == []
    assert [n for n, line in enumerate(text.split("\n")) if TITLE.match(line)] == [0]
    lines = text.split("\n")
    assert not any(line.startswith(("[", "<", FAKE_HEADLINE)) for line in lines if not OURS.search(line))


def test_slack_gets_its_three_control_characters_as_entities(chat, emulator, monkeypatch):
    seed_job(emulator, ["uploads/a&b<c>d.png"])
    run_report("slack", monkeypatch)
    assert "`uploads/a&amp;b&lt;c&gt;d.png`" in sent_message(chat, "slack")


# Pieces an attacker would combine: code-span ends, link and mention syntax, line breaks, entities, URLs.
FRAGMENTS = ["`", "``", "[", "]", "(", ")", "<", ">", "@all", "!", "&", "&amp;", "|", "*", "#", "\n", "\r", "\t",
             "\u2028", "\\", " ", "https://", "evil.example", "www.", "<@all>", "<!channel>", '<at user_id="all">',
             "](", "x", "照片"]


@pytest.mark.parametrize("fmt", FORMATS)
@examples(default=6, soak=150)
@given(middle=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join))
def test_generated_keys_add_no_link_mention_or_line(chat, emulator, monkeypatch, fmt, middle):
    fresh_bucket(emulator, lambda: EMULATOR_NOW)
    key = f"uploads/g{middle}.png"
    seed_job(emulator, [key])
    chat.calls.reset()
    run_report(fmt, monkeypatch)
    text = sent_message(chat, fmt)
    assert live_markup(fmt, text) == []
    lines = text.split("\n")
    assert [n for n, line in enumerate(lines) if TITLE.match(line)] == [0]
    holding = [line for line in lines if "uploads/g" in line]
    assert len(holding) == 1 and holding[0].startswith("- ")
    if fmt != "feishu":
        assert holding[0].count("`") % 2 == 0
    assert EVIL not in text


@pytest.mark.parametrize("function, text, shown", [
    (escape.wecom_markdown, "a`b", "aˋb"), (escape.wecom_markdown, "[x](https://e.x)", "［x］(https:⁄⁄e.x)"),
    (escape.wecom_markdown, "<@all>", "＜@all＞"), (escape.wecom_markdown, '<font color="info">', '＜font color="info"＞'),
    (escape.wecom_markdown, "a\nb\r", "a\\nb\\r"), (escape.wecom_markdown, "see www.e.x", "see www․e.x"),
    (escape.wecom_markdown, "[www.www.x", "［www․www․x"),  # found by the soak: each www. is defanged
    (escape.dingtalk_markdown, "![i](https://e.x/p.png)", "!［i］(https:⁄⁄e.x/p.png)"),
    (escape.dingtalk_markdown, "> quote", "＞ quote"),
    (escape.feishu_text, '<at user_id="all">所有人</at>', '＜at user_id="all"＞所有人＜/at＞'),
    (escape.feishu_text, "line\u2028two", "line\\u2028two"),
    (escape.slack_mrkdwn, "a&b<c>d", "a&amp;b&lt;c&gt;d"), (escape.slack_mrkdwn, "<!channel>", "&lt;!channel&gt;"),
    (escape.slack_mrkdwn, "<https://e.x|go>", "&lt;https:⁄⁄e.x|go&gt;"), (escape.slack_mrkdwn, "x`y", "xˋy"),
    (escape.slack_mrkdwn, "&amp;", "&amp;amp;"),
    (escape.wecom_markdown, "uploads/照片 cat_1.png", "uploads/照片 cat_1.png"),
    (escape.slack_mrkdwn, "uploads/cat_1.png", "uploads/cat_1.png"),
])
def test_each_chat_escape_as_its_platform_documents(function, text, shown):
    assert function(text) == shown
