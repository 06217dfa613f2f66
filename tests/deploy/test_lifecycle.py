"""The bucket lifecycle rules `python -m deploy` keeps for STATE_PREFIX (leases/ after 2 days, manifests/ after 30).

Sources (read 2026-12-01): PUT Bucket lifecycle, cloud.tencent.com/document/api/436/8280 (it replaces the whole
configuration; Rule = ID, Filter/Prefix, Status, Expiration/Days); GET Bucket lifecycle,
intl.cloud.tencent.com/document/product/436/8278 (404 NoSuchLifecycleConfiguration when there is none); the official
SDK's qcloud_cos/cos_client.py CosS3Client.get_bucket_lifecycle / put_bucket_lifecycle and its demo
(tencentyun/cos-python-sdk-v5 demo/bucket_lifecycle.py, ut/test.py test_put_get_delete_lifecycle) for the dict shape.
Everything runs through the CLI, the real SDK and HTTP (`responses`) against tests/deploy/cos_lifecycle_double.py.
"""
from __future__ import annotations

import pytest

from tests.deploy.cos_lifecycle_double import canonical, rules_of
from tests.support.deploy import run, set_variable
from tests.support.settings import BUCKET

# Foreign rules in the documented shapes: the GET page's example, plus a tag filter and a multipart rule (SDK demo).
FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://www.qcloud.com/document/product/436/7751">
<Rule><ID>id1</ID><Filter><Prefix>documents/</Prefix></Filter><Status>Enabled</Status>
<Transition><Days>100</Days><StorageClass>STANDARD_IA</StorageClass></Transition></Rule>
<Rule><ID>id2</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>10</Days></Expiration></Rule>
<Rule><ID>backup-tags</ID><Filter><Tag><Key>datalevel</Key><Value>backup</Value></Tag></Filter><Status>Disabled</Status>
<Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>
<Transition><Days>90</Days><StorageClass>ARCHIVE</StorageClass></Transition><Expiration><Days>3650</Days></Expiration></Rule>
<Rule><ID>multipart</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>
<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>
</LifecycleConfiguration>"""


def ours(prefix: str = "autopilot/") -> str:
    return (f"<Rule><ID>autopilot-leases</ID><Filter><Prefix>{prefix}leases/</Prefix></Filter><Status>Enabled</Status>"
            "<Expiration><Days>2</Days></Expiration></Rule><Rule><Status>Enabled</Status><ID>autopilot-manifests</ID>"
            f"<Filter><Prefix>{prefix}manifests/</Prefix></Filter><Expiration><Days>30</Days></Expiration></Rule>"
            f"<Rule><ID>autopilot-uploads</ID><Filter><Prefix>{prefix}uploads/</Prefix></Filter><Status>Enabled</Status>"
            "<Expiration><Days>30</Days></Expiration></Rule>")


def expires(cos, rule_id):  # noqa: F811
    rule = cos.rule(rule_id)
    return rule.findtext("Filter/Prefix"), rule.findtext("Expiration/Days"), rule.findtext("Status")


def test_plan_on_a_bucket_without_lifecycle_shows_our_rules_and_changes_nothing(project, scf, cos, capsys):  # noqa: F811
    code, out, _ = run(project, "plan", capsys)
    assert code == 0
    assert (f"~ bucket {BUCKET}: lifecycle create autopilot-leases (autopilot/leases/ after 2 days), "
            "create autopilot-manifests (autopilot/manifests/ after 30 days), "
            "create autopilot-uploads (autopilot/uploads/ after 30 days)") in out.splitlines()
    assert cos.puts() == [] and cos.stored is None


def test_apply_on_a_bucket_without_lifecycle_creates_our_rules(project, scf, cos, capsys):  # noqa: F811
    code, out, _ = run(project, "apply", capsys)
    assert code == 0, out
    assert len(cos.puts()) == 1
    assert expires(cos, "autopilot-leases") == ("autopilot/leases/", "2", "Enabled")
    assert expires(cos, "autopilot-manifests") == ("autopilot/manifests/", "30", "Enabled")
    assert expires(cos, "autopilot-uploads") == ("autopilot/uploads/", "30", "Enabled")
    assert [r.findtext("ID") for r in rules_of(cos.stored)] == ["autopilot-leases", "autopilot-manifests",
                                                                "autopilot-uploads"]


def test_apply_keeps_every_foreign_rule_as_it_was_and_adds_ours(project, scf, cos, capsys):  # noqa: F811
    cos.stored = FOREIGN
    code, out, _ = run(project, "apply", capsys)
    assert code == 0, out
    assert "lifecycle create autopilot-leases" in out and "4 other rule(s) kept" in out
    before, after = rules_of(FOREIGN), rules_of(cos.stored)
    assert [canonical(r) for r in after[:4]] == [canonical(r) for r in before]
    assert [r.findtext("ID") for r in after[4:]] == ["autopilot-leases", "autopilot-manifests", "autopilot-uploads"]


def test_rules_already_in_place_make_no_put_even_written_in_another_element_order(project, scf, cos, capsys):  # noqa: F811
    cos.stored = FOREIGN.replace("</LifecycleConfiguration>", ours() + "</LifecycleConfiguration>")
    run(project, "apply", capsys)
    before = len(cos.puts())
    code, out, _ = run(project, "apply", capsys)
    assert code == 0
    assert len(cos.puts()) == before == 0
    assert "lifecycle unchanged" in out and "0 changing call(s)" in out


def test_second_apply_makes_no_put(project, scf, cos, capsys):  # noqa: F811
    run(project, "apply", capsys)
    _, out, _ = run(project, "apply", capsys)
    assert len(cos.puts()) == 1 and "0 changing call(s)" in out


def test_a_changed_state_prefix_updates_our_rules_in_place_and_keeps_the_others(project, scf, cos, capsys):  # noqa: F811
    cos.stored = FOREIGN.replace("<Rule><ID>id2</ID>", ours() + "<Rule><ID>id2</ID>")
    set_variable(project, "STATE_PREFIX", "state/")
    _, plan_out, _ = run(project, "plan", capsys)
    assert ("lifecycle update autopilot-leases (state/leases/ after 2 days), update autopilot-manifests "
            "(state/manifests/ after 30 days), update autopilot-uploads (state/uploads/ after 30 days); "
            "4 other rule(s) kept") in plan_out
    code, out, _ = run(project, "apply", capsys)
    assert code == 0, out
    assert expires(cos, "autopilot-leases") == ("state/leases/", "2", "Enabled")
    assert [r.findtext("ID") for r in rules_of(cos.stored)] == ["id1", "autopilot-leases", "autopilot-manifests",
                                                                "autopilot-uploads", "id2", "backup-tags", "multipart"]
    foreign = [canonical(r) for r in rules_of(cos.stored) if not r.findtext("ID").startswith("autopilot-")]
    assert foreign == [canonical(r) for r in rules_of(FOREIGN)]


def test_a_rule_of_ours_edited_by_hand_is_put_back(project, scf, cos, capsys):  # noqa: F811
    cos.stored = f"<LifecycleConfiguration>{ours().replace('<Days>2</Days>', '<Days>1</Days>')}</LifecycleConfiguration>"
    _, out, _ = run(project, "apply", capsys)
    assert "lifecycle update autopilot-leases (autopilot/leases/ after 2 days)" in out
    assert "autopilot-manifests" not in out.split("lifecycle update", 1)[1].splitlines()[0]
    assert expires(cos, "autopilot-leases") == ("autopilot/leases/", "2", "Enabled")


@pytest.mark.parametrize("method, action", [("GET", "GetBucketLifecycle"), ("PUT", "PutBucketLifecycle")])
def test_access_denied_names_the_bucket_the_missing_permission_and_the_fix(project, scf, cos, capsys, method,  # noqa: F811
                                                                           action):
    cos.fail[method] = (403, "AccessDenied")
    code, _, err = run(project, "apply", capsys)
    assert code == 1
    assert f"{action} on bucket {BUCKET} (ap-guangzhou) failed: 403 AccessDenied" in err
    assert f"lack cos:{action}" in err and "cos:GetBucketLifecycle and cos:PutBucketLifecycle" in err
    assert f"qcs::cos:ap-guangzhou:uid/<appid>:{BUCKET}/*" in err and "python -m deploy lifecycle" in err
    assert "Traceback" not in err


def test_lifecycle_command_needs_neither_scf_nor_a_package(project, rsps, cos, capsys):  # noqa: F811
    # No SCF double is registered: any SCF call would raise. This is the one-off step for the `scf deploy` path.
    (project / "build" / "cos-batch-autopilot-py310.zip").unlink()
    code, out, err = run(project, "lifecycle", capsys)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"~ bucket {BUCKET}: lifecycle create autopilot-leases")
    assert "1 changing call(s)" in out
    code, out, _ = run(project, "lifecycle", capsys)
    assert code == 0 and out.splitlines()[0].startswith("No changes") and "0 changing call(s)" in out
    assert len(cos.puts()) == 1


def test_functions_with_different_state_prefixes_are_refused_before_any_api_call(project, scf, cos,  # noqa: F811
                                                                                        capsys):
    path = project / "serverless.yml"
    text = path.read_text(encoding="utf-8")
    report_env = ("environments: [{key: COS_BUCKET, value: '${env:COS_BUCKET}'}, {key: COS_REGION, value: "
                  "'${env:COS_REGION}'}, {key: STATE_PREFIX, value: 'other/'}]")
    path.write_text(text.replace("environments: *environments", report_env), encoding="utf-8")
    code, _, err = run(project, "apply", capsys)
    assert code == 2
    assert "one bucket and one STATE_PREFIX for all functions" in err and "other/" in err
    assert cos.calls == [] and scf.calls == []
