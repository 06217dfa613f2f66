"""The per-day spend ledger and held plans over the emulator: exact under concurrent runs, idempotent, and what is
read back is checked (a forged entry never lowers a total, a forged plan is never obeyed).

The ledger's exactness rests on `x-cos-forbid-overwrite: true` refusing a second PUT of the same key with 409
FileAlreadyExists (PUT Object, cloud.tencent.com/document/product/436/7749; docs/emulator.md's fidelity table)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from lib.jobs import JobInput, build_job_body
from lib.plans import HeldPlan, PlanSource, PlanStore, plan_id_of
from lib.spend import Count, DayTotal, SpendLedger, cap_reason, estimate
from tests.support.emulator import emulator_settings, fast_client
from tests.support.settings import BUCKET

pytestmark = pytest.mark.emulator
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def clock() -> datetime:
    return NOW


def ledger_of(emulator, **env):
    settings = emulator_settings(emulator, **env)
    return settings, SpendLedger(fast_client(settings), settings, clock, lambda _s: None)


def counted(objects: int) -> Count:
    return Count(objects=objects, method="upload event")


def test_a_job_under_the_caps_is_counted_on_todays_ledger(emulator_with_bucket):
    settings, ledger = ledger_of(emulator_with_bucket, DAILY_OBJECT_CAP="100")
    est = estimate(settings, counted(40))
    outcome = ledger.reserve("autopilot-a", est, lambda today: cap_reason(settings, est, today))
    assert (outcome.reason, ledger.total("2026-12-07").objects) == ("", 40)


def test_a_job_that_would_pass_the_daily_cap_is_not_counted_and_says_why(emulator_with_bucket):
    settings, ledger = ledger_of(emulator_with_bucket, DAILY_OBJECT_CAP="100")
    for name, objects in (("autopilot-a", 60), ("autopilot-b", 50)):
        est = estimate(settings, counted(objects))
        outcome = ledger.reserve(name, est, lambda today, est=est: cap_reason(settings, est, today))
    assert "DAILY_OBJECT_CAP=100" in outcome.reason and outcome.entry is None
    assert ledger.total("2026-12-07").objects == 60


def test_the_same_job_reserved_again_is_counted_once(emulator_with_bucket):
    settings, ledger = ledger_of(emulator_with_bucket)
    est = estimate(settings, counted(7))
    first = ledger.reserve("autopilot-a", est, lambda _t: "")
    again = ledger.reserve("autopilot-a", est, lambda _t: "")
    assert first.entry == again.entry and ledger.total("2026-12-07").jobs == 1


def test_concurrent_reservations_never_take_the_day_past_the_cap(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket, DAILY_OBJECT_CAP="10")
    results = {}

    def run(i: int) -> None:
        ledger = SpendLedger(fast_client(settings), settings, clock, lambda _s: None)
        est = estimate(settings, counted(3))
        results[i] = ledger.reserve(f"autopilot-{i}", est, lambda today: cap_reason(settings, est, today)).reason

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, ledger = ledger_of(emulator_with_bucket, DAILY_OBJECT_CAP="10")
    assert sum(1 for r in results.values() if not r) == 3  # 3 x 3 = 9 <= 10 < 12
    assert ledger.total("2026-12-07").objects == 9


def test_the_estimate_uses_the_imageinspect_list_price_by_default(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket)
    assert estimate(settings, counted(1_000_000)).cost == Decimal("14.93")


def test_a_workflow_job_is_unpriced_unless_a_price_is_given(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket, JOB_TYPE="Workflow", WORKFLOW_IDS="w" + "0" * 32)
    assert estimate(settings, counted(1000)).cost is None


@pytest.mark.parametrize("name", ["0123456789abcdef_x_-_USD.json", "notes.txt", "0123456789abcdef_-5_-_USD.json",
                                  "0123456789abcdef_5_-_USD.json.bak"])
def test_a_key_under_the_day_that_is_not_an_entry_is_named_and_never_counted(emulator_with_bucket, name):
    settings, ledger = ledger_of(emulator_with_bucket)
    emulator_with_bucket.backend.put_object(BUCKET, f"autopilot/spend/2026-12-07/{name}", b"")
    total = ledger.total("2026-12-07")
    assert (total.objects, total.ignored) == (0, [f"autopilot/spend/2026-12-07/{name}"])


def test_an_uncounted_prefix_is_over_any_cap_it_could_exceed(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket, MAX_OBJECTS_PER_JOB="1000000")
    est = estimate(settings, Count(objects=100_000, method="listing", complete=False))
    assert "MAX_OBJECTS_PER_JOB" in cap_reason(settings, est, DayTotal(day="2026-12-07"))


def test_no_cap_set_holds_nothing(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket)
    est = estimate(settings, Count(objects=10**9, method="listing", complete=False))
    assert cap_reason(settings, est, DayTotal(day="2026-12-07")) == ""


def _plan(settings, claim: str = "rule@first") -> HeldPlan:
    body = build_job_body(settings, "autopilot-rule-x", JobInput(Prefix="images/"), None)
    return HeldPlan(plan_id=plan_id_of("timer", claim), source=PlanSource(kind="timer", claim=claim), body=body,
                    estimate=estimate(settings, counted(5)), reason="over", held_at=NOW)


def test_a_held_plan_is_stored_once_and_read_back(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket)
    store = PlanStore(fast_client(settings), settings.state_prefix, clock)
    plan = store.hold(_plan(settings))
    again = store.hold(_plan(settings).model_copy(update={"reason": "another"}))
    assert store.get(plan.plan_id) == plan == again


def test_a_plan_whose_id_its_source_does_not_derive_is_ignored(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket)
    client = fast_client(settings)
    forged = _plan(settings).model_copy(update={"source": PlanSource(kind="timer", claim="other@first")})
    client.put_object(f"autopilot/plans/{forged.plan_id}.json", forged.model_dump_json().encode(), "application/json")
    store = PlanStore(client, settings.state_prefix, clock)
    assert store.get(forged.plan_id) is None and store.list() == [] and store.tampered


def test_a_job_counted_just_before_midnight_is_not_counted_again_by_its_redelivery_after_it(emulator_with_bucket):
    settings, _ = ledger_of(emulator_with_bucket)
    client = fast_client(settings)
    est = estimate(settings, counted(4))
    before = SpendLedger(client, settings, lambda: datetime(2026, 12, 6, 23, 59, tzinfo=timezone.utc), lambda _s: None)
    after = SpendLedger(client, settings, lambda: datetime(2026, 12, 7, 0, 2, tzinfo=timezone.utc), lambda _s: None)
    cap = lambda _t: ""  # noqa: E731 - a cap that never holds: the checked path, which looks the job up
    first = before.reserve("autopilot-a", est, cap)
    again = after.reserve("autopilot-a", est, cap)
    assert again.entry == first.entry and after.total("2026-12-07").jobs == 0


def test_a_job_counted_again_with_another_figure_reads_as_the_larger_once(emulator_with_bucket):
    settings, ledger = ledger_of(emulator_with_bucket)
    for objects in (4, 9, 9):
        ledger.reserve("autopilot-a", estimate(settings, counted(objects)), lambda _t: "", override=True)
    total = ledger.total("2026-12-07")
    assert (total.jobs, total.objects) == (1, 9)
