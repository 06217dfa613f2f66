"""A person's credentials, for every command run at a terminal (`python -m ops`, `python -m deploy`): the environment
first, then the files Tencent's own command-line tools read; and which answers of COS, CI and SCF mean the key was refused.

Never deployed (deploy/package.py OPERATOR_ONLY): a function gets its role's keys from SCF, never from a file.

Published sources (read 2026-12-01):
- SCF injects TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY / TENCENTCLOUD_SESSIONTOKEN into a function's
  environment (docs/deploy.md); the functions read those.
- tencentcloud-sdk-python, tencentcloud/common/credential.py: EnvironmentVariableCredential reads
  TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY; ProfileCredential reads the INI file
  ~/.tencentcloud/credentials, else /etc/tencentcloud/credentials, section [default], keys secret_id / secret_key.
- tccli (TencentCloud/tencentcloud-cli, tccli/configure.py; https://cloud.tencent.com/document/product/440/34012):
  `tccli configure [--profile NAME]` writes JSON ~/.tccli/<profile>.credential with secretId / secretKey / token;
  the profile is --profile, else TCCLI_PROFILE, else "default".
- serverless-cloud-framework (`scf`, docs/guides/tencent-account.md): `scf deploy` logs in and writes
  TENCENT_SECRET_ID / TENCENT_SECRET_KEY / TENCENT_TOKEN into .env (docs/deploy.md §2).
- A refused key: the TencentCloud API 3.0 common error codes (SCF: cloud.tencent.com/document/api/583/30771)
  AuthFailure.SecretIdNotFound (密钥不存在), AuthFailure.InvalidSecretId, AuthFailure.SignatureFailure,
  AuthFailure.SignatureExpire, AuthFailure.TokenFailure; COS and CI ("403 Error for COS Access",
  cloud.tencent.com/document/product/436/40105): "If the signature uses an incorrect SecretId, COS will return
  InvalidAccessKeyId", a wrong clock RequestTimeTooSkewed, a wrong key SignatureDoesNotMatch.
"""
from __future__ import annotations

import configparser
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from lib.errors import ConfigError

SECRET_ID, SECRET_KEY, TOKEN = "TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"
# The same pair as tccli and tencentcloud-sdk-python spell it.
SDK_SECRET_ID, SDK_SECRET_KEY = "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"
# The names `scf deploy` (serverless-cloud-framework) writes into .env.
SCF_CLI_SECRET_ID, SCF_CLI_SECRET_KEY, SCF_CLI_TOKEN = "TENCENT_SECRET_ID", "TENCENT_SECRET_KEY", "TENCENT_TOKEN"
DEFAULT_PROFILE = "default"
ETC_CREDENTIALS = "/etc/tencentcloud/credentials"
# ops reads --env-file over the environment; deploy reads the .env beside serverless.yml under it.
ENVIRONMENT = "the environment / --env-file / .env"
_CHECK_KEYS = f"check {SECRET_ID} and {SECRET_KEY}"
# Answers that mean the service refused the key or its signature, not the request: nothing was done, and the fix is
# on this machine. Exit 2 in every command, like a key that is not there at all.
REJECTED: Dict[str, str] = {
    "AuthFailure.SecretIdNotFound": f"the SecretId is unknown (deleted, disabled, or copied with a space): "
                                    f"{_CHECK_KEYS}",
    "AuthFailure.InvalidSecretId": f"the SecretId is not an API key: {_CHECK_KEYS}",
    "AuthFailure.SignatureFailure": f"the signature does not match: {_CHECK_KEYS} (no spaces around them)",
    "AuthFailure.SignatureExpire": "the signature expired: set this machine's clock right (within five minutes)",
    "AuthFailure.TokenFailure": f"the session token was refused: {_CHECK_KEYS} and {TOKEN} (temporary keys expire)",
    "InvalidAccessKeyId": f"the SecretId is unknown (deleted, disabled, or copied with a space): {_CHECK_KEYS}",
    "SignatureDoesNotMatch": f"the signature does not match: {_CHECK_KEYS}, and this machine's clock",
    "RequestTimeTooSkewed": "the signature's time is off: set this machine's clock right",
}


@dataclass(frozen=True)
class Found:
    """Credentials as the settings' variables, and a words-only description of where they came from."""

    where: str
    values: Dict[str, str]


def profile_name(environ: Mapping[str, str], flag: Optional[str] = None) -> str:
    return flag or environ.get("TCCLI_PROFILE") or DEFAULT_PROFILE


def credentials_for(environ: Mapping[str, str], profile_flag: Optional[str] = None) -> Found:
    """The one lookup every command uses: environ's HOME (else the user's) and --profile (else TCCLI_PROFILE)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    return find_credentials(environ, home, profile_name(environ, profile_flag))


def with_credentials(environ: Mapping[str, str], found: Found) -> Dict[str, str]:
    """environ with only the found credentials in it, under the names the settings read (no stale token of another)."""
    names = {SECRET_ID, SECRET_KEY, TOKEN, SDK_SECRET_ID, SDK_SECRET_KEY, SCF_CLI_SECRET_ID, SCF_CLI_SECRET_KEY,
             SCF_CLI_TOKEN}
    return {**{k: v for k, v in environ.items() if k not in names}, **found.values}


def rejected(code: str) -> bool:
    """Whether a COS, CI or SCF error code means the credentials were refused (REJECTED)."""
    return code in REJECTED


def find_credentials(environ: Mapping[str, str], home: str, profile: str, etc: str = ETC_CREDENTIALS) -> Found:
    """The first complete pair in the documented order; a half-set pair is an error, not skipped.

    Raises ConfigError naming every place looked at when nothing is found."""
    looked: List[str] = []
    for id_name, key_name, token_name, where in (
            (SECRET_ID, SECRET_KEY, TOKEN, ENVIRONMENT),
            (SDK_SECRET_ID, SDK_SECRET_KEY, None, f"{ENVIRONMENT} (tccli's names)"),
            (SCF_CLI_SECRET_ID, SCF_CLI_SECRET_KEY, SCF_CLI_TOKEN, f"{ENVIRONMENT} (`scf deploy`'s names)")):
        pair = _pair(environ.get(id_name, ""), environ.get(key_name, ""), id_name, key_name, where)
        looked.append(f"{id_name} and {key_name} in {where}")
        if pair is not None:
            token = environ.get(token_name, "") if token_name else ""
            return Found(f"{id_name}/{key_name} from {where}", _values(*pair, token))
    tccli = os.path.join(home, ".tccli", f"{profile}.credential")
    looked.append(f"{tccli} (tccli configure --profile {profile})")
    found = _from_tccli(tccli)
    if found is not None:
        return found
    for path in (os.path.join(home, ".tencentcloud", "credentials"), etc):
        looked.append(f"{path} [{profile}]")
        found = _from_ini(path, profile)
        if found is not None:
            return found
    raise ConfigError(["no credentials found; looked for, in this order: " + "; ".join(looked)
                       + f". Set {SECRET_ID} and {SECRET_KEY} (and {TOKEN} for temporary keys), or run "
                         "`tccli configure`"])


def _pair(secret_id: str, secret_key: str, id_name: str, key_name: str, where: str) -> Optional[Tuple[str, str]]:
    if secret_id and secret_key:
        return secret_id, secret_key
    if secret_id or secret_key:
        given, missing = (id_name, key_name) if secret_id else (key_name, id_name)
        raise ConfigError([f"{given} is set but {missing} is not ({where}); set both"])
    return None


def _values(secret_id: str, secret_key: str, token: str = "") -> Dict[str, str]:
    values = {SECRET_ID: secret_id, SECRET_KEY: secret_key}
    if token:
        values[TOKEN] = token
    return values


def _from_tccli(path: str) -> Optional[Found]:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{path} cannot be read as tccli's JSON credential file ({exc}); "
                           "rewrite it with `tccli configure`"]) from None
    data = data if isinstance(data, dict) else {}
    pair = _pair(str(data.get("secretId") or ""), str(data.get("secretKey") or ""), "secretId", "secretKey", path)
    return Found(path, _values(*pair, str(data.get("token") or ""))) if pair else None


def _from_ini(path: str, profile: str) -> Optional[Found]:
    if not os.path.isfile(path):
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error) as exc:
        raise ConfigError([f"{path} is not an INI credentials file ({type(exc).__name__}); "
                           "write [default] with secret_id = … and secret_key = …"]) from None
    if not parser.has_section(profile):
        return None
    section = parser[profile]
    pair = _pair(section.get("secret_id", "").strip().strip('"'), section.get("secret_key", "").strip().strip('"'),
                 "secret_id", "secret_key", f"{path} [{profile}]")
    return Found(f"{path} [{profile}]", _values(*pair)) if pair else None
