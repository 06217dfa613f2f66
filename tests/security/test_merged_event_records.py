"""Issue 22, point 8: SCF may merge several COS messages into one event; one malformed record in it is skipped with
its reason while the valid records beside it are processed, in per-event and coalescing modes.

The merged shape (Records, one entry per message) is the published sample's (events/cos-upload-multi.json,
cloud.tencent.com/document/product/583/9707)."""
from __future__ import annotations

from typing import Any, Callable, Dict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.support import examples
from tests.support.emulator import EMULATOR_NOW, inspected_keys
from tests.support.entries import submit_in_mode
from tests.support.events import cos_event
from tests.support.images import TS_STREAM, png
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
KEYS = ["uploads/a.png", "uploads/b.png", "uploads/c.png"]
Breakage = Callable[[Dict[str, Any]], None]

# Each breaks one record the way a truncated or foreign message would; none echoes a value in the reason.
BREAKAGES: Dict[str, Breakage] = {
    "no object key": lambda r: r["cos"]["cosObject"].pop("key"),
    "no cos entity": lambda r: r.pop("cos"),
    "a size that is not a number": lambda r: r["cos"]["cosObject"].__setitem__("size", "q-signature=SECRET"),
    "a bucket without appid": lambda r: r["cos"]["cosBucket"].pop("appid"),
    "an eventTime that is not a number": lambda r: r["event"].__setitem__("eventTime", "soon"),
    "not an object at all": lambda r: r.clear(),
}



@pytest.fixture
def mode(upload_mode, emulator_bucket, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # deleted for good: the worst case for a wrong key
    if upload_mode == "coalescing":
        monkeypatch.setenv("UPLOAD_BATCH_SECONDS", "60")
    fresh(emulator_bucket)
    return emulator_bucket




def fresh(backend) -> None:
    """A new bucket holding the three flagged uploads, no jobs (one example per bucket)."""
    backend.reset()
    backend.set_clock(lambda: EMULATOR_NOW)
    backend.create_bucket(BUCKET)
    for key in KEYS:
        backend.put_object(BUCKET, key, png() + TS_STREAM, content_type="image/png")


def merged(broken: Dict[int, Breakage]) -> Dict[str, Any]:
    event = cos_event(KEYS)
    for index, breakage in broken.items():
        breakage(event["Records"][index])
    return event



@pytest.mark.parametrize("what", sorted(BREAKAGES))
def test_one_malformed_record_is_skipped_and_the_others_are_inspected(mode, what, submit):
    result = submit(merged({1: BREAKAGES[what]}), {"request_id": "r1"})
    assert inspected_keys(mode) == ["uploads/a.png", "uploads/c.png"], what
    (skip,) = result["skipped"]
    assert skip["reason"].startswith("malformed record 1 of the event") and "SECRET" not in str(result), what


def test_an_event_of_only_malformed_records_is_still_rejected_as_malformed(mode, submit):
    result = submit(merged({i: BREAKAGES["no object key"] for i in range(3)}), {"request_id": "r1"})
    assert result["skipped"] is True and "CosEvent is malformed" in result["reason"] and inspected_keys(mode) == []


@given(broken=st.dictionaries(st.integers(0, 2), st.sampled_from(sorted(BREAKAGES)), max_size=3))
@examples(default=5, soak=100)
def test_generated_merged_events_inspect_exactly_their_valid_records(mode, upload_mode, broken):
    fresh(mode)
    result = submit_in_mode(upload_mode)(merged({i: BREAKAGES[w] for i, w in broken.items()}), {"request_id": "r1"})
    valid = [k for i, k in enumerate(KEYS) if i not in broken]
    if not valid:
        assert result["skipped"] is True and inspected_keys(mode) == []
        return
    assert len(result["skipped"]) == len(broken) and inspected_keys(mode) == valid
