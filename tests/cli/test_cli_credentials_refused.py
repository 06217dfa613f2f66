"""Issue 27, point 3: credentials COS or CI refuse are "not done" (exit 2, as the README's exit-code table lists
credentials), in every command that calls them, and a wrong SecretId gets the "check TENCENTCLOUD_SECRETID" hint a
wrong key gets. The CLI as a subprocess against the emulator, which checks every request's signature.

COS's 403 page (cloud.tencent.com/document/product/436/40105): "If the signature uses an incorrect SecretId, COS will
return InvalidAccessKeyId", a signature computed wrong SignatureDoesNotMatch; CI's batch API answers with the same
XML error body (the emulator's fidelity table, docs/emulator.md).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from emulator.testing import TEST_SECRET_ID, TEST_SECRET_KEY
from tests.cli.support import ROOT, bucket_env, cli, no_traceback
from tests.support.credentials import write_tccli
from tests.support.events import timer_event

pytestmark = pytest.mark.emulator
UNKNOWN_ID = "AKIDunknownSecretId0000000000000000"


def commands(tmp_path):
    """Every command that calls COS or CI, as a person would type it."""
    tick = tmp_path / "tick.json"
    tick.write_text(json.dumps(timer_event(datetime.now(timezone.utc).replace(microsecond=0), "walk")))
    return {"jobs list": ("jobs", "list"), "jobs get": ("jobs", "get", "b0000000000"),
            "jobs cancel": ("jobs", "cancel", "b0000000000", "--yes"), "jobs duplicates": ("jobs", "duplicates"),
            "upload": ("upload", str(ROOT / "events" / "images" / "clean.png"), "--prefix", "uploads/"),
            "report": ("report", "--since", "1h"), "uploads": ("uploads",), "invoke submit": ("invoke", "submit", str(tick))}


COMMANDS = ["jobs list", "jobs get", "jobs cancel", "jobs duplicates", "upload", "report", "uploads", "invoke submit"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_secret_id_is_exit_2_with_the_secretid_hint(live, tmp_path, command):
    env = {**bucket_env(live, INPUT_PREFIX="uploads/"), "TENCENTCLOUD_SECRETID": UNKNOWN_ID,
           "TENCENTCLOUD_SECRETKEY": TEST_SECRET_KEY}
    ran = cli(*commands(tmp_path)[command], env=env, home=tmp_path)
    assert ran.code == 2 and "InvalidAccessKeyId" in ran.err and "check TENCENTCLOUD_SECRETID" in ran.err, ran
    assert no_traceback(ran)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_secret_key_is_exit_2_with_the_key_hint(live, tmp_path, command):
    env = {**bucket_env(live, INPUT_PREFIX="uploads/"), "TENCENTCLOUD_SECRETID": TEST_SECRET_ID,
           "TENCENTCLOUD_SECRETKEY": "not-the-key"}
    ran = cli(*commands(tmp_path)[command], env=env, home=tmp_path)
    assert ran.code == 2 and "SignatureDoesNotMatch" in ran.err and "TENCENTCLOUD_SECRETID/SECRETKEY" in ran.err, ran
    assert "not-the-key" not in ran.err + ran.out


def test_a_refused_key_from_a_tccli_profile_is_exit_2_too(live, tmp_path):
    write_tccli(tmp_path, "ops", UNKNOWN_ID, TEST_SECRET_KEY)
    ran = cli("--profile", "ops", "jobs", "list", env=bucket_env(live), home=tmp_path)
    assert ran.code == 2 and "check TENCENTCLOUD_SECRETID" in ran.err, ran


def test_a_job_that_does_not_exist_stays_exit_1(live, tmp_path):
    env = {**bucket_env(live), "TENCENTCLOUD_SECRETID": TEST_SECRET_ID, "TENCENTCLOUD_SECRETKEY": TEST_SECRET_KEY}
    assert cli("jobs", "get", "b0000000000", env=env, home=tmp_path).code == 1
