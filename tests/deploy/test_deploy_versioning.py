"""`python -m deploy plan` warns as the submit function's runs will refuse (issue 26 point 5, lib.irreversible): a
function that deletes flagged images (INSPECT_PROCESS_TYPE=DeleteObject with AutoProcess) on a bucket whose
versioning is not Enabled. The bucket's versioning is read only when a function deletes.

GET Bucket versioning (cloud.tencent.com/document/api/436/19888): `<VersioningConfiguration><Status>Enabled|Suspended
</Status></VersioningConfiguration>`, or `<VersioningConfiguration/>` for a bucket that never had versioning ("如果您从未在
存储桶上启用版本控制,则响应为: <VersioningConfiguration/>"); signature and error body are tests/deploy/cos_bucket_double.py's.
"""
from __future__ import annotations

from typing import Dict

import pytest

responses = pytest.importorskip("responses")
pytest.importorskip("tencentcloud.scf.v20180416", reason="the deploy extra installs tencentcloud-sdk-python-scf")

from tests.deploy.cos_bucket_double import Answer, FakeCosBucketSubresource  # noqa: E402
from tests.support.deploy import run, set_variable  # noqa: E402

WARNING = ("warning: function submit: deletes on this bucket cannot be undone: INSPECT_PROCESS_TYPE=DeleteObject with "
           "AutoProcess, and bucket versioning is {status}")


class FakeCosVersioning(FakeCosBucketSubresource):
    """The bucket's versioning status ('' never set); plan only reads it."""

    subresource = "versioning"

    def __init__(self, status: str = "") -> None:
        super().__init__()
        self.status = status

    def get(self) -> Answer:
        inner = f"<Status>{self.status}</Status>" if self.status else ""
        body = f"<VersioningConfiguration>{inner}</VersioningConfiguration>" if inner else "<VersioningConfiguration/>"
        return 200, self.headers("application/xml"), body

    def put(self, headers: Dict[str, str], body: str) -> Answer:
        raise AssertionError("deploy never changes the bucket's versioning")


@pytest.fixture
def versioning(rsps):
    return FakeCosVersioning().register(rsps)


@pytest.fixture
def deleting(project):
    set_variable(project, "INSPECT_AUTO_PROCESS", "true")
    set_variable(project, "INSPECT_PROCESS_TYPE", "DeleteObject")
    return project


def test_plan_warns_that_a_deleting_function_is_refused_on_a_bucket_without_versioning(deleting, scf, versioning,
                                                                                        capsys):
    code, _, err = run(deleting, "plan", capsys)
    assert code == 0 and WARNING.format(status="never enabled") + " (ALLOW_IRREVERSIBLE_DELETE=false); every run of " \
        "it is refused until versioning is Enabled on the bucket (PUT Bucket versioning) or " \
        "ALLOW_IRREVERSIBLE_DELETE=true" in err, err
    assert err.count("cannot be undone") == 1  # the report function shares the settings but makes no job


def test_with_the_acknowledgement_plan_still_warns_that_deletes_cannot_be_undone(deleting, scf, versioning, capsys):
    set_variable(deleting, "ALLOW_IRREVERSIBLE_DELETE", "true")
    versioning.status = "Suspended"
    _, _, err = run(deleting, "plan", capsys)
    assert WARNING.format(status="Suspended") + " (ALLOW_IRREVERSIBLE_DELETE=true)\n" in err, err


def test_plan_says_nothing_about_deletes_on_a_versioned_bucket(deleting, scf, versioning, capsys):
    versioning.status = "Enabled"
    code, _, err = run(deleting, "plan", capsys)
    assert code == 0 and "cannot be undone" not in err and versioning.calls == [("GET", None)]


def test_plan_never_reads_versioning_when_no_function_deletes(project, scf, versioning, capsys):
    code, _, err = run(project, "plan", capsys)
    assert code == 0 and versioning.calls == [] and "cannot be undone" not in err
