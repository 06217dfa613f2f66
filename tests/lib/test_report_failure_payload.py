"""A report that could not be made tells each chat platform so, in that platform's documented message body."""
from __future__ import annotations

import json

import pytest

from lib.report.render import failure_payload

ERROR = "DescribeInventoryTriggerJobs failed: HTTP 404 NoSuchBucket: The specified bucket does not exist."
BODY_TEXT = {"wecom": lambda p: p["markdown"]["content"], "dingtalk": lambda p: p["markdown"]["text"],
             "feishu": lambda p: p["content"]["text"], "slack": lambda p: p["text"], "json": json.dumps}


@pytest.mark.parametrize("fmt", list(BODY_TEXT))
def test_the_failure_message_says_problem_the_bucket_and_why(fmt):
    text = BODY_TEXT[fmt](failure_payload(fmt, "examplebucket-1250000000", "ap-guangzhou", ERROR))
    assert "PROBLEM" in text and "not made" in text and "examplebucket-1250000000" in text and "NoSuchBucket" in text


def test_an_error_text_cannot_mention_everyone_in_a_wecom_group():
    content = failure_payload("wecom", "examplebucket-1250000000", "ap-guangzhou", "boom <@all>")["markdown"]["content"]
    assert "<@all>" not in content


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown webhook format"):
        failure_payload("teams", "examplebucket-1250000000", "ap-guangzhou", ERROR)
