"""The submit handler, driven the way SCF drives it, against the SDK over (fake) HTTP."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from handlers.submit import invoke, main_handler
from lib.client import make_client
from lib.errors import ConfigError, LeaseHeldError, SafetyError
from tests.support.events import load_event, timer_event
from tests.support.settings import BUCKET, ENV

CONTEXT = {"request_id": "req-1", "function_name": "submit", "time_limit_in_ms": 60000}


def sent(ci_wire, index=-1):
    return ET.fromstring(ci_wire.created_bodies[index])


def interval(root):
    return root.findtext("Operation/TimeInterval/Start"), root.findtext("Operation/TimeInterval/End")


def test_first_timer_run_covers_the_default_lookback_and_writes_a_checkpoint(env, ci_wire):
    result = main_handler(timer_event(), CONTEXT)
    assert result["jobs"][0]["created"] is True
    assert interval(sent(ci_wire)) == ("2026-11-28T23:00:00+0800", "2026-11-29T00:00:00+0800")
    checkpoint = json.loads(ci_wire.objects["autopilot/checkpoints/hourly.json"])
    assert checkpoint["end"] == "2026-11-28T16:00:00Z" and checkpoint["job_id"] == result["jobs"][0]["job_id"]


def test_next_timer_run_starts_where_the_previous_ended(env, ci_wire):
    main_handler(timer_event("2026-11-28T16:00:00Z"), CONTEXT)
    main_handler(timer_event("2026-11-28T19:00:00Z"), CONTEXT)  # two ticks missed: the window grows, nothing is lost
    assert interval(sent(ci_wire)) == ("2026-11-29T00:00:00+0800", "2026-11-29T03:00:00+0800")


def test_timer_job_is_an_image_inspect_job_over_the_input_prefix(env, ci_wire, monkeypatch):
    monkeypatch.setenv("INPUT_PREFIX", "avatars/")
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "SwitchObjectToPrivate")
    main_handler(timer_event(), CONTEXT)
    root = sent(ci_wire)
    assert root.findtext("Type") == "Job" and root.findtext("Input/Prefix") == "avatars/"
    assert root.findtext("Operation/Tag") == "ImageInspect"
    assert root.findtext("Operation/JobParam/ImageInspect/AutoProcess") == "true"
    assert root.findtext("Operation/JobParam/ImageInspect/ProcessType") == "SwitchObjectToPrivate"
    assert root.findtext("Name").startswith("autopilot-hourly-")


def test_timer_argument_runs_a_different_rule(env, ci_wire):
    main_handler(load_event("timer-argument-override.json"), CONTEXT)
    root = sent(ci_wire)
    assert root.findtext("Type") == "Workflow" and root.findtext("Input/Prefix") == "videos/"
    assert root.findtext("Operation/WorkflowIds") == "w2504f47ad46e4a1b9c0d1e2f3a4b5c6d"
    assert interval(root) == ("2026-11-28T03:00:00+0800", "2026-11-29T03:00:00+0800")
    assert "autopilot/checkpoints/nightly-videos.json" not in ci_wire.objects  # a fixed look-back keeps no checkpoint


def test_window_all_sends_no_time_interval(env, ci_wire, monkeypatch):
    monkeypatch.setenv("WINDOW", "all")
    main_handler(timer_event(), CONTEXT)
    assert sent(ci_wire).find("Operation/TimeInterval") is None


def test_invalid_timer_argument_submits_nothing(env, ci_wire):
    with pytest.raises(ConfigError, match="timer argument is not valid JSON"):
        main_handler(load_event("timer-invalid-argument.json"), CONTEXT)
    assert len(ci_wire.rsps.calls) == 0


def test_invalid_setting_submits_nothing(env, ci_wire, monkeypatch):
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "Shred")
    with pytest.raises(ConfigError, match="INSPECT_PROCESS_TYPE='Shred'"):
        main_handler(timer_event(), CONTEXT)
    assert len(ci_wire.rsps.calls) == 0


def test_missing_credentials_are_a_clear_error(env, ci_wire, monkeypatch):
    monkeypatch.delenv("TENCENTCLOUD_SECRETKEY")
    with pytest.raises(ConfigError, match="give the function a role"):
        main_handler(timer_event(), CONTEXT)
    assert len(ci_wire.rsps.calls) == 0


def test_same_timer_event_twice_creates_one_job(env, ci_wire):
    first = main_handler(timer_event(), CONTEXT)
    second = main_handler(timer_event(), CONTEXT)
    assert len(ci_wire.jobs) == 1
    assert second["jobs"] == [] and "already covered" in second["note"]
    assert first["jobs"][0]["created"] is True


def test_lookback_timer_redelivered_finds_its_job_instead_of_creating(env, ci_wire, monkeypatch):
    monkeypatch.setenv("WINDOW", "6h")
    main_handler(timer_event(), CONTEXT)
    again = main_handler(timer_event(), CONTEXT)
    assert len(ci_wire.jobs) == 1 and again["jobs"][0]["created"] is False


def test_5xx_on_create_then_retry_creates_one_job(env, ci_wire):
    ci_wire.create_failures = [(503, False)]
    result = main_handler(timer_event(), CONTEXT)
    assert len(ci_wire.created_bodies) == 2 and len(ci_wire.jobs) == 1
    assert result["jobs"][0]["created"] is True


def test_5xx_after_the_create_was_carried_out_is_not_created_again(env, ci_wire):
    ci_wire.create_failures = [(500, True)]
    result = main_handler(timer_event(), CONTEXT)
    assert len(ci_wire.created_bodies) == 1 and len(ci_wire.jobs) == 1
    assert result["jobs"][0]["created"] is False  # found by name on the retry's lookup


def test_checkpoint_does_not_move_when_create_keeps_failing(env, ci_wire):
    ci_wire.create_failures = [(500, False)] * 3
    with pytest.raises(Exception, match="HTTP 500"):
        main_handler(timer_event(), CONTEXT)
    assert "autopilot/checkpoints/hourly.json" not in ci_wire.objects
    assert ci_wire.jobs == []


def test_scf_retry_after_a_failed_run_takes_over_the_abandoned_lease(env, ci_wire):
    ci_wire.create_failures = [(500, False)] * 3
    with pytest.raises(Exception, match="HTTP 500"):
        main_handler(timer_event(), CONTEXT)
    result = main_handler(timer_event(), {**CONTEXT, "request_id": "req-1-retry"})
    assert result["jobs"][0]["created"] is True and len(ci_wire.jobs) == 1


def test_a_run_that_finds_a_live_lease_stops_without_submitting(env, ci_wire):
    # A live claim as a run writes it (issue 22: one expiring in 2999, or naming another job, is tampered instead).
    ci_wire.objects["autopilot/leases/hourly@first/g000000.json"] = json.dumps({
        "lease_id": "hourly@first", "owner": "other-run", "generation": 0, "expires_at": soon(),
        "window_start": "2026-11-28T15:00:00Z", "window_end": "2026-11-28T16:00:00Z",
        "job_name": "autopilot-hourly-20261128T150000Z-20261128T160000Z"}).encode()
    with pytest.raises(LeaseHeldError, match="held by run other-run"):
        main_handler(timer_event(), CONTEXT)
    assert ci_wire.created_bodies == []


def test_taking_over_an_expired_lease_finishes_its_window_not_a_new_one(env, ci_wire):
    ci_wire.objects["autopilot/leases/hourly@first/g000000.json"] = json.dumps({
        "lease_id": "hourly@first", "owner": "dead-run", "generation": 0, "expires_at": "2020-01-01T00:00:00Z",
        "window_start": "2026-11-28T14:00:00Z", "window_end": "2026-11-28T15:00:00Z",
        "job_name": "autopilot-hourly-20261128T140000Z-20261128T150000Z"}).encode()
    main_handler(timer_event("2026-11-28T16:00:00Z"), CONTEXT)
    assert interval(sent(ci_wire)) == ("2026-11-28T22:00:00+0800", "2026-11-28T23:00:00+0800")
    assert json.loads(ci_wire.objects["autopilot/checkpoints/hourly.json"])["end"] == "2026-11-28T15:00:00Z"


def test_whole_bucket_delete_refuses_without_explicit_permission(env, ci_wire, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # the versioning catch acknowledged: this one alone
    with pytest.raises(SafetyError, match="ALLOW_DELETE_WHOLE_BUCKET=true"):
        main_handler(timer_event(), CONTEXT)
    assert len(ci_wire.rsps.calls) == 0
    monkeypatch.setenv("ALLOW_DELETE_WHOLE_BUCKET", "true")
    assert main_handler(timer_event(), CONTEXT)["jobs"][0]["created"] is True


# --- uploads ---------------------------------------------------------------------------------

def test_one_upload_becomes_an_object_job(env, ci_wire):
    result = main_handler(load_event("cos-upload-one.json"), CONTEXT)
    root = sent(ci_wire)
    assert root.findtext("Input/Object") == "uploads/cat.png"
    assert root.find("Operation/TimeInterval") is None
    assert result["jobs"][0]["input"] == "Object=uploads/cat.png"


def test_several_uploads_become_one_urlfile_job_with_a_manifest(env, ci_wire):
    main_handler(load_event("cos-upload-multi.json"), CONTEXT)
    root = sent(ci_wire)
    host = f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/"
    url = root.findtext("Input/UrlFile")
    # Issue 12 point 1: the manifest's object URL, as the SDK demo (demo/ci_media.py) writes UrlFile.
    assert url.startswith(f"{host}autopilot/manifests/") and url.endswith(".txt")
    manifest = url[len(host):]
    assert ci_wire.objects[manifest].decode() == f"{host}uploads/a.jpg\n{host}uploads/b.png\n{host}uploads/c.gif\n"
    assert root.find("Input/Prefix") is None


def test_special_character_keys_reach_the_manifest_percent_encoded(env, ci_wire):
    main_handler(load_event("cos-upload-special-keys.json"), CONTEXT)
    url = sent(ci_wire).findtext("Input/UrlFile")
    text = ci_wire.objects[url.split(".myqcloud.com/", 1)[1]].decode()
    assert text.splitlines() == [
        f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/uploads/my%20photo%2B1%20100%25.jpg",
        f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/uploads/%E7%85%A7%E7%89%87/%E7%8C%AB.png",
        f"https://{BUCKET}.cos.ap-guangzhou.myqcloud.com/uploads/emoji%20%F0%9F%98%80.webp",
    ]


def test_folder_marker_is_skipped_and_nothing_is_sent(env, ci_wire):
    result = main_handler(load_event("cos-folder-marker.json"), CONTEXT)
    assert result["skipped"] == [{"key": "uploads/newfolder/", "reason": "folder marker"}]
    assert len(ci_wire.rsps.calls) == 0


def test_region_short_code_event_uses_the_configured_region(env, ci_wire):
    main_handler(load_event("cos-region-short-code.json"), CONTEXT)
    assert sent(ci_wire).findtext("Input/Object") == "uploads/old-event.bmp"


def test_state_backup_and_other_suffixes_are_skipped_without_recursion(env, ci_wire):
    result = main_handler(load_event("cos-mixed-skips.json"), CONTEXT)
    reasons = {s["key"]: s["reason"] for s in result["skipped"]}
    assert reasons["uploads/notes.txt"] == "suffix not in UPLOAD_SUFFIXES"
    assert reasons["autopilot/manifests/x.png"].startswith("under autopilot/")
    assert reasons["abnormal_images_backup/uploads/bad.png"].startswith("under abnormal_images_backup/")
    assert sent(ci_wire).findtext("Input/Object") == "uploads/ok.jpeg"


def test_upload_from_another_bucket_is_skipped(env, ci_wire, monkeypatch):
    monkeypatch.setenv("COS_BUCKET", "otherbucket-1250000000")
    result = main_handler(load_event("cos-upload-one.json"), CONTEXT)
    assert result["skipped"][0]["reason"].startswith("bucket examplebucket-1250000000 is not COS_BUCKET")


def test_same_upload_event_twice_creates_one_job(env, ci_wire):
    first = main_handler(load_event("cos-upload-multi.json"), CONTEXT)
    second = main_handler(load_event("cos-upload-multi.json"), CONTEXT)
    assert len(ci_wire.jobs) == 1
    assert first["jobs"][0]["job_id"] == second["jobs"][0]["job_id"]
    assert second["jobs"][0]["created"] is False


def test_a_new_upload_of_the_same_key_is_a_new_job(env, ci_wire):
    main_handler(load_event("cos-upload-one.json"), CONTEXT)
    again = load_event("cos-upload-one.json")
    again["Records"][0]["cos"]["cosObject"]["meta"]["x-cos-request-id"] = "bmV3LXVwbG9hZA=="
    main_handler(again, CONTEXT)
    assert len(ci_wire.jobs) == 2


def test_upload_job_is_never_a_prefix_job(env, ci_wire, monkeypatch):
    monkeypatch.setenv("INSPECT_AUTO_PROCESS", "true")
    monkeypatch.setenv("INSPECT_PROCESS_TYPE", "DeleteObject")
    monkeypatch.setenv("ALLOW_IRREVERSIBLE_DELETE", "true")  # the fake wire has no versioning to read
    main_handler(load_event("cos-upload-one.json"), CONTEXT)  # explicit keys: the whole-bucket rail does not apply
    assert sent(ci_wire).find("Input/Prefix") is None


def test_malformed_event_is_skipped_cleanly_without_sending(env, ci_wire):
    result = main_handler({"Records": "nope"}, CONTEXT)
    assert result["skipped"] is True and "CosEvent is malformed" in result["reason"]
    assert len(ci_wire.rsps.calls) == 0


def test_a_runs_lease_lasts_its_time_limit_plus_thirty_seconds(env, ci_wire):
    before = datetime.now(timezone.utc)
    main_handler(timer_event(), {**CONTEXT, "time_limit_in_ms": 300000})
    (put,) = [c for c in ci_wire.calls("PUT") if "/leases/" in c.request.url]
    expires = datetime.fromisoformat(json.loads(put.request.body)["expires_at"].replace("Z", "+00:00"))
    assert 329 <= (expires - before).total_seconds() <= 335


def test_an_unreadable_checkpoint_is_ignored_and_named_and_the_rule_plans_as_a_first_run(env, ci_wire):
    # Issue 22: stopping here let any bucket writer stop the rule for good with one unreadable object.
    ci_wire.objects["autopilot/checkpoints/hourly.json"] = b"{not json"
    result = main_handler(timer_event(), CONTEXT)
    assert "checkpoint autopilot/checkpoints/hourly.json is unreadable" in result["note"]
    assert interval(sent(ci_wire)) == ("2026-11-28T23:00:00+0800", "2026-11-29T00:00:00+0800")


@pytest.mark.parametrize("name", ["timer-doc.json", "timer-real-multiscf.json"])
def test_documented_timer_event_with_plain_text_argument_submits_a_job(env, ci_wire, name):
    # events/timer-doc.json is SCF's published sample (583/9708); timer-real-multiscf.json the multi-scf doc's log.
    result = main_handler(load_event(name), CONTEXT)
    assert result["jobs"] and result["jobs"][0]["created"] is True


def left_claim(ci_wire, lease_id, expires):
    ci_wire.objects[f"autopilot/leases/{lease_id}/g000000.json"] = json.dumps({
        "lease_id": lease_id, "owner": "killed-run", "generation": 0, "expires_at": expires,
        "window_start": "2026-11-28T15:00:00Z", "window_end": "2026-11-28T16:00:00Z",
        "job_name": "autopilot-hourly-20261128T150000Z-20261128T160000Z"}).encode()


def claims(ci_wire):
    return sorted(k for k in ci_wire.objects if "/leases/" in k)


def test_the_checkpoint_names_the_claim_it_was_written_under(env, ci_wire):
    main_handler(timer_event(), CONTEXT)
    assert json.loads(ci_wire.objects["autopilot/checkpoints/hourly.json"])["lease_id"] == "hourly@first"


def soon():
    """A live claim's expiry by the function's (real) clock; a 2999 one is tampered since issue 22."""
    return (datetime.now(timezone.utc) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("expires, left", [("2020-01-01T00:00:00Z", 0), (None, 1)],
                         ids=["lapsed-is-removed", "live-is-kept"])
def test_a_redelivery_that_finds_its_window_covered_removes_the_lapsed_claim_its_writer_left(
        env, ci_wire, expires, left):
    main_handler(timer_event(), CONTEXT)
    left_claim(ci_wire, "hourly@first", expires or soon())  # as if killed between checkpoint write and release
    result = main_handler(timer_event(), {**CONTEXT, "request_id": "req-1-retry"})
    assert result["jobs"] == [] and len(claims(ci_wire)) == left


def test_the_next_tick_removes_the_lapsed_claim_the_previous_checkpoint_names(env, ci_wire):
    main_handler(timer_event("2026-11-28T16:00:00Z"), CONTEXT)
    left_claim(ci_wire, "hourly@first", "2020-01-01T00:00:00Z")
    main_handler(timer_event("2026-11-28T17:00:00Z"), CONTEXT)
    assert claims(ci_wire) == []


def test_a_checkpoint_written_before_claims_were_recorded_is_still_followed(env, ci_wire):
    # Its job must be real since issue 22 (a checkpoint naming a job CI does not hold is tampered): made by a run.
    main_handler(timer_event("2026-11-28T15:00:00Z"), CONTEXT)
    written = json.loads(ci_wire.objects["autopilot/checkpoints/hourly.json"])
    ci_wire.objects["autopilot/checkpoints/hourly.json"] = json.dumps({
        k: written[k] for k in ("rule", "end", "job_id", "job_name")}).encode()
    main_handler(timer_event("2026-11-28T17:00:00Z"), CONTEXT)  # followed: from 15:00, not FIRST_RUN_LOOKBACK's 16:00
    assert interval(sent(ci_wire)) == ("2026-11-28T23:00:00+0800", "2026-11-29T01:00:00+0800")



def test_invoke_runs_on_the_environment_and_client_factory_it_is_given_not_the_processs(env, ci_wire, monkeypatch):
    monkeypatch.setenv("COS_BUCKET", "otherbucket-1250000000")  # the process's own environment: never read
    made = []

    def factory(settings, *, pool_size=None):
        made.append((settings.bucket, pool_size))
        return make_client(settings, pool_size=pool_size)

    result = invoke(timer_event(), CONTEXT, environ=dict(ENV), client_factory=factory)
    assert result["jobs"][0]["created"] is True and len(ci_wire.created_bodies) == 1
    assert made == [(BUCKET, None)]
