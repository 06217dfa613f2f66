"""Settings: the environment variables users set in serverless.yml, validated once into a frozen model."""

import ipaddress
import json
import re
import socket
import string
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Dict, FrozenSet, Literal, Mapping, Optional, Tuple, Type, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator

from lib.errors import ConfigError
from lib.regions import is_cos_region, nearest_region
from lib.windows import parse_duration

DEFAULT_SUFFIXES = ".jpg,.jpeg,.png,.bmp,.webp,.gif"
BACKUP_PREFIX = "abnormal_images_backup/"
# Whether a timer argument may override a setting (Setting.timer). A timer argument is written by whoever may edit a
# trigger or run `scf invoke`, so "no" (function-wide) marks what says where the function writes or posts (bucket,
# prefixes, webhook and its format), which jobs are ours (JOB_NAME_PREFIX: the report finds them by it), the safety
# catch, the credentials (every SecretStr field) and the emulator switch; UPLOAD_BATCH_SECONDS sizes the slots that
# upload events and every tick share, and UPLOAD_PREFIXES must equal the COS triggers' prefixes. "narrows only" may be
# overridden only to make a run less destructive (lib.invocation.check_narrower).
TIMER_OVERRIDES = ("yes", "narrows only", "no")


class Setting:
    """How a Settings field is set and documented, declared once with it as ``Annotated[type, Setting(...)]``;
    ENV_NAMES, OVERRIDABLE and the other tables below, and docs/configuration.md, are derived from these."""

    __slots__ = ("env", "timer", "what", "allowed", "error", "strict")

    def __init__(self, env: str, *, timer: str, what: str, allowed: str, error: Optional[str] = None,
                 strict: bool = False):
        self.env = env  # the environment variable
        self.timer = timer  # one of TIMER_OVERRIDES
        self.what = what  # what it does, for docs/configuration.md and serverless.yml's comments
        self.allowed = allowed  # the values it takes, in words
        self.error = error  # a Literal field's "must be ..." for a value outside its choices (None: "must be one of")
        # A bool switch that moves or deletes objects (or widens what is): only true/false, never yes/on/1 (STRICT_WORDS)
        self.strict = strict

    def __repr__(self) -> str:
        return f"Setting({self.env!r}, timer={self.timer!r})"


MAX_REPORT_CONCURRENCY = 64  # more threads than this only queue on the service and cost memory
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}-\d{5,}$")
_WORKFLOW_ID = re.compile(r"^w[0-9A-Za-z]{6,64}$")
_INVENTORY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# CI's job-name alphabet, checked per character: a regex over the CJK range takes ~2 ms to compile, per pattern,
# on every cold start.
_NAME_ASCII = frozenset(string.ascii_letters + string.digits + "_-")
# What a bool setting accepts, in any letter case; empty is false (every bool's default). A strict switch (one that
# moves or deletes objects) takes only the two words: a `yes` once turned INSPECT_AUTO_PROCESS on unseen (issue 27).
LOOSE_WORDS = (("true", "1", "yes", "on"), ("false", "0", "no", "off"))
STRICT_WORDS = (("true",), ("false",))


def is_name_char(c: str) -> bool:
    """A character CI allows in a job name: ASCII letter or digit, '_', '-', or CJK U+4E00-U+9FA5."""
    return c in _NAME_ASCII or "\u4e00" <= c <= "\u9fa5"


def is_workflow_id(text: str) -> bool:
    return bool(_WORKFLOW_ID.match(text))


def is_name_text(text: str) -> bool:
    return bool(text) and all(map(is_name_char, text))


class WindowSpec(BaseModel):
    """What a timer run covers: since the last run, a fixed look-back, or everything."""

    model_config = ConfigDict(frozen=True)
    kind: str  # "incremental" | "lookback" | "all"
    lookback: Optional[timedelta] = None

    @classmethod
    def parse(cls, text: str) -> "WindowSpec":
        value = text.strip().lower()
        if value in ("incremental", ""):
            return cls(kind="incremental")
        if value == "all":
            return cls(kind="all")
        try:
            return cls(kind="lookback", lookback=parse_duration(value))
        except ValueError:
            raise ValueError(f"must be incremental, all, or a duration such as 6h or 1d (got {text!r})") from None


class Settings(BaseModel):
    """Everything a run needs, validated; secrets are SecretStr and never rendered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: Annotated[str, Setting(
        "COS_BUCKET", timer="no",
        what="The bucket the jobs run on and where state and reports are written.",
        allowed="BucketName-APPID in lower case, e.g. examplebucket-1250000000")]
    region: Annotated[str, Setting(
        "COS_REGION", timer="no",
        what="The bucket's region; the function must be deployed in the same region.",
        allowed="a COS region such as ap-guangzhou, ap-shanghai")]
    job_type: Annotated[Literal["Job", "Workflow"], Setting(
        "JOB_TYPE", timer="yes",
        what="What a batch job runs: ImageInspect on each object, or existing CI workflows.",
        allowed="Job (ImageInspect per object) or Workflow",
        error="must be Job (one ImageInspect job per object) or Workflow")] = "Job"
    workflow_ids: Annotated[Tuple[str, ...], Setting(
        "WORKFLOW_IDS", timer="yes",
        what="The CI workflows a Workflow job triggers; required when JOB_TYPE=Workflow.",
        allowed="comma-separated workflow ids (w + 32 hex digits)")] = ()
    inspect_auto_process: Annotated[bool, Setting(
        "INSPECT_AUTO_PROCESS", timer="narrows only",
        what="Whether CI acts on an abnormal image itself (see INSPECT_PROCESS_TYPE).",
        allowed="true or false", strict=True)] = False
    inspect_process_type: Annotated[Literal["BackupObject", "SwitchObjectToPrivate", "DeleteObject"], Setting(
        "INSPECT_PROCESS_TYPE", timer="narrows only",
        what="What CI does to an abnormal image when INSPECT_AUTO_PROCESS is true.",
        allowed="BackupObject (move to abnormal_images_backup/), SwitchObjectToPrivate, DeleteObject")] = "BackupObject"
    input_prefix: Annotated[str, Setting(
        "INPUT_PREFIX", timer="narrows only",
        what="Which objects a timer run covers.",
        allowed="a folder such as images/ (no leading '/'); '/' alone is the whole bucket")] = "/"
    input_source: Annotated[Literal["prefix", "inventory"], Setting(
        "INPUT_SOURCE", timer="yes",
        what="Where a timer rule takes its objects from: Input.Prefix (CI lists INPUT_PREFIX), or the newest COS "
             "Inventory report of INVENTORY_ID, filtered by the same rules as uploads (lib.submit.inventory).",
        allowed="prefix or inventory",
        error="must be prefix (CI lists INPUT_PREFIX) or inventory (the newest report of INVENTORY_ID)")] = "prefix"
    inventory_id: Annotated[Optional[str], Setting(
        "INVENTORY_ID", timer="yes",
        what="The bucket's inventory configuration a rule with INPUT_SOURCE=inventory reads; its destination is read "
             "from the configuration (GET Bucket inventory), never set here. Required when INPUT_SOURCE=inventory.",
        allowed="1-64 characters a-z A-Z 0-9 - _ . (PUT Bucket inventory's Id)")] = None
    window: Annotated[WindowSpec, Setting(
        "WINDOW", timer="yes",
        what="How far back a timer run looks: since the previous run, a fixed look-back, or all.",
        allowed="incremental, all, or a duration such as 6h, 1d")] = WindowSpec(kind="incremental")
    first_run_lookback: Annotated[timedelta, Setting(
        "FIRST_RUN_LOOKBACK", timer="yes",
        what="How far back the first incremental run looks, before a checkpoint exists.",
        allowed="a duration: number + s/m/h/d/w, e.g. 90m, 6h, 1d")] = timedelta(hours=1)
    job_name_prefix: Annotated[str, Setting(
        "JOB_NAME_PREFIX", timer="no",
        what="Start of every batch-job name; the report finds our jobs by it.",
        allowed="1-40 letters, digits, Chinese characters, '-' or '_'")] = "autopilot"
    rule_name: Annotated[Optional[str], Setting(
        "RULE_NAME", timer="yes",
        what="Names the checkpoint of a timer rule; unset means the trigger's name.",
        allowed="1-60 letters, digits, '-' or '_'")] = None
    upload_suffixes: Annotated[Tuple[str, ...], Setting(
        "UPLOAD_SUFFIXES", timer="yes",
        what="Uploads (COS trigger) with other suffixes are skipped.",
        allowed="comma-separated suffixes each starting with '.'")] = tuple(DEFAULT_SUFFIXES.split(","))
    state_prefix: Annotated[str, Setting(
        "STATE_PREFIX", timer="no",
        what="Folder for checkpoints, leases and manifests; uploads there are never processed.",
        allowed="a folder ending in '/', not under abnormal_images_backup/")] = "autopilot/"
    # unset: lib.submit.run.lease_ttl derives it from the function timeout
    lease_seconds: Annotated[Optional[int], Setting(
        "LEASE_SECONDS", timer="yes",
        what="How long a run's claim on a window or upload lasts. Leave unset: it then follows the function's timeout "
             "+ 30 s, so a run SCF killed lets go before SCF's retry a minute later.",
        allowed="empty, or 60-86400 seconds: more than the function timeout, less than it + 60")] = None
    # the slots: lib.submit.coalesce
    upload_batch_seconds: Annotated[int, Setting(
        "UPLOAD_BATCH_SECONDS", timer="no",
        what="0: every upload event becomes its own batch job. Otherwise uploads are recorded under "
             "STATE_PREFIX/uploads/ and each interval of this many seconds becomes one UrlFile job, made by the first "
             "upload event or timer tick after the interval (plus 30 s); the timer bounds how long a quiet bucket's "
             "last uploads wait.",
        allowed="0, or 10-3600 seconds")] = 0
    upload_prefixes: Annotated[Tuple[str, ...], Setting(
        "UPLOAD_PREFIXES", timer="no",
        what="The key prefixes the function's COS triggers watch (each trigger's filter.prefix). An upload event or a "
             "stored upload record for a key outside them is skipped with a reason. Empty: every key. Function-wide, "
             "never a timer argument.",
        allowed="comma-separated prefixes without a leading '/', e.g. uploads/; none may overlap STATE_PREFIX, "
                "REPORT_PREFIX or abnormal_images_backup/")] = ()
    allow_delete_whole_bucket: Annotated[bool, Setting(
        "ALLOW_DELETE_WHOLE_BUCKET", timer="no",
        what="Safety catch: DeleteObject over the whole bucket is refused unless true.",
        allowed="true or false", strict=True)] = False
    allow_irreversible_delete: Annotated[bool, Setting(
        "ALLOW_IRREVERSIBLE_DELETE", timer="no",
        what="Safety catch: INSPECT_PROCESS_TYPE=DeleteObject with INSPECT_AUTO_PROCESS=true deletes a flagged image "
             "for good on a bucket whose versioning is not Enabled (GET Bucket versioning is read before every such "
             "job), so every job we make is refused there unless this is true. With versioning, `python -m ops "
             "flagged restore KEY` brings a deleted image back from its previous version.",
        allowed="true or false", strict=True)] = False
    release_keeps_backup: Annotated[bool, Setting(
        "RELEASE_KEEPS_BACKUP", timer="no",
        what="`python -m ops flagged release KEY` confirms a flagged image is bad: false deletes its copy under "
             "abnormal_images_backup/, true keeps it (the review list shows it released either way).",
        allowed="true or false", strict=True)] = False
    # the guard against a surprise bill: lib.spend (counts, prices, the day's ledger) and lib.plans (held jobs)
    price_per_1000_images: Annotated[Optional[Decimal], Setting(
        "PRICE_PER_1000_IMAGES", timer="no",
        what="What CI charges per 1,000 objects a job processes, in PRICE_CURRENCY, for the estimate every job gets "
             "before it is sent. Unset: ImageInspect's published list price, 0.01493 USD per 1,000 (Tencent Cloud's Image "
             "Processing Fees page, tencentcloud.com/document/product/436/58198, as of 2023-07-10; the live price "
             "page is the authority); a Workflow job is counted but priced only when this is set.",
        allowed="empty, or a number >= 0 such as 0.01493")] = None
    price_currency: Annotated[str, Setting(
        "PRICE_CURRENCY", timer="no",
        what="The currency of PRICE_PER_1000_IMAGES and DAILY_COST_CAP. The default price is in USD, so another "
             "currency needs PRICE_PER_1000_IMAGES too.",
        allowed="a three-letter ISO 4217 code such as USD or CNY")] = "USD"
    max_objects_per_job: Annotated[Optional[int], Setting(
        "MAX_OBJECTS_PER_JOB", timer="no",
        what="A job that would process more objects than this is not sent but held as a plan for `plans confirm`. "
             "Unset: no cap.",
        allowed="empty, or a whole number >= 0 (0 holds every job)")] = None
    daily_object_cap: Annotated[Optional[int], Setting(
        "DAILY_OBJECT_CAP", timer="no",
        what="Objects the bucket's jobs may process per UTC day; a job that would take the day past it is held whole "
             "as a plan. Counted in a ledger under STATE_PREFIX/spend/. Unset: no cap.",
        allowed="empty, or a whole number >= 0")] = None
    daily_cost_cap: Annotated[Optional[Decimal], Setting(
        "DAILY_COST_CAP", timer="no",
        what="The estimate the bucket's jobs may reach per UTC day, in PRICE_CURRENCY; a job that would take the day "
             "past it is held whole as a plan. Unpriced jobs (a Workflow without PRICE_PER_1000_IMAGES) are not "
             "counted against it. Unset: no cap.",
        allowed="empty, or a number >= 0")] = None
    count_limit: Annotated[int, Setting(
        "COUNT_LIMIT", timer="no",
        what="How many objects a Prefix window's count lists at most (one listing request per 1,000) before it "
             "stops; past it the count is 'at least N', held by any cap it could exceed (docs/benchmarks.md).",
        allowed="1000-10000000")] = 100_000
    plan_expiry_days: Annotated[int, Setting(
        "PLAN_EXPIRY_DAYS", timer="no",
        what="A held plan nobody confirmed or declined expires after this many days; the report says so and the "
             "rule goes on past its window as after a decline.",
        allowed="1-90")] = 7
    api_timeout: Annotated[float, Setting(
        "API_TIMEOUT", timer="yes",
        what="Seconds to wait for one COS/CI API call.",
        allowed="0.1-300")] = 10.0
    emulator_url: Annotated[Optional[str], Setting(
        "COS_EMULATOR_URL", timer="no",
        what="Local emulator only: sends every call to it. Must stay empty when deployed.",
        allowed="empty, or http://HOST:PORT")] = None
    report_lookback: Annotated[timedelta, Setting(
        "REPORT_LOOKBACK", timer="yes",
        what="How far back the daily report looks for jobs.",
        allowed="a duration, e.g. 1d, 36h")] = timedelta(days=1)
    report_all_jobs: Annotated[bool, Setting(
        "REPORT_ALL_JOBS", timer="yes",
        what="Report every batch job in the bucket, not only those named JOB_NAME_PREFIX-*.",
        allowed="true or false")] = False
    report_stuck_after: Annotated[timedelta, Setting(
        "REPORT_STUCK_AFTER", timer="yes",
        what="A job still running after this long is reported as stuck.",
        allowed="a duration, e.g. 6h")] = timedelta(hours=6)
    report_prefix: Annotated[str, Setting(
        "REPORT_PREFIX", timer="no",
        what="Folder the report is written to; uploads there are never processed.",
        allowed="a folder ending in '/', not under abnormal_images_backup/")] = "autopilot/reports/"
    report_webhook_url: Annotated[Optional[SecretStr], Setting(
        "REPORT_WEBHOOK_URL", timer="no",
        what="Chat webhook the report is posted to (a secret); unset means COS only.",
        allowed="empty, or an https URL to a public host")] = None
    report_webhook_format: Annotated[Literal["wecom", "dingtalk", "feishu", "slack", "json"], Setting(
        "REPORT_WEBHOOK_FORMAT", timer="no",
        what="Message format of the webhook.",
        allowed="wecom, dingtalk, feishu, slack, json")] = "wecom"
    report_notify: Annotated[Literal["always", "on-problem"], Setting(
        "REPORT_NOTIFY", timer="yes",
        what="When to post to the webhook.",
        allowed="on-problem or always",
        error="must be always or on-problem")] = "on-problem"
    report_fail_above: Annotated[Optional[float], Setting(
        "REPORT_FAIL_ABOVE", timer="yes",
        what="Mark the report FAILING (summary and message) when more than this share of jobs failed; the run itself "
             "still succeeds, so SCF does not retry and notify twice.",
        allowed="empty, or a number between 0 and 1, e.g. 0.1")] = None
    report_link: Annotated[Literal["console", "presigned", "key"], Setting(
        "REPORT_LINK", timer="yes",
        what="How the chat message points at the HTML report (see deploy.md, Opening the report from chat): a console "
             "link (needs a login), a presigned URL (expires), or the key.",
        allowed="console, presigned or key")] = "console"
    report_link_expires: Annotated[timedelta, Setting(
        "REPORT_LINK_EXPIRES", timer="yes",
        what="Lifetime asked for a presigned link; it never outlives the function's temporary credentials.",
        allowed="a duration between 1m and 7d, e.g. 12h")] = timedelta(hours=12)
    # the cancelling: lib.report.duplicates
    report_cancel_duplicates: Annotated[Literal["timer", "all", "off"], Setting(
        "REPORT_CANCEL_DUPLICATES", timer="yes",
        what="Which younger twin the report cancels when two live jobs of ours share a name (a create that landed "
             "after the retry's lookup).",
        allowed="timer (timer-window jobs), all (upload jobs too) or off (only name them)",
        error="must be timer (cancel younger timer-window twins), all (upload jobs too) or off")] = "timer"
    # Per-object reads in flight at once. 16: at ~20 ms per in-region call, 20,000 jobs' reads take ~25 s instead of
    # ~400 s one at a time, while 16 threads and 16 pooled connections cost a few MB of a 64 MB function.
    report_concurrency: Annotated[int, Setting(
        "REPORT_CONCURRENCY", timer="yes",
        what="How many jobs' per-object results the report reads at once; the job list itself is read one page at a "
             "time.",
        allowed="1-64 (1 reads one job at a time)")] = 16
    secret_id: Annotated[Optional[SecretStr], Setting(
        "TENCENTCLOUD_SECRETID", timer="no",
        what="Injected by SCF from the function's role; never set it yourself.",
        allowed="set by SCF")] = None
    secret_key: Annotated[Optional[SecretStr], Setting(
        "TENCENTCLOUD_SECRETKEY", timer="no",
        what="Injected by SCF from the function's role; never set it yourself.",
        allowed="set by SCF")] = None
    session_token: Annotated[Optional[SecretStr], Setting(
        "TENCENTCLOUD_SESSIONTOKEN", timer="no",
        what="Injected by SCF from the function's role; never set it yourself.",
        allowed="set by SCF")] = None

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        if not _BUCKET.match(v):
            raise ValueError("must be BucketName-APPID in lower case, e.g. examplebucket-1250000000")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not is_cos_region(v):
            near = nearest_region(v)
            hint = f"did you mean {near}?" if near else "see lib/regions.py for the list"
            raise ValueError(f"must be a COS region such as ap-guangzhou or ap-shanghai; {hint}")
        return v

    @field_validator("workflow_ids", mode="before")
    @classmethod
    def _workflow_ids(cls, v: Any) -> Tuple[str, ...]:
        ids = tuple(p.strip() for p in v.split(",") if p.strip()) if isinstance(v, str) else tuple(v)
        bad = [i for i in ids if not _WORKFLOW_ID.match(i)]
        if bad:
            raise ValueError(f"{', '.join(bad)} is not a workflow id (they look like w + 32 hex digits)")
        return ids

    @field_validator("input_prefix")
    @classmethod
    def _input_prefix(cls, v: str) -> str:
        if v in ("", "/"):
            return "/"  # Tencent's own examples scan the whole bucket with Prefix "/"
        if v.startswith("/"):
            raise ValueError("object keys do not start with '/'; write images/ rather than /images/ ('/' alone means the whole bucket)")
        return v

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        return WindowSpec.parse(v) if isinstance(v, str) else v

    @field_validator("first_run_lookback", "report_lookback", "report_stuck_after", "report_link_expires",
                     mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v) if isinstance(v, str) else v

    @field_validator("job_name_prefix")
    @classmethod
    def _job_name_prefix(cls, v: str) -> str:
        if not (1 <= len(v) <= 40) or not is_name_text(v):
            raise ValueError("must be 1-40 letters, digits, Chinese characters, '-' or '_' (CI's job-name rules)")
        return v

    @field_validator("rule_name")
    @classmethod
    def _rule_name(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (not (1 <= len(v) <= 60) or not is_name_text(v)):
            raise ValueError("must be 1-60 letters, digits, '-' or '_'")
        return v

    @field_validator("upload_suffixes", mode="before")
    @classmethod
    def _suffixes(cls, v: Any) -> Tuple[str, ...]:
        parts = v.split(",") if isinstance(v, str) else list(v)
        out = tuple(p.strip().lower() for p in parts if p.strip())
        if not out or any(not s.startswith(".") for s in out):
            raise ValueError("must be a comma-separated list of suffixes each starting with '.', e.g. .jpg,.png")
        return out

    @field_validator("state_prefix", "report_prefix")
    @classmethod
    def _folder_prefix(cls, v: str) -> str:
        if not v or v.startswith("/") or not v.endswith("/"):
            raise ValueError("must be a folder such as autopilot/ (no leading '/', one trailing '/')")
        if v.startswith(BACKUP_PREFIX):
            raise ValueError(f"must not be under {BACKUP_PREFIX}, where CI moves abnormal images")
        return v

    @field_validator("upload_prefixes", mode="before")
    @classmethod
    def _upload_prefixes(cls, v: Any) -> Tuple[str, ...]:
        parts = v.split(",") if isinstance(v, str) else list(v)
        out = tuple(p.strip() for p in parts if p.strip())
        for prefix in out:
            if prefix.startswith("/"):
                raise ValueError(f"{prefix!r}: object keys do not start with '/'; write the COS trigger's "
                                 "filter.prefix as it is, e.g. uploads/")
            if BACKUP_PREFIX.startswith(prefix) or prefix.startswith(BACKUP_PREFIX):
                raise ValueError(f"{prefix!r} overlaps {BACKUP_PREFIX}, where CI moves abnormal images; name the "
                                 "folders your uploads go to, e.g. uploads/")
        return out

    @model_validator(mode="after")
    def _upload_prefixes_avoid_state(self) -> "Settings":
        for prefix in self.upload_prefixes:
            for name, folder in (("STATE_PREFIX", self.state_prefix), ("REPORT_PREFIX", self.report_prefix)):
                if folder.startswith(prefix) or prefix.startswith(folder):
                    raise ValueError(f"UPLOAD_PREFIXES={','.join(self.upload_prefixes)!r}: {prefix!r} overlaps "
                                     f"{name}={folder!r}; the COS trigger must not watch the function's own "
                                     "writes: name the folders your uploads go to, e.g. uploads/")
        return self

    @field_validator("inventory_id")
    @classmethod
    def _inventory_id(cls, v: Optional[str]) -> Optional[str]:
        # PUT Bucket inventory's node table: Id takes a-z A-Z 0-9 - _ . (intlcloud-documents, PUT Bucket inventory).
        if v is not None and not _INVENTORY_ID.match(v):
            raise ValueError("must be 1-64 characters a-z A-Z 0-9 - _ . (the inventory configuration's Id)")
        return v

    @field_validator("lease_seconds")
    @classmethod
    def _lease(cls, v: Optional[int]) -> Optional[int]:
        if v is not None and not 60 <= v <= 86400:
            raise ValueError("must be 60-86400 seconds (at least the function timeout)")
        return v

    @field_validator("upload_batch_seconds")
    @classmethod
    def _batch(cls, v: int) -> int:
        if v != 0 and not 10 <= v <= 3600:
            raise ValueError("must be 0 (one job per upload event) or 10-3600 seconds (one job per interval)")
        return v

    @field_validator("api_timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if not 0.1 <= v <= 300:
            raise ValueError("must be between 0.1 and 300 seconds")
        return v

    @field_validator("report_concurrency")
    @classmethod
    def _concurrency(cls, v: int) -> int:
        if not 1 <= v <= MAX_REPORT_CONCURRENCY:
            raise ValueError(f"must be 1-{MAX_REPORT_CONCURRENCY} per-object reads in flight (1 reads one job at a "
                             "time)")
        return v

    @field_validator("price_per_1000_images", "daily_cost_cap")
    @classmethod
    def _amount(cls, v: Optional[Decimal]) -> Optional[Decimal]:
        if v is not None and (not v.is_finite() or v < 0):
            raise ValueError("must be a number >= 0, e.g. 0.01493")
        return v

    @field_validator("price_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", v):
            raise ValueError("must be a three-letter ISO 4217 code such as USD or CNY")
        return v.upper()

    @field_validator("max_objects_per_job", "daily_object_cap")
    @classmethod
    def _cap(cls, v: Optional[int]) -> Optional[int]:
        if v is not None and v < 0:
            raise ValueError("must be a whole number >= 0, or empty for no cap")
        return v

    @field_validator("count_limit")
    @classmethod
    def _count_limit(cls, v: int) -> int:
        if not 1000 <= v <= 10_000_000:
            raise ValueError("must be between 1000 and 10000000 (objects listed to count a Prefix window)")
        return v

    @field_validator("plan_expiry_days")
    @classmethod
    def _plan_expiry(cls, v: int) -> int:
        if not 1 <= v <= 90:
            raise ValueError("must be between 1 and 90 days")
        return v

    @field_validator("emulator_url")
    @classmethod
    def _emulator_url(cls, v: Optional[str]) -> Optional[str]:
        if v and not re.match(r"^http://[^/\s]+(:\d+)?/?$", v):
            raise ValueError("must be http://HOST:PORT of the local emulator, e.g. http://127.0.0.1:9000")
        return v or None

    @field_validator("report_link_expires")
    @classmethod
    def _link_expires(cls, v: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= v <= timedelta(days=7):
            raise ValueError("must be between 1m and 7d (and a presigned URL dies with the role's credentials anyway)")
        return v

    @field_validator("report_fail_above")
    @classmethod
    def _fail_above(cls, v: Optional[float]) -> Optional[float]:
        if v is not None and not 0 <= v <= 1:
            raise ValueError("must be a share of jobs between 0 and 1, e.g. 0.1 for 10%")
        return v

    @field_validator("secret_id", "secret_key", "session_token")
    @classmethod
    def _credential(cls, v: Optional[SecretStr]) -> Optional[SecretStr]:
        # The SDK refuses edge spaces with a bare CosClientError, and a stray line break would break every signature.
        if v is not None and v.get_secret_value() != v.get_secret_value().strip():
            raise ValueError("starts or ends with whitespace (a space or line break copied along with it); remove it")
        return v

    @field_validator("report_webhook_url")
    @classmethod
    def _webhook_url(cls, v: Optional[SecretStr], info: ValidationInfo) -> Optional[SecretStr]:
        # Messages never quote the URL or its host: the URL carries the bot's key.
        if v is not None:
            problem = webhook_target_problem(v.get_secret_value(), emulator=bool(info.data.get("emulator_url")))
            if problem:
                raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if self.job_type == "Workflow" and not self.workflow_ids:
            raise ValueError("WORKFLOW_IDS is required when JOB_TYPE=Workflow")
        if self.input_source == "inventory" and not self.inventory_id:
            raise ValueError("INVENTORY_ID is required when INPUT_SOURCE='inventory' (INVENTORY_ID is unset): set it "
                             "to the id of the bucket's inventory configuration, or set INPUT_SOURCE=prefix")
        if self.price_currency != "USD" and self.price_per_1000_images is None and self.job_type == "Job":
            raise ValueError(f"PRICE_CURRENCY={self.price_currency!r} needs PRICE_PER_1000_IMAGES: the default price "
                             "(0.01493 per 1,000) is in USD; set the price in your currency, or PRICE_CURRENCY=USD")
        return self

    @property
    def whole_bucket(self) -> bool:
        return self.input_prefix == "/"

    @property
    def deletes_objects(self) -> bool:
        return self.job_type == "Job" and self.inspect_auto_process and self.inspect_process_type == "DeleteObject"

    def skip_prefixes(self) -> Tuple[str, ...]:
        """Keys the upload path never processes: our own state, reports, and CI's backups (no recursion)."""
        return (self.state_prefix, self.report_prefix, BACKUP_PREFIX)

    def watches(self, key: str) -> bool:
        """Whether a COS trigger of this function fires for the key (UPLOAD_PREFIXES; empty: every key)."""
        return not self.upload_prefixes or key.startswith(self.upload_prefixes)


class SettingDeclarationError(TypeError):
    """A Settings field lacks what loading or documenting it needs; raised as lib.config loads, naming the field."""


_PROSE = {"what": "what the setting does", "allowed": "the values it takes, in words"}


def declared_settings(model: Type[BaseModel]) -> Dict[str, Setting]:
    """Each field's Setting in field order, checked: a setting declared without its name or docs cannot load."""
    declared: Dict[str, Setting] = {}
    owners: Dict[str, str] = {}
    for field, info in model.model_fields.items():
        marks = [m for m in info.metadata if isinstance(m, Setting)]
        problem = _declaration_problem(info.annotation, marks, owners)
        if problem:
            raise SettingDeclarationError(f"{model.__name__}.{field}: {problem}")
        declared[field] = marks[0]
        owners[marks[0].env] = field
    return declared


def _declaration_problem(annotation: Any, marks: list, owners: Mapping[str, str]) -> str:
    if len(marks) != 1:
        return (f"has {len(marks)} Setting(...) in its annotation, not one; declare it as "
                'Annotated[type, Setting("ENV_NAME", timer=..., what=..., allowed=...)]')
    mark = marks[0]
    env = mark.env if isinstance(mark.env, str) else ""
    if not (env.isascii() and env.isupper() and env.replace("_", "").isalnum()):
        return f"environment name {mark.env!r} is not one; write it as users set it, e.g. COS_BUCKET"
    if env in owners:
        return f"environment name {env!r} is already {owners[env]}'s; give each setting its own"
    if mark.timer not in TIMER_OVERRIDES:
        return f"timer={mark.timer!r} is not one of {', '.join(TIMER_OVERRIDES)}"
    if _is_secret(annotation) and mark.timer != "no":
        return f'timer={mark.timer!r} on a secret; a timer argument never sets a secret: write timer="no"'
    for name, needed in _PROSE.items():
        if not (getattr(mark, name) or "").strip():
            return f"{name}={getattr(mark, name)!r} is empty; write {needed} (docs/configuration.md shows it)"
    if mark.strict is not False and not (mark.strict is True and annotation is bool):
        return f"strict={mark.strict!r}: only a bool field may be strict=True (it then takes only true or false)"
    choices = _choices(annotation)
    if mark.error is not None and not choices:
        return "error= is only for a Literal field; the other fields' validators word their own errors"
    for name, text in (("allowed", mark.allowed), ("error", mark.error or "")):
        missing = [c for c in choices if text and c not in text]
        if missing:
            return f"{name}={text!r} does not name {', '.join(missing)}; name every choice of the Literal"
    return ""


def _choices(annotation: Any) -> Tuple[str, ...]:
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


# What the loader, deploy/ and the docs read, derived from the declarations above: change a Setting, never these.
DECLARED = declared_settings(Settings)
ENV_NAMES: Dict[str, str] = {field: setting.env for field, setting in DECLARED.items()}
FIELD_BY_ENV = {env: field for field, env in ENV_NAMES.items()}
SECRET_FIELDS: FrozenSet[str] = frozenset(f for f, info in Settings.model_fields.items() if _is_secret(info.annotation))
FUNCTION_WIDE: FrozenSet[str] = frozenset(f for f, s in DECLARED.items() if s.timer == "no")  # secrets too
OVERRIDABLE: FrozenSet[str] = frozenset(f for f, s in DECLARED.items() if s.timer != "no")
NARROWS_ONLY: FrozenSet[str] = frozenset(f for f, s in DECLARED.items() if s.timer == "narrows only")
STRICT_BOOLEANS: FrozenSet[str] = frozenset(f for f, s in DECLARED.items() if s.strict)  # only true/false
CHOICES: Dict[str, Tuple[str, ...]] = {f: _choices(info.annotation) for f, info in Settings.model_fields.items()
                                       if _choices(info.annotation)}
PROCESS_TYPES = CHOICES["inspect_process_type"]
WEBHOOK_FORMATS = CHOICES["report_webhook_format"]
REPORT_LINKS = CHOICES["report_link"]  # how a chat message points at the HTML report (docs/deploy.md)


_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa")


def _address_of(host: str) -> Optional[Any]:
    """The IP address a host literal stands for, in any form a resolver accepts (`2130706433`, `0x7f.1`, `[::1]`)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host) and not re.fullmatch(r"[a-fA-F.]+", host):
        try:
            return ipaddress.ip_address(socket.inet_aton(host))  # the libc forms getaddrinfo also reads
        except OSError:
            return None
    return None


def webhook_target_problem(url: str, *, emulator: bool) -> str:
    """Why a webhook URL may not be used ('' when it may): https to a public host; http to loopback only beside
    COS_EMULATOR_URL (tests and the demo). Literal addresses are checked here; names are not resolved (docs/deploy.md)."""
    fix = "set REPORT_WEBHOOK_URL to the https URL your chat platform gave the bot"
    if any(c.isspace() for c in url):
        return f"must not contain whitespace; {fix}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return f"is not a URL; {fix}"
    if parts.scheme not in ("https", "http") or not host:
        return f"must be an https URL with a host; {fix}"
    if "@" in parts.netloc:
        return f"must not carry a user name or password before the host (user@host); {fix}"
    address = _address_of(host)
    loopback = host == "localhost" or (address is not None and address.is_loopback)
    if parts.scheme == "http":
        if emulator and loopback:
            return ""
        return (f"must be https (plain http is allowed only to 127.0.0.1 with COS_EMULATOR_URL set, for tests); "
                f"{fix}")
    if address is not None:
        if not address.is_global or address.is_multicast:
            return (f"points at a loopback, private, link-local or shared address, not a chat platform; {fix}")
        return ""
    if "." not in host or host.endswith(_LOCAL_NAMES) or host in _LOCAL_NAMES:
        return f"names a local or internal host, not a chat platform; {fix}"
    return ""


def accepted_words(field: str) -> str:
    """Exactly what a bool setting accepts, in words: its errors and docs/configuration.md say this, nothing looser."""
    if field in STRICT_BOOLEANS:
        return "true or false (any letter case; empty means false), nothing else"
    true, false = LOOSE_WORDS
    return f"true or false, or {', '.join(true[1:])} for true and {', '.join(false[1:])} for false (any letter " \
           "case; empty means false)"


def _coerce_bool(field: str, raw: str) -> bool:
    value = raw.strip().lower()
    true, false = STRICT_WORDS if field in STRICT_BOOLEANS else LOOSE_WORDS
    if value in true:
        return True
    if value in false or value == "":
        return False
    why = ": a switch that moves or deletes objects takes no yes, on or 1" if field in STRICT_BOOLEANS else ""
    raise ValueError(f"{ENV_NAMES[field]}={raw!r}: must be {accepted_words(field)}{why}")



def _raw_fields(source: Mapping[str, Any], origin: str, problems: list) -> Dict[str, Any]:
    fields: Dict[str, Any] = {}
    for env, raw in source.items():
        field = FIELD_BY_ENV.get(env)
        if field is None:
            continue
        boolean = Settings.model_fields[field].annotation is bool
        if isinstance(raw, str) and raw.strip() == "" and not boolean:
            continue  # an empty variable means "use the default", as serverless.yml leaves many blank
        if boolean and isinstance(raw, str):
            try:
                raw = _coerce_bool(field, raw)
            except ValueError as exc:
                problems.append(f"{exc} ({origin})")
                continue
        fields[field] = raw.strip() if isinstance(raw, str) and field not in SECRET_FIELDS else raw
    return fields


def load_settings(environ: Mapping[str, str], overrides: Optional[Mapping[str, Any]] = None) -> Settings:
    """Build Settings from environment variables plus a timer argument's overrides.

    Raises ConfigError listing every bad variable with its value and what is allowed.
    """
    problems: list = []
    fields = _raw_fields(environ, "environment", problems)
    if overrides:
        unknown = sorted(k for k in overrides if FIELD_BY_ENV.get(k) not in OVERRIDABLE)
        for key in unknown:
            if FIELD_BY_ENV.get(key) in FUNCTION_WIDE:
                problems.append(f"timer argument key {key!r} is not a setting a trigger may override: it is "
                                "function-wide; set it in the function's environment (serverless.yml) instead")
                continue
            import difflib  # only a bad timer argument pays for it, not every cold start

            names = sorted(ENV_NAMES[f] for f in OVERRIDABLE)
            near = difflib.get_close_matches(str(key).upper(), names, n=1, cutoff=0.6)
            # A typo gets the one name it most likely meant; only a key like no setting gets the whole list.
            hint = f"did you mean {near[0]}?" if near else f"allowed: {', '.join(names)}"
            problems.append(f"timer argument key {key!r} is not a setting a trigger may override; {hint}")
        fields.update(_raw_fields({k: v for k, v in overrides.items() if k not in unknown}, "timer argument", problems))
    try:
        settings = Settings(**fields)
    except ValidationError as exc:
        problems.extend(_describe(exc, fields))
    if problems:
        raise ConfigError(problems)
    return settings


def _describe(exc: ValidationError, fields: Mapping[str, Any]) -> list:
    out = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        field = str(loc[0]) if loc else ""
        msg = str(err.get("msg", "")).replace("Value error, ", "")
        if err.get("type") == "literal_error" and field in CHOICES:
            msg = DECLARED[field].error or f"must be one of {', '.join(CHOICES[field])}"
        if field in ENV_NAMES:
            value = "<hidden>" if field in SECRET_FIELDS else fields.get(field, "<unset>")
            if err.get("type") == "missing":
                out.append(f"{ENV_NAMES[field]} is required but not set")
            else:
                out.append(f"{ENV_NAMES[field]}={value!r}: {msg}")
        else:
            out.append(msg)
    return out


def parse_timer_argument(message: str) -> Dict[str, Any]:
    """Read a timer trigger's argument: a JSON object of setting overrides; empty or plain text means none.

    SCF's timer docs (583/9708) and the multi-scf log pass free text ("user define msg body", "argument"), so
    only an argument that starts like JSON ('{' or '[') is parsed, and then it must be a valid object."""
    text = (message or "").strip()
    if not text.startswith(("{", "[")):
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError([f"timer argument is not valid JSON ({exc.msg} at char {exc.pos}); "
                           'write e.g. {"INPUT_PREFIX": "avatars/", "WINDOW": "1h"}']) from None
    except RecursionError:
        raise ConfigError(["timer argument is nested too deeply; it must be a flat JSON object of settings"]) from None
    if not isinstance(value, dict):
        raise ConfigError([f"timer argument must be a JSON object of settings, got {type(value).__name__}"])
    bad = [k for k, v in value.items() if not isinstance(v, (str, bool, int, float))]
    if bad:
        raise ConfigError([f"timer argument key {k!r} must be a string, number or boolean" for k in bad])
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}
