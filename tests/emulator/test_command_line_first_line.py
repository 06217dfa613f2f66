"""`python -m emulator`'s first line tells a person where it listens, what it serves and which credentials it takes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

ROOT = Path(__file__).resolve().parents[2]

BUCKET = "examplebucket-1250000000"


def first_line_of(args: List[str], check=None) -> str:
    """Start the emulator, read its first stdout line, run check(url) while it serves, then stop it."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # no EMULATOR_SECRET_* from the caller's environment
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().strip()
        if check is not None:
            check(line.split(" on ", 1)[1].split()[0])
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    return line


def sdk(url: str, secret_id: str, secret_key: str) -> CosS3Client:
    return CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=secret_id, SecretKey=secret_key, Scheme="http",
                                 Proxies={"http": url}), retry=0)


def test_without_secret_id_the_first_line_names_the_bucket_and_the_test_pair_it_accepts():
    def only_the_test_pair(url: str) -> None:
        sdk(url, "AKIDtest", "test-secret-key").put_object(Bucket=BUCKET, Key="a.png", Body=b"x")
        with pytest.raises(CosServiceError) as refused:
            sdk(url, "AKIDsomeoneelse", "any-key").head_object(Bucket=BUCKET, Key="a.png")
        assert refused.value.get_status_code() in (401, 403)

    line = first_line_of(["--bucket", BUCKET], only_the_test_pair)
    assert line.startswith("emulator listening on http://127.0.0.1:"), line
    assert f"serving bucket {BUCKET};" in line
    assert "accepts only the test credentials SecretId AKIDtest / SecretKey test-secret-key" in line


def test_with_secret_id_the_first_line_names_it_and_never_the_key():
    line = first_line_of(["--secret-id", "AKIDmine", "--secret-key", "my-secret-key", "--bucket", BUCKET,
                          "--bucket", "other-1250000000"])
    assert "serving buckets examplebucket-1250000000, other-1250000000;" in line
    assert "accepts only SecretId AKIDmine" in line and "my-secret-key" not in line


def test_without_a_bucket_the_first_line_says_how_to_make_one():
    assert "serving no bucket yet (--bucket NAME creates one)" in first_line_of([])
