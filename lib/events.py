"""SCF events: timer and COS-upload payloads, parsed once into typed models."""

import json
from datetime import datetime
from typing import Any, Dict, List, Optional, Union
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lib.errors import InvalidEventError
from lib.windows import as_utc


class _CloudModel(BaseModel):
    # Tencent owns these shapes and adds fields over time: ignore what we do not use.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class TimerEvent(_CloudModel):
    """A timer trigger firing; `time` is the firing instant in UTC."""

    type: str = Field(alias="Type")
    trigger_name: str = Field(alias="TriggerName")
    time: datetime = Field(alias="Time")
    message: str = Field("", alias="Message")

    @field_validator("type")
    @classmethod
    def _is_timer(cls, v: str) -> str:
        if v.lower() != "timer":
            raise ValueError("Type is not Timer, expected Timer")  # the value itself is never echoed
        return "Timer"

    @field_validator("time")
    @classmethod
    def _utc_seconds(cls, v: datetime) -> datetime:
        # Windows subtract look-backs and render in Beijing time: a Time at datetime's ends would overflow there.
        if not 1970 <= v.year <= 9000:
            raise ValueError("Time must be a firing instant between the years 1970 and 9000")
        return as_utc(v).replace(microsecond=0)

    @field_validator("trigger_name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or len(v) > 60:
            raise ValueError("TriggerName must be 1-60 characters")
        return _utf8(v)

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, v: Any) -> str:
        return "" if v is None else v

    @field_validator("message")
    @classmethod
    def _message_text(cls, v: str) -> str:
        return _utf8(v)


def _utf8(v: str) -> str:
    # JSON's \ud800 escapes decode to lone surrogates, which later encodes (hashes, URLs, logs) cannot take.
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text (it holds a lone surrogate)") from None
    return v


class _UploadModel(_CloudModel):
    # Built on first use, not at import: a timer tick never parses an upload event, so its cold start skips these.
    model_config = ConfigDict(defer_build=True)


class CosObjectInfo(_UploadModel):
    key: str
    url: str = ""
    size: int = 0
    vid: str = ""
    meta: Dict[str, Any] = Field(default_factory=dict)

    @field_validator("meta", mode="before")
    @classmethod
    def _meta(cls, v: Any) -> Dict[str, Any]:
        return v if isinstance(v, dict) else {}

    @field_validator("vid", mode="before")
    @classmethod
    def _vid(cls, v: Any) -> str:
        return "" if v is None else str(v)


class CosBucketInfo(_UploadModel):
    name: str
    appid: str
    region: str = ""
    cos_region: Optional[str] = Field(None, alias="cosRegion")

    @field_validator("appid", mode="before")
    @classmethod
    def _appid(cls, v: Any) -> str:
        return str(v)


class CosEntity(_UploadModel):
    cos_object: CosObjectInfo = Field(alias="cosObject")
    cos_bucket: CosBucketInfo = Field(alias="cosBucket")


class CosEventMeta(_UploadModel):
    event_name: str = Field("", alias="eventName")
    event_time: Optional[int] = Field(None, alias="eventTime")


class CosRecord(_UploadModel):
    cos: CosEntity
    event: CosEventMeta = Field(default_factory=CosEventMeta)


class MalformedRecord(_UploadModel):
    """A record of a merged delivery that failed validation: skipped with its reason, the others still processed."""

    index: int
    key: str  # what the record's key field held, escaped (or '' when it held none)
    reason: str


class CosEvent(_UploadModel):
    """A COS trigger delivery; several upload messages may be merged into one."""

    records: List[CosRecord] = Field(alias="Records", min_length=1)
    malformed: List[MalformedRecord] = []

    @model_validator(mode="before")
    @classmethod
    def _each_record(cls, raw: Any) -> Any:
        # One malformed record must not drop the valid ones merged beside it (issue 22, point 8); an event with no
        # valid record at all stays an invalid event.
        if not isinstance(raw, dict) or not isinstance(raw.get("Records"), list) or not raw["Records"]:
            return raw
        good: List[Any] = []
        bad: List[MalformedRecord] = []
        for index, item in enumerate(raw["Records"]):
            try:
                good.append(CosRecord.model_validate(item))
            except ValidationError as exc:
                bad.append(MalformedRecord(index=index, key=_key_field(item), reason=_summarise(exc)))
        if not good:
            raise ValueError(f"no record is valid; record 0: {bad[0].reason}")
        return {**raw, "Records": good, "malformed": bad}


class UploadedObject(BaseModel):
    """One uploaded object, its key decoded and checked against the event's URL."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # upload path only, as _UploadModel
    bucket: str
    key: str
    size: int
    etag: str
    request_id: str
    version_id: str
    event_name: str
    event_time: Optional[int] = None  # the record's eventTime (Unix seconds): the same on every redelivery


def parse_event(raw: Union[Dict[str, Any], str, bytes]) -> Union[TimerEvent, CosEvent]:
    """Validate a raw SCF event into a TimerEvent or CosEvent; raises InvalidEventError."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEventError("event is not UTF-8 text") from None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidEventError(f"event is not JSON: {getattr(exc, 'msg', exc)}") from None
        except RecursionError:
            raise InvalidEventError("event is not JSON we accept: nested too deeply") from None
    if not isinstance(raw, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(raw).__name__}")
    model = CosEvent if "Records" in raw else TimerEvent
    if model is TimerEvent and "Type" not in raw:
        raise InvalidEventError("event is neither a timer event (Type, TriggerName, Time) nor a COS event (Records)")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEventError(f"{model.__name__} is malformed: {_summarise(exc)}") from None


def _summarise(exc: ValidationError) -> str:
    # Never echo input values: a COS event carries the uploader's Authorization header.
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc or '(root)'}: {err.get('msg')}")
    return "; ".join(parts)


def _key_field(item: Any) -> str:
    """A malformed record's key field as shown_key gives it; '' if it has none."""
    cos = item.get("cos") if isinstance(item, dict) else None
    obj = cos.get("cosObject") if isinstance(cos, dict) else None
    key = obj.get("key") if isinstance(obj, dict) else None
    return shown_key(key) if isinstance(key, str) else ""


def shown_key(key: str) -> str:
    """A record's key for a skip reason: its last 200 characters, with text UTF-8 cannot encode escaped (the key may
    hold the very text that made the record unreadable), as logs and JSON need."""
    return key[-200:].encode("utf-8", "backslashreplace").decode("utf-8")


class UnreadableRecord(ValueError):
    """A record we cannot act on safely: its key and URL disagree, or its text is not valid Unicode."""


def uploaded_object(record: CosRecord) -> UploadedObject:
    """Decode a record's object key (`/<appid>/<name>/<key>`) and cross-check it with the percent-encoded URL."""
    obj, bucket = record.cos.cos_object, record.cos.cos_bucket
    meta = obj.meta
    etag = str(meta.get("ETag") or meta.get("etag") or "").strip('"')
    request_id = str(meta.get("x-cos-request-id") or "")
    try:
        # Everything below ends up in the job name's hash, the manifest or the logs, which must encode as UTF-8.
        _utf8("".join((obj.key, obj.url, bucket.appid, bucket.name, obj.vid, etag, request_id,
                       record.event.event_name)))
    except ValueError as exc:
        raise UnreadableRecord(f"its key, url, bucket, version id, ETag, request id or event name {exc}") from None
    prefix = f"/{bucket.appid}/{bucket.name}/"
    if not obj.key.startswith(prefix):
        raise UnreadableRecord(f"key does not start with {prefix!r}")
    key = obj.key[len(prefix):]
    if obj.url:
        from_url = unquote(urlparse(obj.url).path[1:])
        if from_url != key:
            # Seen shapes: raw key + encoded URL (documented). Accept an encoded key only if it decodes to the URL.
            if unquote(key) == from_url:
                key = from_url
            else:
                raise UnreadableRecord("key and url name different objects")
    return UploadedObject(
        bucket=f"{bucket.name}-{bucket.appid}",
        key=key,
        size=obj.size,
        etag=etag,
        request_id=request_id,
        version_id=obj.vid,
        event_name=record.event.event_name,
        event_time=record.event.event_time,
    )
