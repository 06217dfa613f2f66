"""COS Inventory: the bucket inventory configuration (validated as the API pages describe it) and the report it
produces (gzip CSV data files, manifest.json, manifest.checksum), written in the documented layout.

Sources, read 2026-12-07: the API pages PUT / GET / DELETE / List / POST Bucket inventory
(tencentyun/intlcloud-documents `yehe_doc/基础存储服务/对象存储/API 文档/Bucket 接口/清单（inventory）/`, i.e.
https://www.tencentcloud.com/document/product/436/30625 and siblings), the inventory overview (清单功能概述: the
report layout and the manifest.json sample) and the SDK's ut/test.py. docs/emulator.md has a row per behaviour."""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - only used on already-parsed trees
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from .errors import EmulatorError, invalid_argument
from .models import ObjectRecord
from .xmlio import Node, text

ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEST_BUCKET_RE = re.compile(r"^qcs::cos:(?P<region>[a-z0-9-]+)::(?P<bucket>[a-z0-9][a-z0-9-]*-(?P<appid>[0-9]+))$")
BUCKET_RE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)-(?P<appid>[0-9]+)$")
MAX_CONFIGURATIONS = 1000
LIST_PAGE_SIZE = 100
ROWS_PER_FILE = 100_000
# The PUT page's field list, in the order of the manifest sample's fileSchema ("Appid, Bucket, Key, Size,
# LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus"); x-cos-meta-* fields follow.
OPTIONAL_FIELDS = ("Size", "LastModifiedDate", "ETag", "StorageClass", "IsMultipartUploaded", "ReplicationStatus",
                   "Tag", "Crc64")
META_FIELD_RE = re.compile(r"^x-cos-meta-[A-Za-z0-9_.-]+$")
FREQUENCIES = ("Daily", "Weekly", "Monthly")
VERSION_COLUMNS = ("VersionId", "IsLatest", "IsDeleteMarker")
CST = timezone(timedelta(hours=8))


class InventoryRunError(EmulatorError):
    """A report cannot be produced (disabled configuration, missing destination bucket)."""


@dataclass
class InventoryConfig:
    """One inventory configuration of a bucket; ``seq`` keeps the order configurations were first put in."""

    id: str
    is_enabled: bool
    destination_bucket: str  # qcs::cos:<region>::<bucket-appid>, as sent
    format: str
    included_versions: str
    frequency: str
    seq: int = 0
    account_id: Optional[str] = None
    prefix: Optional[str] = None
    encryption: Optional[str] = None  # the element name sent: SSE-COS (the page) or SSECOS (the SDK's demo)
    monthly_date: Optional[str] = None
    filter_prefix: Optional[str] = None
    filter_and: bool = False
    filter_tags: List[Tuple[str, str]] = field(default_factory=list)
    period_start: Optional[str] = None
    period_end: Optional[str] = None
    optional_fields: List[str] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> InventoryConfig:
        data = dict(data)
        data["filter_tags"] = [tuple(t) for t in data.get("filter_tags", [])]
        return cls(**data)

    @property
    def target_bucket(self) -> str:
        """The destination's ``<bucket-appid>``."""
        match = DEST_BUCKET_RE.match(self.destination_bucket)
        assert match is not None  # validated on PUT
        return match.group("bucket")


# ----- request validation ----------------------------------------------------------------------------------
def check_id(value: Optional[str]) -> str:
    """The ``id`` query parameter: required, ``a-z A-Z 0-9 - _ .`` (the pages), at most 64 (the project's contract;
    the pages state no length).

    Raises:
        EmulatorError: 400 InvalidArgument.
    """
    if not value:
        raise invalid_argument("the id query parameter is required (?inventory&id=<id>)")
    if not ID_RE.match(value):
        raise invalid_argument(f"id {value[:80]!r} must be 1-64 characters of a-z A-Z 0-9 - _ .")
    return value


def _bool(value: Optional[str], name: str) -> bool:
    # the SDK's ut/test.py sends 'True' and passes against the service, so the case is not significant
    if value is None or value.lower() not in ("true", "false"):
        raise invalid_argument(f"{name} is required and must be true or false, got {value!r}")
    return value.lower() == "true"


def _required(elem: ET.Element, path: str) -> str:
    value = text(elem, path)
    if not value:
        raise invalid_argument(f"{path.replace('/', '.')} is required")
    return value


def parse_configuration(root: ET.Element, query_id: str, one_time: bool = False) -> InventoryConfig:
    """Validate an ``InventoryConfiguration`` body (PUT, or POST when ``one_time``) against the PUT page's table.

    Raises:
        EmulatorError: 400 InvalidArgument naming the field.
    """
    body_id = text(root, "Id")
    if body_id != query_id:
        raise invalid_argument(f"Id {body_id!r} must equal the id query parameter {query_id!r}")
    if one_time:
        present = [n for n in ("IsEnabled", "Schedule") if root.find(n) is not None]
        if present:
            raise invalid_argument(f"a one-time inventory (POST) must not carry {' or '.join(present)}")
        enabled, frequency, monthly = True, "Once", None
    else:
        enabled = _bool(text(root, "IsEnabled"), "IsEnabled")
        frequency = _required(root, "Schedule/Frequency")
        if frequency not in FREQUENCIES:
            raise invalid_argument(f"Schedule.Frequency must be one of {', '.join(FREQUENCIES)}, got {frequency!r}")
        monthly = text(root, "Schedule/MonthlyDate") or None
    versions = _required(root, "IncludedObjectVersions")
    if versions not in ("All", "Current"):
        raise invalid_argument(f"IncludedObjectVersions must be All or Current, got {versions!r}")
    dest = root.find("Destination/COSBucketDestination")
    if dest is None:
        raise invalid_argument("Destination.COSBucketDestination is required")
    bucket = _required(dest, "Bucket")
    if not DEST_BUCKET_RE.match(bucket):
        raise invalid_argument(f"Destination.COSBucketDestination.Bucket must be qcs::cos:<region>::<bucket-appid>, "
                               f"got {bucket[:120]!r}")
    fmt = _required(dest, "Format")
    if fmt != "CSV":
        raise invalid_argument(f"Destination.COSBucketDestination.Format must be CSV, got {fmt!r}")
    encryption = None
    enc = dest.find("Encryption")
    if enc is not None:
        names = [child.tag for child in enc]
        bad = [n for n in names if n not in ("SSE-COS", "SSECOS")]
        if bad:
            raise invalid_argument(f"Encryption supports SSE-COS only, got {bad[0]!r}")
        encryption = names[0] if names else None
    config = InventoryConfig(id=query_id, is_enabled=enabled, destination_bucket=bucket, format=fmt,
                             included_versions=versions, frequency=frequency, monthly_date=monthly,
                             account_id=text(dest, "AccountId") or None, prefix=text(dest, "Prefix") or None,
                             encryption=encryption)
    _parse_filter(root.find("Filter"), config)
    _parse_fields(root.find("OptionalFields"), config)
    return config


def _parse_filter(flt: Optional[ET.Element], config: InventoryConfig) -> None:
    if flt is None:
        return
    conj = flt.find("And")
    scope = conj if conj is not None else flt
    config.filter_and = conj is not None
    config.filter_prefix = text(scope, "Prefix") or None
    for tag in scope.findall("Tag"):
        key = text(tag, "Key")
        if not key:
            raise invalid_argument("Filter Tag.Key is required")
        config.filter_tags.append((key, text(tag, "Value") or ""))
    period = flt.find("Period")
    if period is not None:
        for name in ("StartTime", "EndTime"):
            value = text(period, name)
            if value and not value.isdigit():
                raise invalid_argument(f"Filter.Period.{name} must be a Unix time in seconds, got {value!r}")
        config.period_start = text(period, "StartTime") or None
        config.period_end = text(period, "EndTime") or None


def _parse_fields(fields_elem: Optional[ET.Element], config: InventoryConfig) -> None:
    names = [(f.text or "").strip() for f in fields_elem.findall("Field")] if fields_elem is not None else []
    for name in names:
        if name not in OPTIONAL_FIELDS and not META_FIELD_RE.match(name):
            raise invalid_argument(f"OptionalFields.Field {name!r} is not one of {', '.join(OPTIONAL_FIELDS)} "
                                   "or x-cos-meta-<name>")
    if config.filter_tags and "Tag" not in names:
        raise invalid_argument("OptionalFields must include Tag when Filter uses Tag")
    config.optional_fields = list(dict.fromkeys(names))


# ----- rendering ---------------------------------------------------------------------------------------------
def configuration_nodes(config: InventoryConfig, one_time: bool = False) -> List[Node]:
    """The configuration's elements in the GET page's sample order."""
    dest: List[Node] = [("Format", config.format)]
    if config.account_id:
        dest.append(("AccountId", config.account_id))
    dest.append(("Bucket", config.destination_bucket))
    if config.prefix:
        dest.append(("Prefix", config.prefix))
    if config.encryption:
        dest.append(("Encryption", [(config.encryption, "")]))
    nodes: List[Node] = [("Id", config.id)]
    if not one_time:
        nodes.append(("IsEnabled", config.is_enabled))
    nodes.append(("Destination", [("COSBucketDestination", dest)]))
    if not one_time:
        schedule: List[Node] = [("Frequency", config.frequency)]
        if config.monthly_date:
            schedule.append(("MonthlyDate", config.monthly_date))
        nodes.append(("Schedule", schedule))
    flt = _filter_nodes(config)
    if flt:
        nodes.append(("Filter", flt))
    nodes.append(("IncludedObjectVersions", config.included_versions))
    # Always present: the SDK's get_bucket_inventory indexes data['OptionalFields'] unconditionally.
    nodes.append(("OptionalFields", [("Field", f) for f in config.optional_fields]))
    return nodes


def _filter_nodes(config: InventoryConfig) -> List[Node]:
    scope: List[Node] = []
    if config.filter_prefix is not None:
        scope.append(("Prefix", config.filter_prefix))
    scope += [("Tag", [("Key", k), ("Value", v)]) for k, v in config.filter_tags]
    out: List[Node] = [("And", scope)] if config.filter_and and scope else scope
    if config.period_start or config.period_end:
        period: List[Node] = []
        if config.period_start:
            period.append(("StartTime", config.period_start))
        if config.period_end:
            period.append(("EndTime", config.period_end))
        out.append(("Period", period))
    return out


# ----- the report --------------------------------------------------------------------------------------------
@dataclass
class InventoryReport:
    """What one run wrote: keys in the destination bucket, in the order they were written (checksum last)."""

    source_bucket: str
    destination_bucket: str
    id: str
    date: str
    manifest_key: str
    checksum_key: str
    data_keys: List[str]
    listed: int
    rows: int

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


def split_bucket(bucket: str) -> Tuple[str, str]:
    """``examplebucket-1250000000`` → ``("examplebucket", "1250000000")``."""
    match = BUCKET_RE.match(bucket)
    if match is None:
        raise invalid_argument(f"bucket {bucket!r} is not <name>-<appid>")
    return match.group("name"), match.group("appid")


def report_folder(config: InventoryConfig, source_bucket: str) -> str:
    """``<prefix>/<appid>/<bucket name>/<id>/`` (overview page; the bucket without -APPID, as every sample).

    The pages append a slash to the prefix ("COS will automatically append a slash"); one already there is kept."""
    name, appid = split_bucket(source_bucket)
    prefix = config.prefix or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return f"{prefix}{appid}/{name}/{config.id}/"


def report_date(now: datetime) -> str:
    """YYYYMMDD of the scan's start, in China Standard Time (COS's home zone; the pages name no zone)."""
    return now.astimezone(CST).strftime("%Y%m%d")


def _selected(config: InventoryConfig, records: List[ObjectRecord]) -> Tuple[List[ObjectRecord], List[ObjectRecord]]:
    """(listed, kept): listed = under Filter.Prefix; kept = listed and inside Period and matching every Tag."""
    prefix = config.filter_prefix or ""
    listed = [r for r in records if r.key.startswith(prefix)]
    start = int(config.period_start) if config.period_start else None
    end = int(config.period_end) if config.period_end else None
    kept = []
    for record in listed:
        stamp = int(record.last_modified.timestamp())
        if (start is not None and stamp < start) or (end is not None and stamp > end):
            continue
        if config.filter_tags:  # objects carry no tags here, so a Tag filter keeps nothing
            continue
        kept.append(record)
    return listed, kept


def file_schema(config: InventoryConfig) -> List[str]:
    """Appid, Bucket, Key, [VersionId, IsLatest, IsDeleteMarker when All], then the optional fields."""
    columns = ["Appid", "Bucket", "Key"]
    if config.included_versions == "All":
        columns += list(VERSION_COLUMNS)
    columns += [f for f in OPTIONAL_FIELDS if f in config.optional_fields]
    columns += [f for f in config.optional_fields if f not in OPTIONAL_FIELDS]
    return columns


def encode_key(key: str) -> str:
    """Percent-encode a key for the Key column; ``/`` stays, so ``urllib.parse.unquote`` restores the key and ``+``
    is ``%2B``, never a space (the pages say only "URL-encoded")."""
    return quote(key, safe="/")


def _row(columns: List[str], record: ObjectRecord, name: str, appid: str) -> List[str]:
    values = {"Appid": appid, "Bucket": name, "Key": encode_key(record.key), "VersionId": "", "IsLatest": "true",
              "IsDeleteMarker": "false", "Size": str(record.size),
              "LastModifiedDate": record.last_modified.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
              "ETag": record.etag.strip('"'), "StorageClass": "STANDARD", "IsMultipartUploaded": "false",
              "ReplicationStatus": "", "Tag": "", "Crc64": ""}
    out = []
    for column in columns:
        if column.startswith("x-cos-meta-"):
            out.append(record.metadata.get(column[len("x-cos-meta-"):].lower(), ""))
        else:
            out.append(values[column])
    return out


def _gzip_csv(rows: List[List[str]]) -> bytes:
    text_buffer = io.StringIO()
    writer = csv.writer(text_buffer, quoting=csv.QUOTE_ALL)  # RFC 4180: CRLF, "" inside quotes
    writer.writerows(rows)
    return gzip.compress(text_buffer.getvalue().encode("utf-8"), mtime=0)


def build_report(config: InventoryConfig, source_bucket: str, records: List[ObjectRecord], date: str,
                 put: Callable[[str, bytes, str], None], rows_per_file: int = ROWS_PER_FILE) -> InventoryReport:
    """Write the data files, then manifest.json, then manifest.checksum (last, as COS does) through ``put``."""
    if rows_per_file < 1:
        raise invalid_argument(f"rows_per_file must be >= 1, got {rows_per_file}")
    name, appid = split_bucket(source_bucket)
    dest_name, dest_appid = split_bucket(config.target_bucket)
    folder = report_folder(config, source_bucket)
    listed, kept = _selected(config, sorted(records, key=lambda r: r.key))
    columns = file_schema(config)
    files = []
    data_keys = []
    for start in range(0, len(kept), rows_per_file):  # an empty report names no data file
        chunk = kept[start:start + rows_per_file]
        body = _gzip_csv([_row(columns, r, name, appid) for r in chunk])
        key = f"{folder}{uuid.uuid4().hex}.csv.gz"
        put(key, body, "application/x-gzip")
        data_keys.append(key)
        files.append({"key": key, "size": str(len(body)),
                      "md5Checksum": hashlib.md5(body).hexdigest()})  # noqa: S324 - the documented checksum
    manifest = {
        "sourceAppid": appid, "sourceBucket": name, "destinationAppid": dest_appid, "destinationBucket": dest_name,
        "fileFormat": "CSV", "listObjectCount": str(len(listed)),
        "listStorageSize": str(sum(r.size for r in listed)), "filterObjectCount": str(len(kept)),
        "filterStorageSize": str(sum(r.size for r in kept)), "fileSchema": ", ".join(columns), "files": files,
    }
    manifest_bytes = json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8")
    manifest_key = f"{folder}{date}/manifest.json"
    checksum_key = f"{folder}{date}/manifest.checksum"
    put(manifest_key, manifest_bytes, "application/json")
    put(checksum_key, hashlib.md5(manifest_bytes).hexdigest().encode("ascii"), "text/plain")  # noqa: S324
    return InventoryReport(source_bucket=source_bucket, destination_bucket=config.target_bucket, id=config.id,
                           date=date, manifest_key=manifest_key, checksum_key=checksum_key, data_keys=data_keys,
                           listed=len(listed), rows=len(kept))
