"""A person's credential files in a private HOME, written as Tencent's own tools write them (lib/credentials.py cites
where each lives and what it holds); `ops` and `deploy` tests share them."""
from __future__ import annotations

import json
from pathlib import Path


def write_tccli(home: Path, profile: str, secret_id: str, secret_key: str) -> Path:
    """~/.tccli/<profile>.credential, the JSON `tccli configure --profile <profile>` writes."""
    path = home / ".tccli" / f"{profile}.credential"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"secretId": secret_id, "secretKey": secret_key}), encoding="utf-8")
    return path


def write_sdk_ini(home: Path, profile: str, secret_id: str, secret_key: str) -> Path:
    """~/.tencentcloud/credentials, tencentcloud-sdk-python's ProfileCredential file, one [profile] section."""
    path = home / ".tencentcloud" / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[{profile}]\nsecret_id = {secret_id}\nsecret_key = {secret_key}\n", encoding="utf-8")
    return path
