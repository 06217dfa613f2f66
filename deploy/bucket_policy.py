"""The bucket policy statement that denies bucket writers STATE_PREFIX and REPORT_PREFIX (defence in depth, issue 22).

What the platform offers, and so what this writes (sources read 2026-12-07):
- A COS bucket policy may `deny` (access policy language, cloud.tencent.com/document/product/436/18023: effect is
  allow or an explicit deny), and an explicit deny wins over any allow in the writer's own CAM policies (CAM policy
  syntax, 598/10603). Its principals are root accounts, sub-accounts (`qcs::cam::uin/<owner>:uin/<sub>`) and
  anonymous users (`qcs::cam::anonymous:anonymous`); CAM says roles and federated users are "future" principals
  (598/10603 principal), and no condition key names the requester (CAM's general keys are qcs:current_time, qcs:ip,
  qcs:resource_tag, qcs:request_tag, 598/58420; COS adds IP, VPC, HTTPS, TLS, Host and request headers, 436/71306).
  So "everyone except the function's role" cannot be written: a deny for `qcs::cam::anyone:anyone` would deny the
  role too. We deny the principals that can write: anonymous users always, plus the uploaders the deployer names in
  UPLOADER_PRINCIPALS. The function's own checks (names derived from the rule, records filtered like live uploads,
  checkpoints checked against the CI job and the clock) are what hold; this statement only narrows who can try.
- PUT Bucket policy replaces the whole policy (api 436/8282), so we GET it first (436/8276; the SDK returns
  {'Policy': <json text>}), keep every statement that is not ours as it was read, replace ours or append it, and PUT
  only when the result differs. A bucket without a policy answers 404 NoSuchPolicy (documented for GET Bucket
  Policy on 436/139792); NoSuchBucketPolicy, S3's name, is accepted too (inference: the standard-bucket page names no
  code). Ours is the statement with our Sid, or, since COS may add its own Sid on read (terraform-provider-tencentcloud
  resource_tc_cos_bucket_policy.go removeSid: "the SDK automatically adds the Sid"), a deny with exactly our actions.
- Calls: qcloud_cos CosS3Client.get_bucket_policy / put_bucket_policy (cos-python-sdk-v5 cos_client.py, demo
  bucket_policy.py). We send the JSON text ourselves with its Content-MD5, as the PUT page's sample request shows.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from pydantic import BaseModel, Field

from deploy.lifecycle import CosBucketApi, cos_client, put_if_changed
from deploy.policy import check_prefix
from deploy.scf_api import DeployError
from deploy.spec import AppSpec, SpecError
from lib.config import ENV_NAMES, Settings
from lib.errors import ConfigError

SID = "autopilotDenyStateWrites"
ANONYMOUS = "qcs::cam::anonymous:anonymous"
ANYONE = "qcs::cam::anyone:anyone"
# Every way to create, replace or delete an object (COS policy guide 436/30580 lists the upload actions; PUT Object -
# Copy needs cos:PutObjectCopy on the target, 436/10881; POST ?delete is checked as cos:DeleteObject per key, 436/8289).
# AppendObject creates an object too (436/7741); its action name follows the API's name (inference).
WRITE_ACTIONS = ("name/cos:PutObject", "name/cos:PostObject", "name/cos:PutObjectCopy",
                 "name/cos:InitiateMultipartUpload", "name/cos:UploadPart", "name/cos:CompleteMultipartUpload",
                 "name/cos:AppendObject", "name/cos:DeleteObject")
NO_POLICY = ("NoSuchPolicy", "NoSuchBucketPolicy")
UPLOADERS = "UPLOADER_PRINCIPALS"
_SUB_ACCOUNT = re.compile(r"qcs::cam::uin/(\d+):uin/(\d+)")
FIX_PERMISSION = ("the deploy credentials lack cos:{action}: allow cos:GetBucketPolicy and cos:PutBucketPolicy on "
                  "qcs::cos:{region}:uid/<appid>:{bucket}/* for the operator's sub-account (the function role does "
                  "not need them), then run `python -m deploy state-policy` again")

Statement = Dict[str, Any]


class PolicyTarget(NamedTuple):
    """The bucket, the two prefixes the function writes, and the uploaders to keep out of them."""

    bucket: str
    region: str
    state_prefix: str
    report_prefix: str
    uploaders: Tuple[str, ...]

    @property
    def prefixes(self) -> List[str]:
        return list(dict.fromkeys((self.state_prefix, self.report_prefix)))

    @property
    def base(self) -> str:
        """The COS resource of the bucket's objects, without the key (436/18023 resource format)."""
        return f"qcs::cos:{self.region}:uid/{self.bucket.rsplit('-', 1)[1]}:{self.bucket}/"

    @property
    def resources(self) -> List[str]:
        return [f"{self.base}{p}*" for p in self.prefixes]


def uploaders_from(raw: str) -> Tuple[str, ...]:
    """The comma-separated sub-account principals of UPLOADER_PRINCIPALS, each checked."""
    out = []
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        match = _SUB_ACCOUNT.fullmatch(item)
        if item == ANYONE:
            raise SpecError(f"{UPLOADERS} holds {item!r}: a deny for everyone also denies the function's role, so "
                            "it could no longer write its state. Fix: name each uploading sub-account instead, "
                            "qcs::cam::uin/<owner uin>:uin/<sub-account uin>")
        if match is None:
            raise SpecError(f"{UPLOADERS} holds {item!r}, which is not a sub-account principal. Fix: write "
                            "qcs::cam::uin/<owner uin>:uin/<sub-account uin>, comma-separated (anonymous users "
                            "are always denied)")
        if match.group(1) == match.group(2):
            raise SpecError(f"{UPLOADERS} holds the root account {item!r}: a deny on the owner may reach the roles "
                            "it owns, the function's among them (inference). Fix: name sub-accounts only; the "
                            "root account is trusted by definition")
        out.append(item)
    return tuple(dict.fromkeys(out))


def policy_target_of(app: AppSpec, environ: Mapping[str, str]) -> PolicyTarget:
    """From serverless.yml's environments (every function must agree) and UPLOADER_PRINCIPALS (.env or environment)."""
    defaults = {f: Settings.model_fields[f].default for f in ("state_prefix", "report_prefix")}
    found = {(f.environment.get(ENV_NAMES["bucket"], ""), f.environment.get(ENV_NAMES["region"]) or app.region,
              f.environment.get(ENV_NAMES["state_prefix"]) or defaults["state_prefix"],
              f.environment.get(ENV_NAMES["report_prefix"]) or defaults["report_prefix"]) for f in app.functions}
    if len(found) != 1 or not next(iter(found))[0]:
        raise SpecError(f"functions' COS_BUCKET/COS_REGION/STATE_PREFIX/REPORT_PREFIX {sorted(found)}: the bucket "
                        "policy needs one bucket and one pair of prefixes for all functions; set them the same in "
                        "serverless.yml")
    bucket, region, state, report = found.pop()
    try:
        check_prefix(ENV_NAMES["state_prefix"], state)
        check_prefix(ENV_NAMES["report_prefix"], report)
    except ConfigError as exc:
        raise SpecError("; ".join(exc.problems)) from None
    return PolicyTarget(bucket, region, state, report, uploaders_from(environ.get(UPLOADERS, "")))


def desired_statement(target: PolicyTarget) -> Statement:
    """Ours, in the key casing GET Bucket policy returns (436/8276 example)."""
    return {"Sid": SID, "Effect": "deny", "Principal": {"qcs": [ANONYMOUS, *target.uploaders]},
            "Action": list(WRITE_ACTIONS), "Resource": target.resources}


def _lower(statement: Statement) -> Dict[str, Any]:
    # CAM's element names are lowercase in the console and capitalised in COS's own examples: read either.
    return {str(k).lower(): v for k, v in statement.items()} if isinstance(statement, dict) else {}


def _listed(value: Any) -> List[str]:
    return [str(v) for v in value] if isinstance(value, list) else [] if value is None else [str(value)]


def canonical(statement: Statement) -> Tuple[Any, ...]:
    """What a statement means, whatever Sid, key casing or list order COS gives it back with."""
    s = _lower(statement)
    principal = {str(k).lower(): sorted(_listed(v)) for k, v in (s.get("principal") or {}).items()} \
        if isinstance(s.get("principal"), dict) else _listed(s.get("principal"))
    return (str(s.get("effect", "")).lower(), json.dumps(principal, sort_keys=True), tuple(sorted(_listed(s.get("action")))),
            tuple(sorted(_listed(s.get("resource")))), json.dumps(s.get("condition"), sort_keys=True))


def is_ours(statement: Statement) -> bool:
    s = _lower(statement)
    return s.get("sid") == SID or (str(s.get("effect", "")).lower() == "deny"
                                   and set(_listed(s.get("action"))) == set(WRITE_ACTIONS))


def statements_of(document: Optional[Dict[str, Any]]) -> List[Statement]:
    doc = document or {}
    return list(doc.get("Statement", doc.get("statement")) or [])


def merged(document: Optional[Dict[str, Any]], target: PolicyTarget) -> Dict[str, Any]:
    """Every foreign statement untouched and in place; ours replaced where it was (duplicates dropped), or appended."""
    ours, out = desired_statement(target), []
    for statement in statements_of(document):
        if not is_ours(statement):
            out.append(statement)
        elif ours is not None:
            out.append(ours)
            ours = None
    if ours is not None:
        out.append(ours)
    doc = dict(document or {"version": "2.0"})
    doc["statement" if "statement" in doc else "Statement"] = out
    return doc


def _glob(pattern: str, text: str) -> bool:
    # CAM's only documented wildcard is `*` (436/30580 resources, `name/cos:*` actions).
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text) is not None


def forging_grants(document: Optional[Dict[str, Any]], target: PolicyTarget) -> List[str]:
    """One warning per foreign statement that allows writing under STATE_PREFIX or REPORT_PREFIX."""
    samples = {p: f"{target.base}{p}x" for p in target.prefixes}
    out = []
    for index, statement in enumerate(statements_of(document)):
        s = _lower(statement)
        if is_ours(statement) or str(s.get("effect", "")).lower() != "allow":
            continue
        actions = [a for a in _listed(s.get("action"))
                   if any(_glob(a.replace("name/", "", 1), w.replace("name/", "", 1)) for w in WRITE_ACTIONS)]
        prefixes = [p for p, key in samples.items() if any(_glob(r, key) for r in _listed(s.get("resource")))]
        if actions and prefixes:
            who = ", ".join(_listed((s.get("principal") or {}).get("qcs") if isinstance(s.get("principal"), dict)
                                    else s.get("principal"))) or "its principals"
            name = s.get("sid") or f"#{index + 1} (no Sid)"
            out.append(f"bucket policy statement {name} allows {who} {', '.join(actions)} on "
                       f"{', '.join(_listed(s.get('resource')))}: it lets those writers forge the autopilot's state "
                       f"and reports under {', '.join(prefixes)}. The function checks what it reads either way; to "
                       "close it, narrow that statement to the upload prefix (e.g. uploads/*) and add its "
                       f"sub-accounts to {UPLOADERS} (docs/deploy.md, 'Protecting the state prefix')")
    return out


class PolicyPlan(BaseModel):
    """What apply does to the bucket policy."""

    target: PolicyTarget
    current: Optional[Dict[str, Any]] = None
    wanted: Dict[str, Any] = Field(default_factory=dict)
    warnings: List[str] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return [canonical(s) for s in statements_of(self.current)] != [canonical(s) for s in statements_of(self.wanted)]

    def describe(self) -> str:
        """The plan's one line (empty when unchanged)."""
        if not self.changed:
            return ""
        verb = "update" if any(is_ours(s) for s in statements_of(self.current)) else "create"
        kept = len(statements_of(self.wanted)) - 1
        who = "anonymous users" + (f" and {len(self.target.uploaders)} uploader(s)" if self.target.uploaders else "")
        return (f"~ bucket {self.target.bucket}: policy {verb} {SID} (deny object writes under "
                f"{', '.join(self.target.prefixes)} to {who})"
                f"{f'; {kept} other statement(s) kept' if kept else ''}")


class CosPolicy(CosBucketApi):
    """GET/PUT Bucket policy."""

    ABSENT = {"GetBucketPolicy": NO_POLICY}
    FIX_PERMISSION = FIX_PERMISSION

    def document(self) -> Optional[Dict[str, Any]]:
        """The bucket's policy as JSON; None when it has none."""
        data = self._call("GetBucketPolicy", lambda: self.client.get_bucket_policy(Bucket=self.target.bucket))
        if data is None:
            return None
        try:
            document = json.loads(data["Policy"])
        except (KeyError, TypeError, ValueError):
            document = None
        if not isinstance(document, dict):
            raise DeployError(f"GetBucketPolicy on bucket {self.target.bucket} returned {data!r}, not a JSON policy. "
                              "Fix: check the policy in the COS console (Permissions -> Bucket policy)")
        return document

    def put(self, document: Dict[str, Any]) -> None:
        text = json.dumps(document, ensure_ascii=False)
        md5 = base64.b64encode(hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()).decode("ascii")
        self._call("PutBucketPolicy", lambda: self.client.put_bucket_policy(
            Bucket=self.target.bucket, Policy=text, ContentMD5=md5))


def cos_policy(target: PolicyTarget, environ: Mapping[str, str]) -> CosPolicy:
    return CosPolicy(target, cos_client(target.region, environ))


def plan_policy(api: CosPolicy) -> PolicyPlan:
    current = api.document()
    return PolicyPlan(target=api.target, current=current, wanted=merged(current, api.target),
                      warnings=forging_grants(current, api.target))


def apply_policy(api: CosPolicy, plan: PolicyPlan, changing: Optional[List[str]] = None) -> str:
    """PUT the merged policy only when it differs; returns the summary line."""
    return put_if_changed(api, plan, "policy", "PutBucketPolicy", SID, changing)
