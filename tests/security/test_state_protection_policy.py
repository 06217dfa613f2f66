"""Issue 22 point 1, "on top": the deploy writes a bucket policy statement that denies bucket writers STATE_PREFIX and
REPORT_PREFIX, merged into the bucket's policy without disturbing anyone else's statements.

Driven through `python -m deploy state-policy|apply` (deploy/__main__.py), the official SDK and HTTP (`responses`)
against tests/deploy/cos_policy_double.py, which checks the SDK's signature. What the platform allows (deny, its
principals, no requester condition key) and the wire shapes are cited in deploy/bucket_policy.py and the double.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.bucket_policy import ANONYMOUS, SID, WRITE_ACTIONS
from tests.reliability.support import examples
from tests.support.deploy import DEPLOY_ENV, cos, policy, project, rsps, run, scf, set_variable  # noqa: F401 - fixtures
from tests.support.settings import BUCKET

BASE = f"qcs::cos:ap-guangzhou:uid/1250000000:{BUCKET}/"
STATE, REPORTS = f"{BASE}autopilot/*", f"{BASE}autopilot/reports/*"
UPLOADER = "qcs::cam::uin/100000000001:uin/100000000011"
# A statement someone else wrote: public read of the bucket, in the casing COS's own examples use.
PUBLIC_READ = {"Sid": "publicRead", "Principal": {"qcs": ["qcs::cam::anyone:anyone"]}, "Effect": "allow",
               "Action": ["name/cos:GetObject", "name/cos:HeadObject"], "Resource": [f"{BASE}*"]}
# The common mistake issue 22 is about: an upload key allowed to PUT anywhere in the bucket.
BUCKET_WIDE_PUT = {"Sid": "uploaderPutAnywhere", "Principal": {"qcs": [UPLOADER]}, "Effect": "allow",
                   "Action": ["name/cos:PutObject"], "Resource": [f"{BASE}*"]}


def state_policy(project, capsys, env=None):  # noqa: F811
    return run(project, "state-policy", capsys, env=env)


def ours(policy):  # noqa: F811
    found = [s for s in policy.statements() if s.get("effect") == "deny" and set(s["action"]) == set(WRITE_ACTIONS)]
    assert len(found) == 1, policy.statements()
    return found[0]


def test_a_bucket_without_a_policy_gets_a_deny_on_object_writes_under_state_and_reports(project, rsps, policy,  # noqa: F811
                                                                                      capsys):
    code, out, err = state_policy(project, capsys)
    assert code == 0, err
    statement = ours(policy)
    assert statement["effect"] == "deny" and statement["principal"] == {"qcs": [ANONYMOUS]}
    assert sorted(statement["action"]) == sorted(WRITE_ACTIONS)
    assert statement["resource"] == [STATE, REPORTS]
    assert f"policy create {SID}" in out and "1 changing call(s)" in out


def test_a_second_run_sends_no_put_even_when_cos_rewrites_every_sid(project, rsps, policy, capsys):  # noqa: F811
    policy.rewrite_sids = True
    state_policy(project, capsys)
    code, out, _ = state_policy(project, capsys)
    assert code == 0 and len(policy.puts()) == 1
    assert out.startswith("No changes") and "0 changing call(s)" in out
    assert len(policy.statements()) == 1


def test_foreign_statements_are_kept_as_read_and_in_place(project, rsps, policy, capsys):  # noqa: F811
    policy.stored = {"version": "2.0", "Statement": [PUBLIC_READ]}
    code, out, _ = state_policy(project, capsys)
    assert code == 0 and "1 other statement(s) kept" in out
    (put,) = policy.puts()
    assert put["Statement"][0] == PUBLIC_READ and put["version"] == "2.0"
    assert put["Statement"][1]["Sid"] == SID


def test_our_statement_edited_by_hand_is_put_back_where_it_was(project, rsps, policy, capsys):  # noqa: F811
    state_policy(project, capsys)
    weakened = dict(policy.stored["Statement"][0], Resource=[f"{BASE}nothing/*"])
    policy.stored = {"version": "2.0", "Statement": [weakened, PUBLIC_READ]}
    _, out, _ = state_policy(project, capsys)
    assert f"policy update {SID}" in out
    assert [s.get("sid") for s in policy.statements()] == [SID, "publicRead"]
    assert ours(policy)["resource"] == [STATE, REPORTS]


def test_uploader_principals_are_denied_too(project, rsps, policy, capsys):  # noqa: F811
    code, out, err = state_policy(project, capsys, env={**DEPLOY_ENV, "UPLOADER_PRINCIPALS": f" {UPLOADER} ,"})
    assert code == 0, err
    assert ours(policy)["principal"] == {"qcs": [ANONYMOUS, UPLOADER]}
    assert "anonymous users and 1 uploader(s)" in out


@pytest.mark.parametrize("value, says", [
    ("qcs::cam::anyone:anyone", "also denies the function's role"),
    ("qcs::cam::uin/100000000001:uin/100000000001", "root account"),
    ("100000000011", "not a sub-account principal"),
    ("qcs::cam::uin/1:roleName/uploader", "not a sub-account principal"),
])
def test_an_uploader_principal_that_would_lock_out_the_function_or_mean_nothing_is_refused(project, rsps, policy,  # noqa: F811
                                                                                         capsys, value, says):
    code, _, err = state_policy(project, capsys, env={**DEPLOY_ENV, "UPLOADER_PRINCIPALS": value})
    assert code == 2
    assert "UPLOADER_PRINCIPALS" in err and repr(value) in err and says in err and "Fix:" in err
    assert policy.calls == []


def test_a_bucket_wide_put_grant_is_kept_but_named_in_a_warning(project, rsps, policy, capsys):  # noqa: F811
    policy.stored = {"version": "2.0", "Statement": [PUBLIC_READ, BUCKET_WIDE_PUT]}
    code, _, err = state_policy(project, capsys)
    assert code == 0
    assert "warning: bucket policy statement uploaderPutAnywhere allows" in err
    assert "forge the autopilot's state and reports under autopilot/, autopilot/reports/" in err
    assert "publicRead" not in err
    (put,) = policy.puts()
    assert put["Statement"][:2] == [PUBLIC_READ, BUCKET_WIDE_PUT]
    assert ours(policy)["effect"] == "deny"


def test_a_statement_posing_as_ours_that_allows_anyone_to_write_state_is_replaced(project, rsps, policy,  # noqa: F811
                                                                                 capsys):
    forged = {"Sid": SID, "Principal": {"qcs": ["qcs::cam::anyone:anyone"]}, "Effect": "allow",
              "Action": ["name/cos:*"], "Resource": [STATE]}
    policy.stored = {"version": "2.0", "Statement": [forged]}
    code, out, _ = state_policy(project, capsys)
    assert code == 0 and f"policy update {SID}" in out
    assert [s["effect"] for s in policy.statements()] == ["deny"]


def test_apply_writes_the_policy_with_the_functions_and_plan_shows_it_without_writing(project, scf, policy,  # noqa: F811
                                                                                    capsys):
    _, out, _ = run(project, "plan", capsys)
    assert f"~ bucket {BUCKET}: policy create {SID}" in out and policy.puts() == []
    code, out, _ = run(project, "apply", capsys)
    assert code == 0 and f"bucket {BUCKET}: policy applied ({SID})" in out
    assert len(policy.puts()) == 1


@pytest.mark.parametrize("method, action", [("GET", "GetBucketPolicy"), ("PUT", "PutBucketPolicy")])
def test_access_denied_names_the_bucket_the_permission_and_the_fix(project, rsps, policy, capsys, method,  # noqa: F811
                                                                  action):
    policy.fail[method] = (403, "AccessDenied")
    code, _, err = state_policy(project, capsys)
    assert code == 1
    assert f"{action} on bucket {BUCKET} (ap-guangzhou) failed: 403 AccessDenied" in err
    assert "cos:GetBucketPolicy and cos:PutBucketPolicy" in err and "python -m deploy state-policy" in err


@pytest.mark.parametrize("variable", ["STATE_PREFIX", "REPORT_PREFIX"])
def test_a_wildcard_prefix_is_refused_before_any_call(project, rsps, policy, capsys, variable):  # noqa: F811
    set_variable(project, variable, "ops*/")
    code, _, err = state_policy(project, capsys)
    assert code == 2 and f"{variable}='ops*/'" in err and "wildcard" in err and "plain folder name" in err
    assert policy.calls == []


# --- generated: any mix of foreign statements survives, and exactly the write grants over state are named ----------
WRITE_GRANTS = ["name/cos:PutObject", "name/cos:*", "*", "cos:PostObject", "name/cos:Complete*"]
HARMLESS = ["name/cos:GetObject", "name/cos:HeadObject", "name/cos:GetBucket", "name/cos:Put*Tagging"]
COVERING = [f"{BASE}*", f"{BASE}auto*", STATE, REPORTS, "*", f"qcs::cos:ap-guangzhou:uid/1250000000:{BUCKET}/*"]
ELSEWHERE = [f"{BASE}uploads/*", f"{BASE}images/a.png", "qcs::cos:ap-guangzhou:uid/1250000000:other-1250000000/*"]

foreign = st.builds(
    lambda n, effect, action, resource: {"Sid": f"s{n}", "Principal": {"qcs": [UPLOADER]}, "Effect": effect,
                                         "Action": [action], "Resource": [resource]},
    st.integers(0, 10 ** 6), st.sampled_from(["allow", "deny"]), st.sampled_from(WRITE_GRANTS + HARMLESS),
    st.sampled_from(COVERING + ELSEWHERE))


@examples(default=15, soak=300)
@given(statements=st.lists(foreign, max_size=6, unique_by=lambda s: s["Sid"]))
def test_generated_foreign_statements_are_kept_and_every_write_grant_over_state_is_warned(project, rsps, policy,  # noqa: F811
                                                                                        capsys, statements):
    policy.stored = {"version": "2.0", "Statement": json.loads(json.dumps(statements))} if statements else None
    policy.calls.clear()
    code, _, err = state_policy(project, capsys)
    assert code == 0, err
    kept = policy.statements()[:-1]
    assert [s["sid"] for s in kept] == [s["Sid"] for s in statements]
    assert [(s["effect"], s["action"], s["resource"]) for s in kept] == \
        [(s["Effect"], s["Action"], s["Resource"]) for s in statements]
    assert ours(policy)["resource"] == [STATE, REPORTS]
    forging = {s["Sid"] for s in statements
               if s["Effect"] == "allow" and s["Action"][0] in WRITE_GRANTS and s["Resource"][0] in COVERING}
    warned = {s["Sid"] for s in statements if f"statement {s['Sid']} allows" in err}
    assert warned == forging
