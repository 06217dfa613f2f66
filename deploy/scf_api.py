"""The SCF API 3.0 through the official SDK (tencentcloud-sdk-python-scf), with its errors made actionable.

Every call goes through ``ScfApi.call`` so a failure names the action, the resource and the fix. Error codes are
the SDK's ``tencentcloud/scf/v20180416/errorcodes.py`` and the common codes of the SCF API's error page
(cloud.tencent.com/document/api/583/30771); tests/deploy/test_scf_api.py checks each one here is published.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from lib.credentials import REJECTED, SECRET_ID, SECRET_KEY, TOKEN, credentials_for, rejected

# SCF API 3.0 endpoint (scf_client.py ScfClient._endpoint).
ENDPOINT = "scf.tencentcloudapi.com"


class DeployError(RuntimeError):
    """A deploy step failed; the message names the resource, what SCF answered and what to do."""


class CredentialsRejectedError(DeployError):
    """SCF or COS refused the deploy credentials (lib.credentials.REJECTED): nothing was done; exit 2."""


# The SDK raises this code when the request got no answer (tencentcloud/common/http/request.py: connection, DNS,
# timeout); lifecycle.py says the same for COS.
NETWORK_CODES = ("ClientNetworkError",)
NETWORK_FIX = "check the network, DNS, any HTTPS_PROXY and COS_REGION ({region}), then run the command again"


class ErrorKind(NamedTuple):
    """A family of API error codes and the fix a user can act on."""

    codes: Tuple[str, ...]
    fix: str


ERROR_KINDS: Dict[str, ErrorKind] = {
    "role": ErrorKind(
        ("ResourceNotFound.Role", "ResourceNotFound.RoleCheck", "InvalidParameter.RoleCheck",
         "InternalError.GetRoleError", "FailedOperation.CallRoleFailed"),
        "create the execution role in CAM (role entity: SCF, carrier scf.qcloud.com) with deploy/policy.json "
        "attached, and set AUTOPILOT_ROLE in .env to its name"),
    "service-role": ErrorKind(
        ("FailedOperation.QcsRoleNotFound",),
        "SCF's own service role SCF_QcsRole is not authorised: open the SCF console once and accept the "
        "authorisation prompt"),
    "permission": ErrorKind(
        ("UnauthorizedOperation", "UnauthorizedOperation.CAM", "AuthFailure.UnauthorizedOperation",
         "UnauthorizedOperation.Role", "UnauthorizedOperation.CreateTrigger", "UnauthorizedOperation.DeleteTrigger",
         "UnauthorizedOperation.UpdateFunctionCode"),
        "the deploy credentials lack this permission: attach QcloudSCFFullAccess (or a policy allowing the scf: "
        "action named above) to the sub-account, plus cam:PassRole on the execution role"),
    "credentials": ErrorKind(
        tuple(code for code in REJECTED if code.startswith("AuthFailure.")),
        "check TENCENTCLOUD_SECRETID/TENCENTCLOUD_SECRETKEY (no spaces around them, key not disabled) and that "
        "this machine's clock is right (signatures expire after five minutes)"),
    "region": ErrorKind(
        ("UnsupportedRegion", "UnsupportedOperation.Region", "UnsupportedOperation.NotSupportRegion",
         "UnauthorizedOperation.Region"),
        "set COS_REGION in .env to a region where SCF runs (e.g. ap-guangzhou, ap-shanghai); the functions "
        "must be in the bucket's region"),
    "quota": ErrorKind(
        ("LimitExceeded.Function", "LimitExceeded.Trigger", "LimitExceeded.FunctionVersions", "LimitExceeded",
         "LimitExceeded.MsgTTL", "LimitExceeded.RetryNum"),
        "a quota or limit is reached: delete unused functions, triggers or old versions (SCF console -> "
        "Versions), lower retryNum/msgTTL, or raise the quota in the SCF console"),
    "rate": ErrorKind(
        ("RequestLimitExceeded",),
        "the API's rate limit was hit: wait a minute and run the command again (apply is idempotent)"),
    "cos-trigger": ErrorKind(
        ("ResourceInUse.Cos",),
        "another function already has a COS trigger on this bucket whose prefix overlaps: remove it, or give "
        "this trigger a prefix that does not overlap"),
}
_KIND_OF = {code: kind for kind, info in ERROR_KINDS.items() for code in info.codes}


def translate(action: str, resource: str, code: str, message: str, region: str = "") -> DeployError:
    """The DeployError for an API error: what failed, SCF's own words, and the fix for its kind."""
    if rejected(code):
        return CredentialsRejectedError(f"{action} on {resource} failed: {code}: {message}. Fix: {REJECTED[code]}")
    if code in NETWORK_CODES:
        return DeployError(f"{action} on {resource} failed: no answer from {ENDPOINT} ({message}). "
                           f"Fix: {NETWORK_FIX.format(region=region)}")
    kind = _KIND_OF.get(code) or _KIND_OF.get(code.split(".")[0])
    fix = ERROR_KINDS[kind].fix if kind else "see SCF's error codes (cloud.tencent.com/document/api/583/30771)"
    return DeployError(f"{action} on {resource} failed: {code}: {message}. Fix: {fix}")


def credentials_from(environ: Mapping[str, str], profile: Optional[str] = None) -> Tuple[str, str, Optional[str]]:
    """The deploy keys, found as every command finds them (lib/credentials.py: environment, then tccli's files)."""
    values = credentials_for(environ, profile).values
    return values[SECRET_ID].strip(), values[SECRET_KEY].strip(), values.get(TOKEN) or None


Transport = Callable[[str, Dict[str, Any]], Dict[str, Any]]


def sdk_transport(region: str, environ: Optional[Mapping[str, str]] = None) -> Transport:
    """call(action, params) -> Response dict, signed TC3-HMAC-SHA256 by the official SDK."""
    from tencentcloud.common import credential
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.scf.v20180416.scf_client import ScfClient

    secret_id, secret_key, token = credentials_from(os.environ if environ is None else environ)
    profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=HttpProfile(endpoint=ENDPOINT, reqTimeout=60))
    client = ScfClient(credential.Credential(secret_id, secret_key, token), region, profile)

    def call(action: str, params: Dict[str, Any]) -> Dict[str, Any]:
        try:
            return client.call_json(action, params)["Response"]
        except TencentCloudSDKException as exc:
            raise ApiError(exc.get_code() or "ClientError", exc.get_message() or str(exc)) from None

    return call


class ApiError(Exception):
    """An error answer of the SCF API (code and message as SCF sent them)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class ScfApi:
    """SCF API calls for one region; ``changing`` records every call that changes something (for the summary)."""

    def __init__(self, transport: Transport, region: str):
        self.transport, self.region = transport, region
        self.changing: List[str] = []

    def call(self, action: str, resource: str, params: Dict[str, Any], changes: bool = False) -> Dict[str, Any]:
        try:
            response = self.transport(action, params)
        except ApiError as exc:
            raise translate(action, f"{resource} ({self.region})", exc.code, exc.message, self.region) from None
        if changes:
            self.changing.append(f"{action} {resource}")
        return response

    def find(self, action: str, resource: str, params: Dict[str, Any], missing: Tuple[str, ...]) -> Optional[Dict]:
        """A read that answers None when SCF says the resource does not exist."""
        try:
            return self.transport(action, params)
        except ApiError as exc:
            if exc.code in missing:
                return None
            raise translate(action, f"{resource} ({self.region})", exc.code, exc.message, self.region) from None
