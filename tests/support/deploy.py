"""The deploy CLI's test bench: a project folder as `make package` leaves it, the SCF and COS doubles on one
`responses` mock, and `python -m deploy` run against them (tests/deploy and tests/security share it)."""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

responses = pytest.importorskip("responses")
pytest.importorskip("tencentcloud.scf.v20180416", reason="the deploy extra installs tencentcloud-sdk-python-scf")

from deploy.__main__ import main  # noqa: E402
from deploy.scf_api import sdk_transport  # noqa: E402
from tests.deploy.cos_lifecycle_double import FakeCosLifecycle  # noqa: E402
from tests.deploy.cos_policy_double import FakeCosPolicy  # noqa: E402
from tests.deploy.scf_double import SECRET_ID, SECRET_KEY, URL, FakeScf  # noqa: E402
from tests.support.settings import BUCKET, REGION  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cr3t-webhook-key"
DEPLOY_ENV = {"COS_BUCKET": BUCKET, "COS_REGION": REGION, "AUTOPILOT_ROLE": "autopilot",
              "TENCENTCLOUD_SECRETID": SECRET_ID, "TENCENTCLOUD_SECRETKEY": SECRET_KEY, "REPORT_WEBHOOK_URL": WEBHOOK}
SUBMIT = "cos-batch-autopilot-prod-cos-batch-autopilot-submit"
REPORT = "cos-batch-autopilot-prod-cos-batch-autopilot-report"


@pytest.fixture
def project(tmp_path):
    """A copy of serverless.yml (webhook set from .env) beside a built package, as `make package` leaves it."""
    text = (ROOT / "serverless.yml").read_text(encoding="utf-8")
    text = text.replace("# - {key: REPORT_WEBHOOK_URL, value: ''}",
                        "- {key: REPORT_WEBHOOK_URL, value: '${env:REPORT_WEBHOOK_URL}'}")
    (tmp_path / "serverless.yml").write_text(text, encoding="utf-8")
    (tmp_path / "build" / "package-py310").mkdir(parents=True)
    write_package(tmp_path, "x = 1\n")
    return tmp_path


def write_package(project: Path, code: str, python: str = "3.10") -> None:
    with zipfile.ZipFile(project / "build" / "cos-batch-autopilot-py310.zip", "w") as zf:
        zf.writestr("package-info.json", json.dumps({"python": python}))
        zf.writestr("scf_submit.py", code)


@pytest.fixture
def rsps():
    """The `responses` mock the doubles answer on; any other URL raises, so nothing reaches the network.

    `assert_all_requests_are_fired` stays off: each double registers every route of its API, as the service offers
    them, and a command calls the few it needs."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def policy(rsps):
    """The bucket's policy (plan and apply read it; none at first): tests/deploy/cos_policy_double.py."""
    return FakeCosPolicy().register(rsps)


@pytest.fixture
def cos(rsps, policy):
    """The bucket's lifecycle configuration (plan and apply read it; none at first)."""
    return FakeCosLifecycle().register(rsps)


@pytest.fixture
def scf(rsps, cos):
    fake = FakeScf()
    rsps.add_callback(responses.POST, URL, callback=fake)
    return fake


def run(project, command, capsys, env=None, extra=()):
    environ = dict(DEPLOY_ENV if env is None else env)
    code = main([command, "--config", str(project / "serverless.yml"), *extra],
                transport=sdk_transport(environ["COS_REGION"], environ), environ=environ, sleep=lambda s: None)
    out = capsys.readouterr()
    return code, out.out, out.err


def set_variable(project, key, value):
    path = project / "serverless.yml"
    text = path.read_text(encoding="utf-8")
    new = re.sub(rf"- \{{key: {key}, value: '[^']*'\}}", f"- {{key: {key}, value: '{value}'}}", text)
    assert new != text
    path.write_text(new, encoding="utf-8")
