"""Emulator robustness (item 7): hostile bodies, unknown routes and bad signatures, sent from several threads at
once, get the service's error responses and never corrupt its state; a restart with the same data directory
loses no job or object. (tests/emulator covers each error response one by one; this sends them as a barrage.)"""
from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import List, Tuple

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from qcloud_cos.cos_auth import CosS3Auth

from emulator.testing import run_emulator
from lib.events import TimerEvent
from lib.submit.run import Deps
from lib.submit.timer import submit_timer
from tests.reliability.support import at, examples, hours
from tests.support.emulator import emulator_settings, fast_client, fresh_bucket
from tests.support.events import timer_event
from tests.support.settings import BUCKET, REGION

pytestmark = pytest.mark.emulator
COS = f"http://{BUCKET}.cos.{REGION}.myqcloud.com"
CI = f"http://{BUCKET}.ci.{REGION}.myqcloud.com"
GOOD_JOB = ("<Request><Name>ok-{n}</Name><Type>Job</Type><Input><Prefix>/</Prefix></Input><Operation>"
            "<Tag>ImageInspect</Tag><JobParam><ImageInspect><AutoProcess>false</AutoProcess></ImageInspect>"
            "</JobParam></Operation></Request>")
BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"<Request>", b"<Request><Name>x</Name>", b"<?xml version='1.0'?><Request/>",
                     b"<Request>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</Request>",
                     b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                     b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Request><Name>&c;</Name></Request>',
                     b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Request><Name>&x;</Name></Request>',
                     b"<Request><Name>" + b"n" * 2_000_000 + b"</Name></Request>",
                     "<Request><Name>\u732b</Name></Request>".encode("utf-16")]),
    st.text(max_size=200).map(lambda t: f"<Request><Name>{t}</Name><Type>Job</Type></Request>".encode("utf-8", "replace")),
)
SENDS = st.tuples(st.sampled_from(["create", "create-unsigned", "create-bad-signature", "unknown-route", "put-odd-key",
                                   "valid-create", "valid-put"]), BODIES)


def send(emulator, kind: str, body: bytes, n: int) -> Tuple[str, int, bytes]:
    """One raw request through the emulator (absolute-form, real Host), signed as the SDK signs unless told not."""
    if kind.startswith(("create", "valid-create")):
        base, path, method = CI, "/inventorytriggerjob", "POST"
        data = GOOD_JOB.format(n=n).encode() if kind == "valid-create" else body
    elif kind == "unknown-route":
        base, path, method, data = CI, "/nope/" + str(n), "POST", body
    else:
        base, path, method = COS, f"/uploads/odd-{n}.png", "PUT"
        data = body if kind == "put-odd-key" else b"image"
    auth = None
    if kind != "create-unsigned":
        conf = emulator.client(region=REGION, secret_key="wrong-key" if kind == "create-bad-signature" else None)._conf
        auth = CosS3Auth(conf, path)
    response = requests.request(method, base + path, data=data, headers={"Content-Type": "application/xml"},
                                auth=auth, proxies={"http": emulator.url}, timeout=10)
    return kind, response.status_code, response.content


def is_error_xml(content: bytes) -> bool:
    try:
        root = ET.fromstring(content)  # noqa: S314 - our own emulator's answer
    except ET.ParseError:
        return False
    return root.tag == "Error" and bool(root.findtext("Code"))


@examples(8, 80)
@given(batch=st.lists(SENDS, min_size=6, max_size=24))
def test_hostile_requests_from_several_threads_get_error_answers_and_leave_state_consistent(emulator_session, batch):
    emulator = emulator_session
    fresh_bucket(emulator)
    results: List[Tuple[str, int, bytes]] = []
    lock = threading.Lock()

    def worker(items):
        for n, (kind, body) in items:
            outcome = send(emulator, kind, body, n)
            with lock:
                results.append(outcome)

    numbered = list(enumerate(batch))
    threads = [threading.Thread(target=worker, args=(numbered[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == len(batch)
    for kind, status, content in results:
        if kind.startswith("valid"):
            assert status == 200, (kind, content[:300])
        elif kind in ("create", "put-odd-key") and status == 200:
            continue  # a random body can be a valid request (e.g. any bytes are a valid object)
        else:
            allowed = status == 501 if kind == "unknown-route" else 400 <= status < 500  # 501 NotImplemented
            assert allowed and is_error_xml(content), (kind, status, content[:300])
    created = sum(1 for kind, status, _ in results if kind in ("create", "valid-create") and status == 200)
    with emulator.backend.lock:
        assert len(emulator.backend.jobs) == created
        stored = len(emulator.backend.buckets[BUCKET])
    assert stored == sum(1 for kind, status, _ in results if kind in ("valid-put", "put-odd-key") and status == 200)
    client = fast_client(emulator_settings(emulator))  # still serves the SDK normally
    client.put_object("after/ok.txt", b"ok")
    assert client.get_object("after/ok.txt") == b"ok"


def test_a_restart_with_the_same_data_directory_loses_no_job_or_object(tmp_path):
    with run_emulator(data_dir=str(tmp_path)) as emulator:
        emulator.backend.create_bucket(BUCKET)
        emulator.backend.set_clock(lambda: at(3))
        settings = emulator_settings(emulator)
        for k in range(1, 25):
            tick = at(2) + hours(k)
            submit_timer(settings, TimerEvent.model_validate(timer_event(tick)),
                         Deps(client=fast_client(settings), clock=lambda t=tick: t + timedelta(seconds=5),
                              sleep=lambda _s: None, owner=f"r{k}"))
            emulator.backend.put_object(BUCKET, f"uploads/{k}.png", b"png", last_modified=tick)
        emulator.backend.run_pending()
        with emulator.backend.lock:
            before_jobs = {j.job_id: (j.name, j.state, j.interval_start, j.interval_end)
                           for j in emulator.backend.jobs.values()}
            before_objects = {k: r.etag for k, r in emulator.backend.buckets[BUCKET].items()}
    with run_emulator(data_dir=str(tmp_path)) as restarted:
        with restarted.backend.lock:
            after_jobs = {j.job_id: (j.name, j.state, j.interval_start, j.interval_end)
                          for j in restarted.backend.jobs.values()}
            after_objects = {k: r.etag for k, r in restarted.backend.buckets[BUCKET].items()}
        assert len(before_jobs) == 24 and after_jobs == before_jobs
        assert after_objects == before_objects
        settings = emulator_settings(restarted)
        tick = at(2) + hours(25)  # the next tick continues from the persisted checkpoint
        result = submit_timer(settings, TimerEvent.model_validate(timer_event(tick)),
                              Deps(client=fast_client(settings), clock=lambda: tick, sleep=lambda _s: None))
        assert result.jobs[0].window_start == "2026-11-03T08:00:00+0800"
