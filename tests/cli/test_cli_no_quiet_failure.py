"""Issue 27 point 1: no quiet failure. A COS_BUCKET that names no bucket is an error, never `0 jobs` or an empty
listing; a report that could not be made exits 1 and its webhook says so (REPORT_NOTIFY=on-problem too).

The emulator answers 404 NoSuchBucket for an unknown bucket on the COS and the CI host
(tests/emulator/test_unknown_bucket.py names the published sources); the README's exit-code table puts a call to
COS/CI that failed under 1."""
from __future__ import annotations

import json
import re

import pytest
import responses

import handlers.report
from lib.client import make_client
from lib.errors import CloudApiError
from tests.cli.support import bucket_env, cli, credentials, no_traceback
from tests.support.events import REPORT_TIMER, timer_event
from tests.support.wires import WEBHOOK_URL

pytestmark = pytest.mark.emulator

MISSING = "missingbucket-1250000000"
CONTEXT = {"request_id": "r-report", "function_name": "report", "time_limit_in_ms": 60000}


@pytest.fixture
def nowhere(running):
    """Settings and credentials that reach the emulator, with COS_BUCKET naming a bucket it does not have."""
    running.reset()
    return {**bucket_env(running), "COS_BUCKET": MISSING, **credentials()}


# Every command that lists or reads the bucket: each must fail, not answer with nothing.
READERS = [
    ("jobs", "list"),
    ("jobs", "duplicates"),
    ("jobs", "get", "b" + "0" * 32),
    ("report", "--since", "1h"),
    ("uploads",),
    ("inventory", "show", "--id", "daily"),
]


def test_jobs_list_on_a_bucket_that_does_not_exist_is_an_error_not_0_jobs(nowhere, tmp_path):
    ran = cli("jobs", "list", env=nowhere, home=tmp_path)
    assert ran.code == 1 and ran.out == "" and no_traceback(ran), ran
    assert f"COS_BUCKET={MISSING}: there is no such bucket in COS_REGION=ap-guangzhou" in ran.err, ran
    assert "set COS_BUCKET to the BucketName-APPID of an existing bucket" in ran.err, ran


@pytest.mark.parametrize("argv", READERS, ids=" ".join)
def test_every_command_that_reads_a_bucket_that_does_not_exist_fails_naming_cos_bucket(nowhere, tmp_path, argv):
    ran = cli(*argv, env=nowhere, home=tmp_path)
    assert ran.code == 1 and ran.out == "" and no_traceback(ran), ran
    assert f"COS_BUCKET={MISSING}" in ran.err and "NoSuchBucket" in ran.err, ran


def test_inventory_show_on_a_bucket_that_does_not_exist_does_not_say_the_configuration_is_missing(nowhere, tmp_path):
    # GET Bucket inventory answers 404 for both; only NoSuchBucket means the bucket, not the configuration
    ran = cli("inventory", "show", "--id", "daily", env=nowhere, home=tmp_path)
    assert "no inventory configuration" not in ran.err and f"COS_BUCKET={MISSING}" in ran.err, ran


def test_a_report_that_cannot_be_made_notifies_under_on_problem_and_fails(running):
    running.reset()
    env = {**bucket_env(running), "COS_BUCKET": MISSING, **credentials(), "REPORT_WEBHOOK_URL": WEBHOOK_URL,
           "API_TIMEOUT": "2"}  # REPORT_NOTIFY left at its default, on-problem
    with responses.RequestsMock() as rsps:
        rsps.add_passthru(re.compile(r"http://[^/]*\.myqcloud\.com/"))  # COS and CI go on to the emulator
        rsps.post(WEBHOOK_URL, json={"errcode": 0, "errmsg": "ok"})
        with pytest.raises(CloudApiError) as failed:
            handlers.report.invoke(timer_event(name=REPORT_TIMER), CONTEXT, environ=env, client_factory=make_client)
        sent = [json.loads(c.request.body) for c in rsps.calls if c.request.url.startswith(WEBHOOK_URL[:30])]
    assert failed.value.code == "NoSuchBucket"
    assert len(sent) == 1
    text = sent[0]["markdown"]["content"]
    assert "PROBLEM" in text and "the report was not made" in text and MISSING in text and "NoSuchBucket" in text
