"""The bucket lifecycle rules that bound the state under STATE_PREFIX (leases, manifests, coalesced uploads).

PUT Bucket lifecycle replaces the whole configuration (cloud.tencent.com/document/api/436/8280), so we read it
first (GET Bucket lifecycle, 436/8278: a bucket without one answers 404 NoSuchLifecycleConfiguration), keep every
rule that is not ours as the SDK read it, and add or replace ours by ID. Calls: qcloud_cos CosS3Client
get_bucket_lifecycle / put_bucket_lifecycle.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from pydantic import BaseModel, Field

from deploy.scf_api import NETWORK_FIX, CredentialsRejectedError, DeployError, credentials_from
from deploy.spec import AppSpec, SpecError
from lib.config import ENV_NAMES, Settings
from lib.credentials import REJECTED, rejected

# Longer than the longest lease (LEASE_SECONDS <= 1 day), so only lapsed claims ever expire.
LEASE_DAYS = 2
# Far beyond anything that reads a manifest: CI reads it when the job runs (minutes after the upload), SCF's
# redeliveries stop after msgTTL (6 hours) and rewrite it anyway; docs/reliability.md gives the reasoning.
MANIFEST_DAYS = 30
# Coalescing mode's records, late markers and ledgers (lib/upload_state.py): kept as long as the manifests they name.
UPLOADS_DAYS = MANIFEST_DAYS
# The inventory reports the deploy has COS deliver under STATE_PREFIX + inventory/ (deploy/inventory.py), when a rule
# reads one: a rule takes the newest report within a day of its delivery (trigger or timer fallback) and never an
# older one, so two weeks leaves room to look at a report by hand after an outage. Each daily report lists the whole
# bucket, so without this rule they pile up (gigabytes a day for a bucket of 100 million objects).
INVENTORY_DAYS = 14
RULE_IDS = ("autopilot-leases", "autopilot-manifests", "autopilot-uploads")
INVENTORY_RULE_ID = "autopilot-inventory"
OUR_IDS = RULE_IDS + (INVENTORY_RULE_ID,)
NO_CONFIG = "NoSuchLifecycleConfiguration"
FIX_PERMISSION = ("the deploy credentials lack cos:{action}: allow cos:GetBucketLifecycle and cos:PutBucketLifecycle on "
                  "qcs::cos:{region}:uid/<appid>:{bucket}/* for the operator's sub-account (the function role does "
                  "not need them), then run `python -m deploy lifecycle` again")
FIX_BY_CODE = {
    "AccessDenied": FIX_PERMISSION,
    "NoSuchBucket": "check COS_BUCKET (BucketName-APPID) and COS_REGION in .env: the bucket must exist there",
    **REJECTED,
}

Rule = Dict[str, Any]


class LifecycleTarget(NamedTuple):
    """The bucket and state prefix the functions are deployed with, and whether the deploy keeps an inventory there."""

    bucket: str
    region: str
    state_prefix: str
    inventory: bool = False


def desired_rules(state_prefix: str, inventory: bool = False) -> List[Rule]:
    """Our rules in the shape get_bucket_lifecycle returns (values as strings), so equal means unchanged."""
    reports = [{"ID": INVENTORY_RULE_ID, "Filter": {"Prefix": f"{state_prefix}inventory/"}, "Status": "Enabled",
                "Expiration": {"Days": str(INVENTORY_DAYS)}}] if inventory else []
    return [{"ID": RULE_IDS[0], "Filter": {"Prefix": f"{state_prefix}leases/"}, "Status": "Enabled",
             "Expiration": {"Days": str(LEASE_DAYS)}},
            {"ID": RULE_IDS[1], "Filter": {"Prefix": f"{state_prefix}manifests/"}, "Status": "Enabled",
             "Expiration": {"Days": str(MANIFEST_DAYS)}},
            {"ID": RULE_IDS[2], "Filter": {"Prefix": f"{state_prefix}uploads/"}, "Status": "Enabled",
             "Expiration": {"Days": str(UPLOADS_DAYS)}}] + reports


def target_of(app: AppSpec) -> LifecycleTarget:
    """The bucket and STATE_PREFIX from serverless.yml's environments; every function must agree on them."""
    default_prefix = Settings.model_fields["state_prefix"].default
    found = {LifecycleTarget(f.environment.get(ENV_NAMES["bucket"], ""),
                             f.environment.get(ENV_NAMES["region"]) or app.region,
                             f.environment.get(ENV_NAMES["state_prefix"]) or default_prefix)
             for f in app.functions}
    if len(found) != 1 or not next(iter(found)).bucket:
        raise SpecError(f"functions' COS_BUCKET/COS_REGION/STATE_PREFIX {sorted(found)}: the lifecycle rules need "
                        "one bucket and one STATE_PREFIX for all functions; set them the same in serverless.yml")
    return found.pop()


class LifecyclePlan(BaseModel):
    """What apply does to the bucket's lifecycle configuration."""

    target: LifecycleTarget
    current: List[Rule] = Field(default_factory=list)
    wanted: List[Rule] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.current != self.wanted

    def describe(self) -> str:
        """The plan's one line (empty when unchanged)."""
        if not self.changed:
            return ""
        ours = {r["ID"]: r for r in self.current if r.get("ID") in OUR_IDS}
        parts = [f"{'update' if r['ID'] in ours else 'create'} {r['ID']} ({r['Filter']['Prefix']} after "
                 f"{r['Expiration']['Days']} days)" for r in self.wanted if r["ID"] in OUR_IDS and ours.get(r["ID"]) != r]
        kept = len([r for r in self.wanted if r.get("ID") not in OUR_IDS])
        return (f"~ bucket {self.target.bucket}: lifecycle {', '.join(parts)}"
                f"{f'; {kept} other rule(s) kept' if kept else ''}")


class CosBucketApi:
    """One bucket-configuration API (GET/PUT) through the official COS SDK, with errors naming the bucket and the fix.

    Subclasses name the codes that mean "none configured" (ABSENT) and the permission fix (FIX_PERMISSION)."""

    ABSENT: Dict[str, Tuple[str, ...]] = {}
    FIX_PERMISSION = FIX_PERMISSION

    def __init__(self, target: Any, client: Any):
        self.target, self.client = target, client

    def _call(self, action: str, call: Callable[[], Any]) -> Any:
        from qcloud_cos.cos_exception import CosClientError, CosServiceError

        try:
            return call()
        except CosServiceError as exc:
            code = exc.get_error_code()
            if code in self.ABSENT.get(action, ()):
                return None
            fixes = {**FIX_BY_CODE, "AccessDenied": self.FIX_PERMISSION}
            fix = fixes.get(code, self.FIX_PERMISSION if exc.get_status_code() == 403 else
                            "see COS's error codes (cloud.tencent.com/document/product/436/7730)")
            error = CredentialsRejectedError if rejected(code) else DeployError
            raise error(f"{action} on bucket {self.target.bucket} ({self.target.region}) failed: "
                        f"{exc.get_status_code()} {code}: {exc.get_error_msg()}. Fix: "
                        + fix.format(action=action, region=self.target.region, bucket=self.target.bucket)) from None
        except CosClientError as exc:
            raise DeployError(f"{action} on bucket {self.target.bucket} ({self.target.region}) failed: {exc}. "
                              f"Fix: {NETWORK_FIX.format(region=self.target.region)}") from None


class CosLifecycle(CosBucketApi):
    """GET/PUT Bucket lifecycle."""

    ABSENT = {"GetBucketLifecycle": (NO_CONFIG,)}

    def rules(self) -> List[Rule]:
        """The bucket's rules as the SDK parsed them; [] when it has no lifecycle configuration."""
        data = self._call("GetBucketLifecycle", lambda: self.client.get_bucket_lifecycle(Bucket=self.target.bucket))
        return list((data or {}).get("Rule") or [])

    def put(self, rules: List[Rule]) -> None:
        self._call("PutBucketLifecycle", lambda: self.client.put_bucket_lifecycle(
            Bucket=self.target.bucket, LifecycleConfiguration={"Rule": rules}))


def cos_client(region: str, environ: Mapping[str, str]) -> Any:
    """A CosS3Client signed with the deploy credentials (the same keys the SCF calls use)."""
    from qcloud_cos import CosConfig, CosS3Client

    secret_id, secret_key, token = credentials_from(environ)
    return CosS3Client(CosConfig(Region=region, SecretId=secret_id, SecretKey=secret_key, Token=token, Scheme="https"))


def cos_lifecycle(target: LifecycleTarget, environ: Mapping[str, str]) -> CosLifecycle:
    return CosLifecycle(target, cos_client(target.region, environ))


def merged(current: List[Rule], state_prefix: str, inventory: bool = False) -> List[Rule]:
    """Every foreign rule untouched and in place; ours replaced where they were, or appended. A rule that no longer
    has a reason (autopilot-inventory once no rule reads an inventory) is kept as it is: harmless, and the reports
    it expires may still be there."""
    ours = {r["ID"]: r for r in desired_rules(state_prefix, inventory)}
    out = [ours.pop(r["ID"]) if r.get("ID") in ours else r for r in current]
    return out + list(ours.values())


def plan_lifecycle(api: CosLifecycle) -> LifecyclePlan:
    current = api.rules()
    return LifecyclePlan(target=api.target, current=current,
                         wanted=merged(current, api.target.state_prefix, api.target.inventory))


def put_if_changed(api: Any, plan: Any, what: str, action: str, applied: str,
                   changing: Optional[List[str]] = None) -> str:
    """PUT a bucket subresource's merged plan only when it differs (PUT replaces it whole); the summary line."""
    if not plan.changed:
        return f"bucket {plan.target.bucket}: {what} unchanged"
    api.put(plan.wanted)
    if changing is not None:
        changing.append(action)
    return f"bucket {plan.target.bucket}: {what} applied ({applied})"


def apply_lifecycle(api: CosLifecycle, plan: LifecyclePlan, changing: Optional[List[str]] = None) -> str:
    """PUT the merged configuration only when it differs; returns the summary line."""
    ids = [r["ID"] for r in desired_rules(plan.target.state_prefix, plan.target.inventory)]
    return put_if_changed(api, plan, "lifecycle", "PutBucketLifecycle", ", ".join(ids), changing)
