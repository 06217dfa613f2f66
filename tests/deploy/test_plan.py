"""Reading SCF's answers back: every published variant of a trigger's read-back shape compares equal to what we post.

The toolkit (serverless-tencent/tencent-component-toolkit src/modules/triggers/timer.ts, base.ts
TRIGGER_STATUS_MAP, read 2026-12-01) notes that a timer posted with TriggerDesc "0 */6 * * * * *" and Enable
OPEN reads back as {"cron": "0 */6 * * * * *"} and 1; the SDK's Trigger model documents Enable as an integer.
Both the posted and the read-back forms are accepted, so neither makes apply replace a trigger that is unchanged.
"""
from __future__ import annotations

import pytest

from deploy.plan import masked, trigger_state
from deploy.spec import TriggerSpec

POSTED_TIMER = TriggerSpec(function="submit", type="timer", name="submit-hourly", desc="0 7 * * * * *", enable=True,
                           custom_argument="")
POSTED_COS = TriggerSpec(function="submit", type="cos", name="b-1250000000.cos.ap-guangzhou.myqcloud.com",
                         desc='{"event":"cos:ObjectCreated:*","filter":{"Prefix":"uploads/","Suffix":""}}', enable=True)


@pytest.mark.parametrize(("desc", "enable"), [
    ('{"cron":"0 7 * * * * *"}', 1),  # read-back form (toolkit timer.ts comment, SDK Trigger.Enable int)
    ("0 7 * * * * *", "OPEN"),  # posted form
    ('{"cron": "0 7 * * * * *"}', "1"),
])
def test_timer_read_back_variants_equal_the_posted_trigger(desc, enable):
    state = trigger_state({"Type": "timer", "TriggerName": "submit-hourly", "TriggerDesc": desc, "Enable": enable,
                           "CustomArgument": "", "Qualifier": "$DEFAULT"})
    assert (state.type, state.name, state.desc, state.enable, state.qualifier) == \
        (POSTED_TIMER.type, POSTED_TIMER.name, POSTED_TIMER.desc, True, "$DEFAULT")


@pytest.mark.parametrize("desc", [
    # with the bucket URL the toolkit's cos.ts getKey compares, and without it
    '{"bucketUrl":"b-1250000000.cos.ap-guangzhou.myqcloud.com","event":"cos:ObjectCreated:*",'
    '"filter":{"Prefix":"uploads/","Suffix":""}}',
    '{"event": "cos:ObjectCreated:*", "filter": {"Prefix": "uploads/", "Suffix": ""}}',
])
def test_cos_read_back_variants_equal_the_posted_trigger(desc):
    state = trigger_state({"Type": "cos", "TriggerName": POSTED_COS.name, "TriggerDesc": desc, "Enable": 1})
    assert state.desc == POSTED_COS.desc and state.enable is True


@pytest.mark.parametrize("enable", [0, "0", "CLOSE"])
def test_a_closed_trigger_reads_back_as_disabled(enable):
    assert trigger_state({"Type": "timer", "TriggerName": "t1", "TriggerDesc": "0 7 * * * * *",
                          "Enable": enable}).enable is False


@pytest.mark.parametrize(("key", "shown"), [
    ("REPORT_WEBHOOK_URL", "****"), ("MY_API_TOKEN", "****"), ("DB_PASSWORD", "****"), ("JOB_TYPE", "Job"),
])
def test_plan_masks_settings_that_are_secrets(key, shown):
    assert masked(key, "Job") == shown
