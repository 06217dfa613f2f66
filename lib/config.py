"""Settings: the environment variables users set in serverless.yml, validated once into a frozen model."""

import ipaddress
import json
import re
import socket
import string
from datetime import timedelta
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator

from lib.errors import ConfigError
from lib.regions import is_cos_region, nearest_region
from lib.windows import parse_duration

PROCESS_TYPES = ("BackupObject", "SwitchObjectToPrivate", "DeleteObject")
WEBHOOK_FORMATS = ("wecom", "dingtalk", "feishu", "slack", "json")
REPORT_LINKS = ("console", "presigned", "key")  # how a chat message points at the HTML report (docs/deploy.md)
DEFAULT_SUFFIXES = ".jpg,.jpeg,.png,.bmp,.webp,.gif"
BACKUP_PREFIX = "abnormal_images_backup/"

# field name -> environment variable; the one place these names are spelled.
ENV_NAMES: Dict[str, str] = {
    "bucket": "COS_BUCKET",
    "region": "COS_REGION",
    "job_type": "JOB_TYPE",
    "workflow_ids": "WORKFLOW_IDS",
    "inspect_auto_process": "INSPECT_AUTO_PROCESS",
    "inspect_process_type": "INSPECT_PROCESS_TYPE",
    "input_prefix": "INPUT_PREFIX",
    "window": "WINDOW",
    "first_run_lookback": "FIRST_RUN_LOOKBACK",
    "job_name_prefix": "JOB_NAME_PREFIX",
    "rule_name": "RULE_NAME",
    "upload_suffixes": "UPLOAD_SUFFIXES",
    "state_prefix": "STATE_PREFIX",
    "lease_seconds": "LEASE_SECONDS",
    "upload_batch_seconds": "UPLOAD_BATCH_SECONDS",
    "upload_prefixes": "UPLOAD_PREFIXES",
    "allow_delete_whole_bucket": "ALLOW_DELETE_WHOLE_BUCKET",
    "api_timeout": "API_TIMEOUT",
    "emulator_url": "COS_EMULATOR_URL",
    "report_lookback": "REPORT_LOOKBACK",
    "report_all_jobs": "REPORT_ALL_JOBS",
    "report_stuck_after": "REPORT_STUCK_AFTER",
    "report_prefix": "REPORT_PREFIX",
    "report_webhook_url": "REPORT_WEBHOOK_URL",
    "report_webhook_format": "REPORT_WEBHOOK_FORMAT",
    "report_notify": "REPORT_NOTIFY",
    "report_fail_above": "REPORT_FAIL_ABOVE",
    "report_link": "REPORT_LINK",
    "report_link_expires": "REPORT_LINK_EXPIRES",
    "report_cancel_duplicates": "REPORT_CANCEL_DUPLICATES",
    "report_concurrency": "REPORT_CONCURRENCY",
    "secret_id": "TENCENTCLOUD_SECRETID",
    "secret_key": "TENCENTCLOUD_SECRETKEY",
    "session_token": "TENCENTCLOUD_SESSIONTOKEN",
}
FIELD_BY_ENV = {env: field for field, env in ENV_NAMES.items()}
SECRET_FIELDS = frozenset({"secret_id", "secret_key", "session_token", "report_webhook_url"})
# Function-wide only: a timer argument is written by whoever may edit a trigger or run `scf invoke`, so it may not
# change where the function writes or posts (bucket, prefixes, webhook and its format), which jobs are ours
# (JOB_NAME_PREFIX: the report finds them by it), the safety catch, the credentials or the emulator switch.
# UPLOAD_BATCH_SECONDS sizes the slots that upload events and every tick share; UPLOAD_PREFIXES must equal the COS
# triggers' prefixes. INSPECT_AUTO_PROCESS, INSPECT_PROCESS_TYPE and INPUT_PREFIX stay overridable but may only make
# a run less destructive (lib.invocation.check_narrower).
FUNCTION_WIDE = frozenset({"emulator_url", "bucket", "region", "upload_batch_seconds", "upload_prefixes",
                           "allow_delete_whole_bucket", "report_webhook_url", "report_webhook_format",
                           "report_prefix", "state_prefix", "job_name_prefix"})
OVERRIDABLE = frozenset(ENV_NAMES) - SECRET_FIELDS - FUNCTION_WIDE
NARROWS_ONLY = frozenset({"inspect_auto_process", "inspect_process_type", "input_prefix"})

MAX_REPORT_CONCURRENCY = 64  # more threads than this only queue on the service and cost memory
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}-\d{5,}$")
_WORKFLOW_ID = re.compile(r"^w[0-9A-Za-z]{6,64}$")
# CI's job-name alphabet, checked per character: a regex over the CJK range takes ~2 ms to compile, per pattern,
# on every cold start.
_NAME_ASCII = frozenset(string.ascii_letters + string.digits + "_-")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


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


# Settings that take one word of a fixed set, and what the error says otherwise (None: "must be one of ...").
_CHOICES: Dict[str, Tuple[Tuple[str, ...], Optional[str]]] = {
    "job_type": (("Job", "Workflow"), "must be Job (one ImageInspect job per object) or Workflow"),
    "inspect_process_type": (PROCESS_TYPES, None),
    "report_webhook_format": (WEBHOOK_FORMATS, None),
    "report_notify": (("always", "on-problem"), "must be always or on-problem"),
    "report_link": (REPORT_LINKS, None),
    "report_cancel_duplicates": (("timer", "all", "off"), "must be timer (cancel younger timer-window twins), all (upload jobs too) or off"),
}


class Settings(BaseModel):
    """Everything a run needs, validated; secrets are SecretStr and never rendered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    region: str
    job_type: str = "Job"
    workflow_ids: Tuple[str, ...] = ()
    inspect_auto_process: bool = False
    inspect_process_type: str = "BackupObject"
    input_prefix: str = "/"
    window: WindowSpec = WindowSpec(kind="incremental")
    first_run_lookback: timedelta = timedelta(hours=1)
    job_name_prefix: str = "autopilot"
    rule_name: Optional[str] = None
    upload_suffixes: Tuple[str, ...] = tuple(DEFAULT_SUFFIXES.split(","))
    state_prefix: str = "autopilot/"
    lease_seconds: Optional[int] = None  # unset: the function's time limit + 30 s (lib.submit.lease_ttl)
    upload_batch_seconds: int = 0  # 0: one job per upload event; else uploads coalesce per interval (lib.coalesce)
    upload_prefixes: Tuple[str, ...] = ()  # the prefixes the COS triggers watch; empty: every key (no filter)
    allow_delete_whole_bucket: bool = False
    api_timeout: float = 10.0
    emulator_url: Optional[str] = None
    report_lookback: timedelta = timedelta(days=1)
    report_all_jobs: bool = False
    report_stuck_after: timedelta = timedelta(hours=6)
    report_prefix: str = "autopilot/reports/"
    report_webhook_url: Optional[SecretStr] = None
    report_webhook_format: str = "wecom"
    report_notify: str = "on-problem"
    report_fail_above: Optional[float] = None
    report_link: str = "console"
    report_link_expires: timedelta = timedelta(hours=12)
    report_cancel_duplicates: str = "timer"  # lib.report.duplicates: which younger same-name live jobs the report cancels
    # Per-object reads in flight at once. 16: at ~20 ms per in-region call, 20,000 jobs' reads take ~25 s instead of
    # ~400 s one at a time, while 16 threads and 16 pooled connections cost a few MB of a 64 MB function.
    report_concurrency: int = 16
    secret_id: Optional[SecretStr] = None
    secret_key: Optional[SecretStr] = None
    session_token: Optional[SecretStr] = None

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

    @field_validator(*_CHOICES)
    @classmethod
    def _one_of(cls, v: str, info: ValidationInfo) -> str:
        allowed, meaning = _CHOICES[info.field_name]
        if v not in allowed:
            raise ValueError(meaning or f"must be one of {', '.join(allowed)}")
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


def _coerce_bool(field: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{ENV_NAMES[field]}={raw!r}: must be true or false")


_BOOL_FIELDS = {"inspect_auto_process", "allow_delete_whole_bucket", "report_all_jobs"}


def _raw_fields(source: Mapping[str, Any], origin: str, problems: list) -> Dict[str, Any]:
    fields: Dict[str, Any] = {}
    for env, raw in source.items():
        field = FIELD_BY_ENV.get(env)
        if field is None:
            continue
        if isinstance(raw, str) and raw.strip() == "" and field not in _BOOL_FIELDS:
            continue  # an empty variable means "use the default", as serverless.yml leaves many blank
        if field in _BOOL_FIELDS and isinstance(raw, str):
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
            if FIELD_BY_ENV.get(key) in FUNCTION_WIDE | SECRET_FIELDS:
                problems.append(f"timer argument key {key!r} is not a setting a trigger may override: it is "
                                "function-wide; set it in the function's environment (serverless.yml) instead")
                continue
            allowed = ", ".join(sorted(ENV_NAMES[f] for f in OVERRIDABLE))
            problems.append(f"timer argument key {key!r} is not a setting a trigger may override; allowed: {allowed}")
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
