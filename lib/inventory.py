"""COS Inventory reports read back: the configuration, the newest report, its checked manifest and its rows.

Published facts (inventory.md §1-2, cited there): the report layout `<dest prefix>/<appid>/<bucket name>/<id>/
<YYYYMMDD>/manifest.json` + `manifest.checksum` (MD5 hex of manifest.json); data files named only by
`files[].key`; gzip CSV, no header row, columns per `fileSchema`; keys URL-encoded; numbers are strings. Everything
read back is input: each check failing raises InventoryReportError, so no job is ever made from part of a report."""

import codecs
import csv
import gzip
import hashlib
import re
import tempfile
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple
from urllib.parse import unquote

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from lib.client import CiClient
from lib.errors import InventoryConfigError, InventoryReportError

MANIFEST = "manifest.json"
CHECKSUM = "manifest.checksum"
_DATE = re.compile(r"^\d{8}$")
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_DEST_BUCKET = re.compile(r"^qcs::cos:([a-z0-9-]+)::([a-z0-9-]+-\d+)$")
SPOOL_BYTES = 32 << 20  # a data file up to this size is checked in memory; a larger one spills to /tmp
MAX_MANIFEST_BYTES = 64 << 20  # files[] of a 100M-object report stays far below (inference: ~150 B per file entry)
# The report date is the day the scan started (overview doc); COS does not say in which zone. Beijing (+0800) is
# the earlier midnight of the two candidates (UTC, +0800), so a cut derived from it is before the scan either way.
BEIJING = timezone(timedelta(hours=8))


class InventoryConfig(BaseModel):
    """The parts of GET Bucket inventory a rule reads."""

    model_config = ConfigDict(frozen=True)
    inventory_id: str
    enabled: bool
    dest_region: str
    dest_bucket: str
    dest_prefix: str  # without trailing '/'; '' when the configuration sets none
    fields: Tuple[str, ...]
    frequency: str
    versions: str


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_configuration(inventory_id: str, data: Optional[Dict[str, Any]]) -> InventoryConfig:
    """The configuration from the SDK's dict; InventoryConfigError naming the id and the fix when it cannot serve."""
    if data is None:
        raise InventoryConfigError(
            f"INVENTORY_ID={inventory_id!r}: the bucket has no inventory configuration with this id (GET Bucket "
            "inventory answered 404); run `python -m deploy` to create it, or set INVENTORY_ID to an existing one")
    dest = data.get("Destination") if isinstance(data.get("Destination"), dict) else {}
    cos = dest.get("COSBucketDestination") if isinstance(dest.get("COSBucketDestination"), dict) else {}
    match = _DEST_BUCKET.match(_text(cos.get("Bucket")))
    if not match:
        raise InventoryConfigError(
            f"INVENTORY_ID={inventory_id!r}: its destination bucket {_text(cos.get('Bucket'))[:120]!r} is not "
            "qcs::cos:<region>::<bucket-appid>; fix the configuration (python -m deploy rewrites ours)")
    fields_node = data.get("OptionalFields") if isinstance(data.get("OptionalFields"), dict) else {}
    raw_fields = fields_node.get("Field") or []
    fields = tuple(_text(f) for f in (raw_fields if isinstance(raw_fields, list) else [raw_fields]))
    schedule = data.get("Schedule") if isinstance(data.get("Schedule"), dict) else {}
    return InventoryConfig(
        inventory_id=inventory_id, enabled=_text(data.get("IsEnabled")).lower() == "true",
        dest_region=match.group(1), dest_bucket=match.group(2), dest_prefix=_text(cos.get("Prefix")).strip("/"),
        fields=fields, frequency=_text(schedule.get("Frequency")) or "Daily",
        versions=_text(data.get("IncludedObjectVersions")) or "Current")


def read_configuration(client: CiClient, inventory_id: str, bucket: str) -> InventoryConfig:
    """GET Bucket inventory, checked: the report must land in this bucket (that is where the function may read)."""
    config = parse_configuration(inventory_id, client.get_inventory_configuration(inventory_id))
    if config.dest_bucket != bucket:
        raise InventoryConfigError(
            f"INVENTORY_ID={inventory_id!r}: its reports go to bucket {config.dest_bucket}, not COS_BUCKET={bucket}; "
            "the function reads reports only in its own bucket: point the configuration's destination at it")
    return config


def report_root(config: InventoryConfig, bucket: str) -> str:
    """`<dest prefix>/<appid>/<bucket name without -appid>/<id>/`: the configuration's folder (overview doc §2.1)."""
    name, appid = bucket.rsplit("-", 1)
    lead = f"{config.dest_prefix}/" if config.dest_prefix else ""
    return f"{lead}{appid}/{name}/{config.inventory_id}/"


def manifest_key(root: str, day: str) -> str:
    return f"{root}{day}/{MANIFEST}"


def checksum_key(root: str, day: str) -> str:
    return f"{root}{day}/{CHECKSUM}"


def report_date(text: str) -> Optional[date]:
    """The YYYYMMDD folder name as a date, None if it is not one."""
    if not _DATE.match(text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def report_cut(day: str) -> datetime:
    """The newest LastModifiedDate a report of `day` is trusted to list: an hour before its day began in Beijing.

    Inventory is eventually consistent (FAQ: recent PUTs may be missing); an object modified more than an hour
    before the scan started is taken as listed. Objects modified after the cut wait for the next report."""
    parsed = report_date(day)
    assert parsed is not None
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=BEIJING).astimezone(timezone.utc) - timedelta(hours=1)


def report_dates(client: CiClient, root: str) -> List[str]:
    """The YYYYMMDD folders under the configuration's folder, newest first (one listing with '/')."""
    days = set()
    for page in client.iter_pages(root, delimiter="/"):
        for folder in page.folders:
            day = folder[len(root):].rstrip("/")
            if report_date(day) is not None:
                days.add(day)
    return sorted(days, reverse=True)


def newest_report(client: CiClient, root: str) -> Tuple[Optional[str], List[str], bytes]:
    """(newest date whose manifest.checksum exists, every date listed, that checksum's bytes); a newer date without
    one is still being written (COS writes manifest.checksum last) and is left for its own run."""
    days = report_dates(client, root)
    for day in days:
        # A GET, not a HEAD: the role may GET under STATE_PREFIX (deploy/policy.json), and read_report needs it.
        checksum = client.get_object(checksum_key(root, day))
        if checksum is not None:
            return day, days, checksum
    return None, days, b""


def _count(value: Any) -> Optional[int]:
    # Numbers in COS's manifest.json are strings ("size": "502"); S3's are numbers. Both read as int.
    text = _text(value)
    return int(text) if text.isdigit() else None


class ManifestFile(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")
    key: str
    size: Optional[int] = None
    # COS spells it md5Checksum (overview doc's manifest.json); S3 MD5checksum (storage-inventory.md). A report
    # written by an S3-compatible tool into COS (or a fixture copied from S3's docs) then reads the same.
    md5: str = Field(validation_alias=AliasChoices("md5Checksum", "MD5checksum"))

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Optional[int]:
        return _count(v)

    @field_validator("md5")
    @classmethod
    def _md5(cls, v: str) -> str:
        if not _MD5.match(v.strip()):
            raise ValueError("is not 32 hex digits")
        return v.strip().lower()


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    fileFormat: str = "CSV"
    fileSchema: str
    files: List[ManifestFile]
    listObjectCount: Optional[int] = None
    filterObjectCount: Optional[int] = None

    @field_validator("listObjectCount", "filterObjectCount", mode="before")
    @classmethod
    def _counts(cls, v: Any) -> Optional[int]:
        return _count(v)

    @property
    def columns(self) -> List[str]:
        # "Appid, Bucket, Key, Size, ..." : comma + space in the doc's sample; any spacing is accepted.
        return [c.strip() for c in self.fileSchema.split(",")]


class Report(NamedTuple):
    """A report whose manifest passed its checks; its data files are checked as they are read (rows())."""

    config: InventoryConfig
    root: str
    day: str
    manifest: Manifest
    manifest_key: str
    manifest_md5: str


def read_report(client: CiClient, config: InventoryConfig, root: str, day: str,
                checksum: Optional[bytes] = None) -> Report:
    """manifest.json checked against manifest.checksum (read here unless given), parsed, and every files[].key
    inside the report's folder."""
    key = manifest_key(root, day)
    raw = client.get_object(key)
    if checksum is None:
        checksum = client.get_object(checksum_key(root, day))
    if raw is None or checksum is None:
        missing = key if raw is None else checksum_key(root, day)
        raise InventoryReportError(f"inventory report {root}{day}/: {missing} is missing; the report is incomplete "
                                   "(COS writes manifest.checksum last) or was deleted; nothing was submitted from it")
    stated = checksum.decode("ascii", "replace").strip().lower()
    actual = hashlib.md5(raw).hexdigest()  # noqa: S324 - MD5 is the published checksum, not a security boundary
    if stated != actual:
        raise InventoryReportError(
            f"inventory report {key}: MD5 {actual} does not match manifest.checksum {stated[:64]!r}; the manifest "
            "was changed or cut short, so nothing was submitted from it; COS rewrites neither, so check who wrote "
            "them (a later report is read as usual)")
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InventoryReportError(f"inventory report {key} is {len(raw)} bytes, more than {MAX_MANIFEST_BYTES}")
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InventoryReportError(f"inventory report {key} is not a manifest.json we can read: {where}: "
                                   f"{first.get('msg')}; nothing was submitted from it") from None
    if manifest.fileFormat.upper() != "CSV":
        raise InventoryReportError(f"inventory report {key} has fileFormat {manifest.fileFormat!r}; only CSV is "
                                   "published (PUT Bucket inventory, Format)")
    if "Key" not in manifest.columns:
        raise InventoryReportError(f"inventory report {key}: fileSchema {manifest.fileSchema[:200]!r} has no Key")
    for item in manifest.files:
        if not inside(root, item.key):
            raise InventoryReportError(
                f"inventory report {key} names data file {item.key[:200]!r}, outside the configuration's folder "
                f"{root}; only COS writes there, so the manifest is not one COS wrote; nothing was submitted from it")
    return Report(config, root, day, manifest, key, actual)


def inside(root: str, key: str) -> bool:
    """Whether `key` lies in `root` without a '.', '..' or empty segment (which a URL resolver would rewrite)."""
    rest = key[len(root):] if key.startswith(root) else None
    return bool(rest) and all(part not in ("", ".", "..") for part in rest.split("/"))  # type: ignore[union-attr]


class Row(NamedTuple):
    """One data-file line, by fileSchema: the decoded key and the optional fields the rules read (None if absent)."""

    appid: str
    bucket: str
    key: str
    size: Optional[int]
    modified: Optional[datetime]
    storage_class: str
    current: bool  # IsLatest and not IsDeleteMarker (IncludedObjectVersions=All); True without those columns
    problem: str  # why the line cannot be read ('' when it can)
    etag: Optional[str] = None  # the ETag column (OptionalFields ETag), as the report writes it


def parse_time(text: str) -> datetime:
    """LastModifiedDate: ISO 8601 with its zone (settled in the issue: '2024-01-02T03:04:05.000Z' or '+08:00')."""
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    moment = datetime.fromisoformat(value if "." not in value else _trim_fraction(value))
    if moment.tzinfo is None:
        raise ValueError("has no zone")
    return moment.astimezone(timezone.utc)


def _trim_fraction(value: str) -> str:
    # Python 3.9's fromisoformat takes 3 or 6 fraction digits only.
    head, _, tail = value.partition(".")
    digits = re.match(r"\d*", tail).group(0)  # type: ignore[union-attr]
    return f"{head}.{(digits + '000000')[:6]}{tail[len(digits):]}"


def _row(columns: Dict[str, int], width: int, fields: List[str]) -> Row:
    if len(fields) != width:
        return Row("", "", "", None, None, "", False, f"has {len(fields)} columns, fileSchema names {width}")

    def get(name: str) -> Optional[str]:
        return fields[columns[name]] if name in columns else None

    key = unquote(get("Key") or "")  # percent-encoding (RFC 3986), not '+' for space (inventory.md §2.3)
    problem = ""
    size = None
    if get("Size") is not None:
        size = int(get("Size")) if (get("Size") or "").isdigit() else None
        problem = "" if size is not None else f"Size {(get('Size') or '')[:40]!r} is not a number"
    modified = None
    if get("LastModifiedDate") is not None:
        try:
            modified = parse_time(get("LastModifiedDate") or "")
        except ValueError:
            problem = problem or f"LastModifiedDate {(get('LastModifiedDate') or '')[:40]!r} is not an ISO 8601 time"
    current = (get("IsLatest") or "true").lower() == "true" and (get("IsDeleteMarker") or "false").lower() != "true"
    return Row(get("Appid") or "", get("Bucket") or "", key, size, modified, get("StorageClass") or "", current,
               problem, get("ETag") or None)


def rows(client: CiClient, report: Report) -> Iterator[Row]:
    """Every row of every data file, in files[] order; a file's md5Checksum is checked before any of its rows."""
    columns = {name: i for i, name in enumerate(report.manifest.columns)}
    width = len(columns)
    for item in report.manifest.files:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            if not client.read_object_into(item.key, spool):
                raise InventoryReportError(
                    f"inventory report {report.manifest_key} names data file {item.key}, which does not exist; "
                    "nothing was submitted from the report")
            spool.seek(0)
            digest = hashlib.md5()  # noqa: S324 - the published per-file checksum
            for chunk in iter(lambda: spool.read(1 << 20), b""):
                digest.update(chunk)
            if digest.hexdigest() != item.md5:
                raise InventoryReportError(
                    f"inventory report {report.manifest_key}: data file {item.key} has MD5 {digest.hexdigest()}, "
                    f"not its md5Checksum {item.md5}; the file was changed or cut short, so nothing was submitted "
                    "from the report")
            spool.seek(0)
            try:
                with gzip.GzipFile(fileobj=spool, mode="rb") as unzipped:
                    text = codecs.getreader("utf-8")(unzipped, errors="strict")
                    for fields in csv.reader(text):
                        if fields:
                            yield _row(columns, width, fields)
            except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
                raise InventoryReportError(
                    f"inventory report {report.manifest_key}: data file {item.key} is not gzip UTF-8 CSV ({exc}); "
                    "rows read before it were not submitted") from None
