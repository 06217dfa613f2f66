"""Coalescing mode's setting: UPLOAD_BATCH_SECONDS (the rules themselves run over the emulator in
tests/emulated/test_coalesce.py)."""
from __future__ import annotations

import pytest

from lib.config import load_settings
from lib.errors import ConfigError
from tests.support.settings import BUCKET


@pytest.mark.parametrize(("raw", "ok"), [("0", True), ("10", True), ("3600", True), ("9", False), ("3601", False),
                                         ("-1", False), ("1m", False)])
def test_upload_batch_seconds_is_0_or_10_to_3600(raw, ok):
    env = {"COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "UPLOAD_BATCH_SECONDS": raw}
    if ok:
        assert load_settings(env).upload_batch_seconds == int(raw)
    else:
        with pytest.raises(ConfigError, match=f"UPLOAD_BATCH_SECONDS={raw!r}"):
            load_settings(env)
