"""Issue 25 on inventory rules, through the submit handler over the emulator: each part of a report is counted from
the report and priced before its job is sent; a part past a cap is held as its own plan, the report's checkpoint
stays until every part is sent, declined or expired, and a confirm sends a held part once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

import lib.submit.inventory
from handlers.submit import invoke
from lib.config import load_settings
from lib.errors import PlanError
from lib.inventory_state import read_ledger
from ops.inventory import dry_run_inventory, render_dry_run
from tests.inventory.support import CONTEXT, INVENTORY_ID, Bucket, day_after
from tests.support.caps import confirm, decline, stored_plans
from tests.support.emulator import fast_client

pytestmark = pytest.mark.emulator

T1 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
DAY1 = day_after(T1)  # 20261103
T2 = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)
DAY2 = day_after(T2)  # 20261105
CHECKPOINT = f"autopilot/inventory-runs/{INVENTORY_ID}/checkpoint.json"


def part_file(day: str, n: int) -> str:
    return f"autopilot/inventory-runs/{INVENTORY_ID}/{day}/part-{n:06d}.txt"


@pytest.fixture(autouse=True)
def parts_of_four(monkeypatch):
    """Four objects per UrlFile part, so a handful of objects makes several parts (PART_OBJECTS is 50,000)."""
    monkeypatch.setattr(lib.submit.inventory, "PART_OBJECTS", 4)


def images(n: int):
    return [f"uploads/{i:03d}.png" for i in range(n)]


def caps_bucket(emulator, objects: int, **caps: str) -> Bucket:
    """A report of `objects` kept images dated DAY1 (plus one dropped, so the run writes UrlFile parts)."""
    bucket = Bucket(emulator, INPUT_PREFIX="uploads/", WINDOW="all", **caps)
    bucket.put(*images(objects), "uploads/notes.txt", at=T1)
    bucket.report(DAY1)
    return bucket


def job_names(bucket: Bucket):
    return sorted(j.name for j in bucket.jobs())


def part_name(n: int, day: str = DAY1) -> str:
    return f"autopilot-inv-{INVENTORY_ID}-{day}-{n}"


def test_under_the_caps_every_part_is_sent_with_its_count_from_the_report_and_its_estimate(emulator):
    bucket = caps_bucket(emulator, 10, DAILY_OBJECT_CAP="100", MAX_OBJECTS_PER_JOB="4")
    result = bucket.tick()
    assert sorted(bucket.covered()) == images(10)
    assert [(j["estimate"]["count"]["objects"], j["estimate"]["count"]["method"], j["estimate"]["cost"])
            for j in result["jobs"]] == [(4, "inventory report", "0.000060"), (4, "inventory report", "0.000060"),
                                         (2, "inventory report", "0.000030")]
    assert result["held"] == []
    assert bucket.client.get_object(CHECKPOINT) is not None


def test_a_part_over_max_objects_per_job_is_held_and_the_other_parts_are_sent(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3")  # parts of 4 and 2
    result = bucket.tick()
    assert job_names(bucket) == [part_name(2)]
    assert [(h["name"], h["status"], h["estimate"]["count"]["objects"]) for h in result["held"]] == [
        (part_name(1), "pending", 4)]
    assert "over MAX_OBJECTS_PER_JOB=3" in result["held"][0]["reason"]
    assert f"HELD job {part_name(1)}" in result["note"]


def test_a_held_part_keeps_the_reports_checkpoint_where_it_was(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3")
    bucket.tick()
    assert bucket.client.get_object(CHECKPOINT) is None
    ledger = read_ledger(bucket.client, load_settings(bucket.env), INVENTORY_ID, DAY1)
    assert ledger is not None and ledger.state == "held"
    assert [(p.n, p.status) for p in ledger.parts] == [(1, "held"), (2, "sent")]


def test_the_daily_cap_reached_mid_way_holds_each_part_past_it_and_sends_the_ones_before(emulator):
    bucket = caps_bucket(emulator, 12, DAILY_OBJECT_CAP="6")  # parts of 4, 4, 4
    result = bucket.tick()
    assert job_names(bucket) == [part_name(1)]
    assert sorted(h["name"] for h in result["held"]) == [part_name(2), part_name(3)]
    assert all("past DAILY_OBJECT_CAP=6" in h["reason"] for h in result["held"])
    assert len({h["plan_id"] for h in result["held"]}) == 2


def test_a_second_run_meets_the_held_parts_and_neither_holds_nor_sends_them_again(emulator):
    bucket = caps_bucket(emulator, 12, DAILY_OBJECT_CAP="6")
    first = bucket.tick()
    plans_before = stored_plans(bucket.env, bucket.client)
    spend_before = bucket.client.list_keys("autopilot/spend/")
    again = bucket.tick()
    by_event = bucket.checksum_event(f"autopilot/inventory/1250000000/examplebucket/{INVENTORY_ID}/{DAY1}/"
                                     "manifest.checksum")
    assert job_names(bucket) == [part_name(1)]
    assert again["jobs"] == [] and by_event["jobs"] == []
    assert [h["plan_id"] for h in again["held"]] == [h["plan_id"] for h in first["held"]]
    assert stored_plans(bucket.env, bucket.client) == plans_before
    assert bucket.client.list_keys("autopilot/spend/") == spend_before


def test_confirming_a_held_part_sends_it_once_and_completes_the_run(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3")
    plan_id = bucket.tick()["held"][0]["plan_id"]
    first = confirm(bucket.env, client=bucket.client, plan_id=plan_id)
    second = confirm(bucket.env, client=bucket.client, plan_id=plan_id)
    assert first.created and not second.created and first.job_id == second.job_id
    assert job_names(bucket) == [part_name(1), part_name(2)]
    assert sorted(bucket.covered()) == images(6)
    assert bucket.client.get_object(CHECKPOINT) is not None
    assert f"report {DAY1} already processed" in bucket.tick()["note"]


def test_a_confirmed_part_counts_toward_the_days_total(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3")
    confirm(bucket.env, client=bucket.client, plan_id=bucket.tick()["held"][0]["plan_id"])
    entries = bucket.client.list_keys("autopilot/spend/")
    assert sorted(int(k.rsplit("/", 1)[1].split("_")[1]) for k in entries) == [2, 4]


def test_declining_a_held_part_completes_the_run_at_its_next_tick_and_deletes_the_parts_url_file(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3")
    plan_id = bucket.tick()["held"][0]["plan_id"]
    decline(bucket.env, client=bucket.client, plan_id=plan_id)
    result = bucket.tick()
    assert job_names(bucket) == [part_name(2)]
    assert bucket.client.get_object(part_file(DAY1, 1)) is None
    assert f"plan {plan_id} was declined" in result["note"]
    assert bucket.client.get_object(CHECKPOINT) is not None
    assert f"report {DAY1} already processed" in bucket.tick()["note"]


def test_a_part_whose_plan_expired_is_dropped_like_a_declined_one(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3", PLAN_EXPIRY_DAYS="2")
    bucket.tick()
    later = datetime.now(timezone.utc) + timedelta(days=3)
    event = {"Type": "Timer", "TriggerName": "inventory", "Time": "2026-12-01T00:00:00Z", "Message": ""}
    result = invoke(event, CONTEXT, environ=bucket.env, client_factory=fast_client, clock=lambda: later)
    assert "was expired" in result["note"]
    assert job_names(bucket) == [part_name(2)]
    assert bucket.client.get_object(part_file(DAY1, 1)) is None
    assert bucket.client.get_object(CHECKPOINT) is not None


def test_a_newer_report_waits_for_a_held_one_and_follows_it_once_every_part_is_decided(emulator):
    bucket = Bucket(emulator, INPUT_PREFIX="uploads/", MAX_OBJECTS_PER_JOB="3")  # incremental window
    bucket.put(*images(6), "uploads/notes.txt", at=T1)
    bucket.report(DAY1)
    plan_id = bucket.tick(message='{"WINDOW": "all"}')["held"][0]["plan_id"]
    bucket.put("uploads/new.png", at=T2)
    bucket.report(DAY2)
    waiting = bucket.tick()
    assert f"report {DAY2} waits until report {DAY1}'s held parts" in waiting["note"]
    assert job_names(bucket) == [part_name(2)]
    confirm(bucket.env, client=bucket.client, plan_id=plan_id)
    after = bucket.tick()
    assert [j["name"] for j in after["jobs"]] == [part_name(1, DAY2)]
    assert sorted(bucket.covered()) == sorted(images(6) + ["uploads/new.png"])


def test_a_confirm_refuses_a_part_the_current_settings_build_differently_and_sends_nothing(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3")
    plan_id = bucket.tick()["held"][0]["plan_id"]
    changed = dict(bucket.env, INSPECT_AUTO_PROCESS="true")
    with pytest.raises(PlanError, match="its body differs"):
        confirm(changed, client=bucket.client, plan_id=plan_id)
    assert job_names(bucket) == [part_name(2)]


def test_the_dry_run_shows_each_parts_count_estimate_and_which_part_a_cap_would_hold(emulator):
    bucket = caps_bucket(emulator, 12, DAILY_OBJECT_CAP="6")
    settings = load_settings(bucket.env)
    view = dry_run_inventory(bucket.client, settings, datetime.now(timezone.utc))
    assert [(p.objects, p.estimate.cost, p.action) for p in view.parts] == [
        (4, Decimal("0.000060"), "send"), (4, Decimal("0.000060"), "hold"), (4, Decimal("0.000060"), "hold")]
    text = render_dry_run(view)
    assert "would make 1 job, and hold 2 parts a cap stops" in text and "part 2 would be HELD" in text and "DAILY_OBJECT_CAP=6" in text
    assert bucket.client.list_keys("autopilot/spend/") == [] and stored_plans(bucket.env, bucket.client) == []
    result = bucket.tick()
    assert [j["name"] for j in result["jobs"]] == [part_name(1)]


def test_a_report_whose_every_part_was_declined_is_processed_and_stays_processed(emulator):
    bucket = caps_bucket(emulator, 4, MAX_OBJECTS_PER_JOB="3")  # one part of 4
    decline(bucket.env, client=bucket.client, plan_id=bucket.tick()["held"][0]["plan_id"])
    bucket.tick()
    again = bucket.tick()
    assert f"report {DAY1} already processed" in again["note"] and "ignored" not in again["note"]
    assert bucket.jobs() == []


def test_a_declined_part_stays_unsent_when_the_caps_are_removed_before_the_next_run(emulator):
    bucket = caps_bucket(emulator, 6, MAX_OBJECTS_PER_JOB="3")
    decline(bucket.env, client=bucket.client, plan_id=bucket.tick()["held"][0]["plan_id"])
    del bucket.env["MAX_OBJECTS_PER_JOB"]
    bucket.tick()
    assert job_names(bucket) == [part_name(2)]
    assert bucket.client.get_object(part_file(DAY1, 1)) is None


def test_a_report_whose_last_part_was_declined_after_earlier_ones_were_sent_stays_processed(emulator):
    bucket = caps_bucket(emulator, 12, DAILY_OBJECT_CAP="6")  # part 1 sent, parts 2 and 3 held
    for held in bucket.tick()["held"]:
        decline(bucket.env, client=bucket.client, plan_id=held["plan_id"])
    bucket.tick()
    again = bucket.tick()
    assert f"report {DAY1} already processed" in again["note"] and "ignored" not in again["note"]
    assert job_names(bucket) == [part_name(1)]
