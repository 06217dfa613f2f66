"""Issue 22 point 4: a one-object upload reaches CI as exactly the key that was uploaded, never another object.

Wire facts this relies on (published): the SDK builds the create body with xmltodict.unparse (qcloud_cos/cos_comm.py
`format_xml`, called by cos_client.py `ci_create_inventory_trigger_jobs`; tencentyun/cos-python-sdk-v5 @cc3bdf0),
which escapes only &, < and > and writes every other character raw. A conforming XML 1.0 parser turns a raw CR and
CRLF into LF (https://www.w3.org/TR/xml/ §2.11 End-of-Line Handling) and refuses C0 controls other than tab, LF and
CR, and U+FFFE/U+FFFF, as not well-formed (§2.2 Characters, production [2] Char). The emulator parses bodies with
expat, a conforming parser, so it does both, as CI's parser would (inference: CI's parser is not published)."""
from __future__ import annotations

from typing import List

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from handlers.submit import main_handler
from tests.emulator.factories import png, suspicious_png
from tests.reliability.support import examples
from tests.support.events import cos_event
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator


@pytest.fixture
def deleting(emulator_bucket, monkeypatch):
    """Flagged images are deleted by CI itself: acting on the wrong key deletes an object nobody asked about."""
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # deleted for good: the worst case for a wrong key
    return emulator_bucket


def inspected_by(backend, job_id: str) -> List[str]:
    """The keys CI inspected for one batch job (its per-object jobs), in order."""
    return [j.key for j in backend.inspect_jobs_by_batch.get(job_id, [])]


def submit_one(backend, key: str) -> dict:
    result = main_handler(cos_event([key]), {"request_id": "r-wire"})
    assert [j["created"] for j in result["jobs"]] == [True], result
    backend.run_pending()
    return result


def test_a_key_with_a_carriage_return_is_deleted_and_the_line_feed_twin_survives(deleting):
    hostile, victim = "uploads/x\r.png", "uploads/x\n.png"
    deleting.put_object(BUCKET, hostile, suspicious_png(1), content_type="image/png")
    deleting.put_object(BUCKET, victim, suspicious_png(2), content_type="image/png")
    result = submit_one(deleting, hostile)
    assert inspected_by(deleting, result["jobs"][0]["job_id"]) == [hostile]
    keys = deleting.list_keys(BUCKET, "uploads/")
    assert victim in keys, "the job deleted an object that was never uploaded in this event"
    assert hostile not in keys, "the uploaded, flagged object was not acted on"


@pytest.mark.parametrize("key", [
    "uploads/x\r.png",  # CR: normalised to LF by XML parsing (§2.11)
    "uploads/x\r\n.png",  # CRLF: normalised to one LF
    "uploads/x\x01.png",  # C0 control: not an XML 1.0 Char (§2.2), the body is MalformedXML
    "uploads/x\x0c.png",  # form feed: likewise
    "uploads/x\x1b[31m.png",  # an ANSI escape sequence
    "uploads/x\ufffe.png",  # U+FFFE: outside Char
    "uploads/x\uffff.png",  # U+FFFF: outside Char
    " uploads/x.png",  # leading whitespace: trimmed by the emulator (CI's trimming is not published)
], ids=repr)
def test_a_key_xml_cannot_carry_is_inspected_exactly_as_uploaded(emulator_bucket, key):
    emulator_bucket.put_object(BUCKET, key, png(), content_type="image/png")
    result = submit_one(emulator_bucket, key)
    assert inspected_by(emulator_bucket, result["jobs"][0]["job_id"]) == [key]
    assert emulator_bucket.get_job(result["jobs"][0]["job_id"]).state == "Success"


@pytest.mark.parametrize("key", ["uploads/\tx.png", "uploads/x\x7f.png", "uploads/x\x85.png", "uploads/x\u2028.png"],
                         ids=repr)
def test_a_key_with_a_control_or_line_separator_travels_in_a_url_file_line(emulator_bucket, key):
    # Tab is an XML 1.0 Char, DEL and C1 controls are too but §2.2 discourages them, and XML 1.1 treats U+0085 and
    # U+2028 as line ends: a URL line (percent-encoded) cannot be read two ways.
    emulator_bucket.put_object(BUCKET, key, png(), content_type="image/png")
    result = submit_one(emulator_bucket, key)
    assert result["jobs"][0]["input"].startswith("UrlFile=")
    assert inspected_by(emulator_bucket, result["jobs"][0]["job_id"]) == [key]


def test_an_ordinary_key_still_travels_as_input_object(emulator_bucket):
    key = "uploads/猫 & <dog> 100%.png"
    emulator_bucket.put_object(BUCKET, key, png(), content_type="image/png")
    result = submit_one(emulator_bucket, key)
    assert result["jobs"][0]["input"] == f"Object={key}"
    assert inspected_by(emulator_bucket, result["jobs"][0]["job_id"]) == [key]


# Any Unicode text but surrogates (a JSON event cannot carry them as UTF-8: lib.events skips such a record).
KEY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)


@examples(default=15, soak=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(middle=KEY_TEXT, suffix=st.sampled_from([".png", ".JPG", ".webp"]))
def test_any_uploaded_key_is_inspected_exactly_as_uploaded(emulator_bucket, middle, suffix):
    key = f"uploads/{middle}{suffix}"
    emulator_bucket.put_object(BUCKET, key, png(), content_type="image/png")
    result = main_handler(cos_event([key]), {"request_id": "r-wire"})
    if not result["jobs"]:  # e.g. a folder-marker-like or skipped key: it must say why, and send nothing
        assert [s["key"] for s in result["skipped"]] == [key] and result["skipped"][0]["reason"]
        return
    emulator_bucket.run_pending()
    assert inspected_by(emulator_bucket, result["jobs"][0]["job_id"]) == [key]
