"""The COS inventory configuration the deploy keeps on the bucket when a rule takes its objects from inventory (issue 24).

Wire facts (sources read 2026-12-07; tencentyun/intlcloud-documents yehe_doc/基础存储服务/对象存储/API 文档/Bucket 接口/
清单（inventory）/, the same text as cloud.tencent.com/document/product/436/33707 and 436/33705):
- PUT Bucket inventory, `PUT /?inventory&id=<id>` (action cos:PutBucketInventory, 436/33707 授权说明): the body is one
  `<InventoryConfiguration>` (Id = the id parameter, IsEnabled, IncludedObjectVersions All|Current, Schedule/Frequency
  Daily|Weekly, Destination/COSBucketDestination {Bucket `qcs::cos:<region>::<bucket-appid>`, Prefix, Format CSV,
  AccountId and Encryption optional}, optional Filter and OptionalFields/Field (Size, LastModifiedDate, ETag,
  StorageClass, ...)). A bucket holds up to 1,000 configurations, each addressed by its own id (PUT, GET and DELETE
  all take `id`), so a PUT of ours leaves the others as they are; unlike lifecycle and policy there is no
  whole-bucket document to merge (inference from the per-id API: the page does not say it in words).
- GET Bucket inventory, `GET /?inventory&id=<id>` (action cos:GetBucketInventory, 436/33705): the same XML back. The
  code for an id that does not exist is not published; S3's is NoSuchConfiguration, so any 404 other than NoSuchBucket
  means "absent" here (inference). The GET sample answers AccountId 1250000000 where the PUT sample sent 100000000001,
  so AccountId is not compared; a Prefix read back with the trailing '/' COS says it appends counts as the same.
- Who writes the report: the overview's "Configuring inventory via APIs" (436/30622) has COS assume the CAM role
  COS_QcsRole (trust `"service": "cos.cloud.tencent.com"`, policy QcloudCOSFullAccess); the console asks for its
  "Access authorization" switch first (console guide 436/30624; that it grants the same is inference). The PUT page also says the destination needs
  "a bucket policy", but no page we read publishes that statement's principal or action, so the deploy writes none:
  it names the role instead (docs/deploy.md). Our state-protection deny (deploy/bucket_policy.py) names only
  anonymous users and sub-accounts (uploaders_from refuses any other principal), so it cannot deny COS's role.
- SDK: qcloud_cos CosS3Client.put_bucket_inventory / get_bucket_inventory, dict form of demo/bucket_inventory.py. The
  SDK sets InventoryConfiguration['Id'] on the dict it is given, and get_bucket_inventory raises KeyError for a
  configuration without OptionalFields (cos_client.py): we pass a copy, and read that KeyError as "ours differs".
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from pydantic import BaseModel, Field

from deploy.lifecycle import CosBucketApi, LifecycleTarget, cos_client, target_of
from deploy.spec import AppSpec, SpecError
from lib.config import ENV_NAMES, parse_timer_argument
from lib.errors import ConfigError

# Read from serverless.yml's environments and timer arguments, before any Settings exist (as target_of reads them).
INPUT_SOURCE = ENV_NAMES["input_source"]
INVENTORY_ID = ENV_NAMES["inventory_id"]
SOURCES = ("prefix", "inventory")
# PUT Bucket inventory, request parameter id: "a-z, A-Z, 0-9, -, _, ." (436/33707); 64 is the contract's bound.
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
FOLDER = "inventory"
FREQUENCY = "Daily"
FORMAT = "CSV"
VERSIONS = "Current"
# What the rules filter on: Size (ImageInspect's size limit), LastModifiedDate (the window), ETag and StorageClass
# (reported); Appid, Bucket and Key are always there (console guide 436/30624).
OPTIONAL_FIELDS = ("Size", "LastModifiedDate", "ETag", "StorageClass")
MANIFEST_CHECKSUM = "manifest.checksum"
# A deploy-time variable (.env or the environment, like UPLOADER_PRINCIPALS), not a function setting: false means the
# operator keeps the configurations named by INVENTORY_ID; the deploy then only reads and checks them.
MANAGED = "INVENTORY_MANAGED"
FIX_PERMISSION = ("the deploy credentials lack cos:{action}: allow cos:GetBucketInventory and cos:PutBucketInventory "
                  "on qcs::cos:{region}:uid/<appid>:{bucket}/* for the operator's sub-account (436/33707, 436/33705; "
                  "the function role needs only cos:GetBucketInventory), then run `python -m deploy inventory` again")
ROLE_NOTE = ("COS writes inventory reports as the CAM role COS_QcsRole (trust: service cos.cloud.tencent.com, "
             "policy QcloudCOSFullAccess; cloud.tencent.com/document/product/436/33702 'Configuring inventory via "
             "APIs'): create it once if this account has never enabled inventory in the console")

Configuration = Dict[str, Any]


class InventoryTarget(NamedTuple):
    """The bucket, its STATE_PREFIX, the inventory ids the rules read (empty: none), and whether the deploy keeps them."""

    bucket: str
    region: str
    state_prefix: str
    ids: Tuple[str, ...]
    managed: bool = True

    @property
    def destination_prefix(self) -> str:
        """`<STATE_PREFIX>inventory`, without a trailing slash like every published sample (436/33707)."""
        return f"{self.state_prefix}{FOLDER}"

    @property
    def destination_bucket(self) -> str:
        return f"qcs::cos:{self.region}::{self.bucket}"

    def report_folder(self, inventory_id: str, prefix: Optional[str] = None) -> str:
        """Where the reports of one id land: `<prefix>/<appid>/<bucket without -appid>/<id>/` (overview 436/30622)."""
        name, _, appid = self.bucket.rpartition("-")
        lead = (self.destination_prefix if prefix is None else prefix).strip("/")
        return f"{lead + '/' if lead else ''}{appid}/{name}/{inventory_id}/"


def _source(value: str, where: str) -> str:
    source = (value or "prefix").strip()
    if source not in SOURCES:
        raise SpecError(f"{where} {INPUT_SOURCE}={value!r}: must be prefix or inventory. Fix: set it to inventory "
                        f"(with {INVENTORY_ID}) or leave it unset")
    return source


def _inventory_id(value: str, where: str) -> str:
    if not value:
        raise SpecError(f"{where} {INPUT_SOURCE}=inventory but {INVENTORY_ID} is not set: the deploy keeps the "
                        f"inventory configuration with that id. Fix: set {INVENTORY_ID} (1-64 of a-z A-Z 0-9 - _ .) "
                        "in serverless.yml's environments or in the same timer argument")
    if not _ID.fullmatch(value):
        raise SpecError(f"{where} {INVENTORY_ID}={value!r}: an inventory id is 1-64 of a-z A-Z 0-9 - _ . "
                        "(PUT Bucket inventory, 436/33707). Fix: choose such an id, e.g. autopilot-daily")
    return value


def inventory_ids_of(app: AppSpec) -> Tuple[str, ...]:
    """Every INVENTORY_ID a rule reads: the functions' own (INPUT_SOURCE=inventory) and each timer argument's."""
    found: List[str] = []
    env_of = {f.key: f.environment for f in app.functions}
    for func in app.functions:
        where = f"functions.{func.key}.environments:"
        if _source(func.environment.get(INPUT_SOURCE, ""), where) == "inventory":
            found.append(_inventory_id(func.environment.get(INVENTORY_ID, ""), where))
    for trigger in (t for t in app.triggers if t.type == "timer" and t.function in env_of):
        where = f"timer {trigger.name} argument:"
        try:
            overrides = parse_timer_argument(trigger.custom_argument or "")
        except ConfigError as exc:
            raise SpecError(f"{where} {'; '.join(exc.problems)}") from None
        env = env_of[trigger.function]
        if _source(overrides.get(INPUT_SOURCE, env.get(INPUT_SOURCE, "")), where) == "inventory":
            found.append(_inventory_id(overrides.get(INVENTORY_ID, env.get(INVENTORY_ID, "")), where))
    return tuple(dict.fromkeys(found))


def inventory_target_of(app: AppSpec, environ: Mapping[str, str]) -> InventoryTarget:
    """The bucket and STATE_PREFIX every function agrees on (as for the lifecycle rules), the ids in use, and
    INVENTORY_MANAGED (.env or the environment; default true)."""
    base: LifecycleTarget = target_of(app)
    managed = (environ.get(MANAGED) or "true").strip().lower()
    if managed not in ("true", "false"):
        raise SpecError(f"{MANAGED}={environ.get(MANAGED)!r}: must be true (the deploy keeps each INVENTORY_ID's "
                        "configuration) or false (you keep it; the deploy only checks it). Fix: set true or false")
    return InventoryTarget(base.bucket, base.region, base.state_prefix, inventory_ids_of(app), managed == "true")


def desired_configuration(target: InventoryTarget) -> Configuration:
    """Ours in the SDK's dict form (demo/bucket_inventory.py); the SDK adds Id. Encryption is left out (optional)."""
    return {"Destination": {"COSBucketDestination": {"Bucket": target.destination_bucket, "Format": FORMAT,
                                                     "Prefix": target.destination_prefix}},
            "IsEnabled": "true", "IncludedObjectVersions": VERSIONS,
            "OptionalFields": {"Field": list(OPTIONAL_FIELDS)}, "Schedule": {"Frequency": FREQUENCY}}


def _listed(value: Any) -> List[str]:
    # xml_to_dict gives a str for one <Field> and a list for several (research note §1.4).
    return [str(v) for v in value] if isinstance(value, list) else [] if value is None else [str(value)]


def canonical(config: Optional[Configuration]) -> Optional[Tuple[Any, ...]]:
    """What a configuration means, as GET returns it or as we PUT it; None when there is none."""
    if config is None:
        return None
    dest = ((config.get("Destination") or {}).get("COSBucketDestination") or {})
    fields = (config.get("OptionalFields") or {}).get("Field")
    schedule = config.get("Schedule") or {}
    return (str(config.get("IsEnabled", "")).lower(), str(config.get("IncludedObjectVersions", "")),
            json.dumps(schedule, sort_keys=True), str(dest.get("Bucket", "")), str(dest.get("Format", "")),
            str(dest.get("Prefix") or "").rstrip("/"), "Encryption" in dest and dest["Encryption"] is not None,
            json.dumps(config.get("Filter") or None, sort_keys=True), tuple(sorted(_listed(fields))))


class InventoryPlan(BaseModel):
    """What apply does to the bucket's inventory configurations (one per id; others are never read or written)."""

    target: InventoryTarget
    current: Dict[str, Optional[Configuration]] = Field(default_factory=dict)
    wanted: Configuration = Field(default_factory=dict)
    warnings: List[str] = Field(default_factory=list)

    @property
    def changing_ids(self) -> List[str]:
        if not self.target.managed:
            return []
        return [i for i in self.target.ids if canonical(self.current.get(i)) != canonical(self.wanted)]

    @property
    def changed(self) -> bool:
        return bool(self.changing_ids)

    def unchanged(self) -> str:
        """The line for a plan without changes."""
        ids = ", ".join(self.target.ids)
        if not ids:
            return "No inventory: no rule has INPUT_SOURCE=inventory (functions' environments or timer arguments)."
        if not self.target.managed:
            return f"No changes: {MANAGED}=false, so inventory {ids} is yours to keep; the deploy only checked it."
        return f"No changes: bucket {self.target.bucket} has inventory {ids} already."

    def describe(self) -> str:
        """The plan's one line (empty when unchanged)."""
        if not self.changed:
            return ""
        what = (f"{FREQUENCY.lower()} {FORMAT} of current versions to {self.target.destination_prefix}, with "
                f"{', '.join(OPTIONAL_FIELDS)}")
        parts = [f"{'update' if self.current.get(i) is not None else 'create'} {i}" for i in self.changing_ids]
        return f"~ bucket {self.target.bucket}: inventory {', '.join(parts)} ({what})"


class CosInventory(CosBucketApi):
    """GET/PUT Bucket inventory for one id at a time."""

    FIX_PERMISSION = FIX_PERMISSION

    def configuration(self, inventory_id: str) -> Optional[Configuration]:
        """The configuration as the SDK parsed it; None when the bucket has no such id."""
        from qcloud_cos.cos_exception import CosServiceError

        def get() -> Optional[Configuration]:
            try:
                return self.client.get_bucket_inventory(Bucket=self.target.bucket, Id=inventory_id)
            except KeyError:
                return {"Id": inventory_id, "OptionalFields": None}
            except CosServiceError as exc:
                if exc.get_status_code() == 404 and exc.get_error_code() != "NoSuchBucket":
                    return None
                raise

        return self._call("GetBucketInventory", get)

    def put(self, inventory_id: str, config: Configuration) -> None:
        self._call("PutBucketInventory", lambda: self.client.put_bucket_inventory(
            Bucket=self.target.bucket, Id=inventory_id, InventoryConfiguration=copy.deepcopy(config)))


def cos_inventory(target: InventoryTarget, environ: Mapping[str, str]) -> CosInventory:
    return CosInventory(target, cos_client(target.region, environ))


def _destination(config: Optional[Configuration]) -> Tuple[str, Optional[str]]:
    dest = ((config or {}).get("Destination") or {}).get("COSBucketDestination") or {}
    return str(dest.get("Bucket") or ""), None if config is None else str(dest.get("Prefix") or "")


def trigger_warnings(app: AppSpec, target: InventoryTarget, current: Mapping[str, Optional[Configuration]]) -> List[str]:
    """One warning per inventory id no COS trigger of submit covers (the timer fallback still runs it)."""
    watched = []
    for trigger in (t for t in app.triggers if t.type == "cos" and t.function == "submit"):
        filt = (json.loads(trigger.desc).get("filter") or {})
        if filt.get("Suffix") == MANIFEST_CHECKSUM:
            watched.append(filt.get("Prefix") or "")
    out = []
    for i in target.ids:
        if not target.managed and current.get(i) is None:
            continue  # unmanaged_warnings says it does not exist
        prefix = target.destination_prefix if target.managed else (_destination(current.get(i))[1] or "")
        folder = target.report_folder(i, prefix)
        if not any(folder.startswith(p) for p in watched):
            lead = f"{prefix.strip('/')}/" if prefix.strip("/") else folder
            out.append(f"no COS trigger of submit watches {folder}*{MANIFEST_CHECKSUM}: inventory {i} is processed "
                       f"only by its timer rule. Fix: add the trigger with filter prefix {lead} and "
                       f"suffix {MANIFEST_CHECKSUM} to serverless.yml (docs/deploy.md, 'Inventory')")
    return out


def unmanaged_warnings(target: InventoryTarget, current: Mapping[str, Optional[Configuration]]) -> List[str]:
    """With INVENTORY_MANAGED=false: what in the operator's own configurations the rules cannot work with."""
    out = []
    for i in target.ids:
        config = current.get(i)
        if config is None:
            out.append(f"inventory {i} does not exist on bucket {target.bucket} and {MANAGED}=false: its rule will "
                       f"report a missing inventory. Fix: create it, or unset {MANAGED} so the deploy keeps it")
            continue
        bucket, prefix = _destination(config)
        fields = set(_listed((config.get("OptionalFields") or {}).get("Field")))
        if bucket != target.destination_bucket:
            out.append(f"inventory {i} delivers to {bucket!r}, not {target.destination_bucket}: the rules read "
                       "reports in their own bucket only. Fix: set its destination to this bucket")
        if not (prefix or "").startswith(target.state_prefix):
            out.append(f"inventory {i} delivers under {prefix!r}, outside STATE_PREFIX={target.state_prefix}: the "
                       "function's role may not list or read it there. Fix: add GetObject on that prefix and the "
                       "prefix to the GetBucket condition of the role's policy (docs/deploy.md, 'Inventory')")
        missing = [f for f in OPTIONAL_FIELDS if f not in fields]
        if missing:
            out.append(f"inventory {i} lacks the optional field(s) {', '.join(missing)} the rules filter on. Fix: "
                       "add them to its OptionalFields")
    return out


def plan_inventory(api: CosInventory, app: Optional[AppSpec] = None) -> InventoryPlan:
    """GET each id in use (nothing at all when no rule uses inventory)."""
    target: InventoryTarget = api.target
    plan = InventoryPlan(target=target, current={i: api.configuration(i) for i in target.ids},
                         wanted=desired_configuration(target))
    plan.warnings = [] if target.managed else unmanaged_warnings(target, plan.current)
    plan.warnings += trigger_warnings(app, target, plan.current) if app is not None else []
    if any(plan.current.get(i) is None for i in plan.changing_ids):
        plan.warnings.append(ROLE_NOTE)
    return plan


def apply_inventory(api: CosInventory, plan: InventoryPlan, changing: Optional[List[str]] = None) -> str:
    """PUT ours for each id whose configuration differs; returns the summary line ("" when no rule uses inventory)."""
    if not plan.target.ids:
        return ""
    if not plan.target.managed:
        return f"bucket {plan.target.bucket}: inventory {', '.join(plan.target.ids)} kept by you ({MANAGED}=false)"
    if not plan.changed:
        return f"bucket {plan.target.bucket}: inventory unchanged"
    ids = plan.changing_ids
    for inventory_id in ids:
        api.put(inventory_id, plan.wanted)
        if changing is not None:
            changing.append("PutBucketInventory")
    return f"bucket {plan.target.bucket}: inventory applied ({', '.join(ids)})"
