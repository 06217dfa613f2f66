"""Untrusted text (object keys, job names and ids, CI's codes and messages, notes) made inert where it is shown.

One function per target. None lets a key add a line, a link, a mention or markup: line breaks and other control
characters are shown as visible escapes (`\\n`, `\\r`, `\\x1b`), and each target's active characters are escaped as
that target documents, or replaced with look-alikes where it documents no escape. The HTML page escapes with
html.escape (lib/report/html.py); JSON read at a terminal is lib.logs.json_text's (imported by every handler, so it
does not pay for this module's patterns on a cold start).
"""
from __future__ import annotations

import re

# Characters a terminal or a chat client acts on rather than shows: C0 and C1 controls and DEL, the Unicode line
# and paragraph separators, and the bidirectional overrides that reorder what is displayed ("Trojan Source").
_INVISIBLE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}

# WeCom and DingTalk markdown, and Feishu text, document no escape character: what would open a code span, a
# link, a tag or mention (`<@userid>`, `<font>`, `<at user_id="all">`) or a quote becomes a full-width look-alike.
_CHAT_LOOKALIKES = str.maketrans({"`": "ˋ", "[": "［", "]": "］", "<": "＜", ">": "＞"})
# Clients link a bare URL by themselves; defanging is the convention: `://` as `:⁄⁄` (U+2044), `www.` as `www․`
# (U+2024). A bare domain (`evil.example`) some clients still link: a key cannot be told from one (docs/security.md).
_SCHEME = re.compile(r"(?i)://|(?<!\w)www\.")
_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "ˋ"})

# CommonMark: any ASCII punctuation may be backslash-escaped. These open inline markup anywhere in a line.
_MD_INLINE = re.compile(r"([`*_\[\]<>&|!~#])")
# ...and these only where a block starts, which untrusted text does after a list marker (`- {note}`).
_MD_LEAD = re.compile(r"^([-+*]|\d+)([.)]?)(?=\s)")
# GFM's extended autolinks (`https://x`, `www.x`) stop at an escaped character.
_MD_AUTOLINK = re.compile(r"(?i)(://|www\.)")
_BACKTICKS = re.compile(r"`+")


def _escape_invisible(match: re.Match) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) <= 0xff else f"\\u{ord(char):04x}"


def terminal(text: object) -> str:
    """For a terminal (CLI tables and lines): control characters as `\\r`, `\\x1b`, ...; a backslash as `\\\\`."""
    return _INVISIBLE.sub(_escape_invisible, "" if text is None else str(text))


def _defang(match: re.Match) -> str:
    return ":⁄⁄" if match.group(0) == "://" else match.group(0)[:3] + "․"


def _chat(text: object) -> str:
    return _SCHEME.sub(_defang, terminal(text).translate(_CHAT_LOOKALIKES))


def wecom_markdown(text: object) -> str:
    """WeCom group-bot `markdown`: no line, code-span end, link, `<@userid>` mention or `<font>` tag survives."""
    return _chat(text)


def dingtalk_markdown(text: object) -> str:
    """DingTalk custom-bot `markdown`: no line, code-span end, link or image survives (mentions need the `at`
    field, which the message never sets)."""
    return _chat(text)


def feishu_text(text: object) -> str:
    """Feishu custom-bot `text`: no line, `<at user_id="all">` mention or link survives."""
    return _chat(text)


def slack_mrkdwn(text: object) -> str:
    """Slack mrkdwn: `&`, `<`, `>` as the HTML entities Slack documents, so no `<url|...>` link or `<!channel>`
    mention; a backtick cannot end the code span around it; no line."""
    return _SCHEME.sub(_defang, terminal(text).translate(_SLACK))


def markdown_text(text: object) -> str:
    """CommonMark/GFM text (the `.md` report): inline markup, HTML, table pipes and autolinks backslash-escaped."""
    out = _MD_INLINE.sub(r"\\\1", terminal(text))
    out = _MD_AUTOLINK.sub(lambda m: "\\" + m.group(0) if m.group(0) == "://" else m.group(0)[:3] + "\\.", out)
    return _MD_LEAD.sub(_escape_lead, out)


def _escape_lead(match: re.Match) -> str:
    marker, dot = match.groups()
    if dot:  # `1.` opens an ordered list; the escape goes before its punctuation
        return f"{marker}\\{dot}"
    return match.group(0) if marker.isdigit() else f"\\{marker}"


def markdown_code(text: object) -> str:
    """A code span for a GFM table cell that no backtick inside can end: fenced by a longer backtick run than any
    inside it; pipes as `\\|`, which GFM reads as a pipe inside a code span in a cell."""
    body = terminal(text).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(body)), default=0) + 1)
    if body.startswith(("`", " ")) or body.endswith(("`", " ")):
        body = f" {body} "  # one space each side is stripped again by the parser
    return f"{fence}{body}{fence}"
