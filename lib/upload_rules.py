"""Which uploaded objects the autopilot takes: one rule set for live upload events and for the records coalescing
mode stores (lib.upload_state checks a stored record by the same rules, so a record cannot name a key an event could not)."""

from lib.config import Settings
from lib.events import UploadedObject


def skip_reason(settings: Settings, obj: UploadedObject) -> str:
    """Why the object is not inspected ('' when it is): not an upload, another bucket, a folder marker, outside the
    watched prefixes, under our own folders, or a suffix not in UPLOAD_SUFFIXES."""
    if obj.event_name and not obj.event_name.startswith("cos:ObjectCreated"):
        return f"event {obj.event_name} is not an upload"
    if obj.bucket != settings.bucket:
        return f"bucket {obj.bucket} is not COS_BUCKET"
    if obj.key.endswith("/"):
        return "folder marker"
    if not settings.watches(obj.key):
        return (f"key {obj.key!r} is outside UPLOAD_PREFIXES={','.join(settings.upload_prefixes)!r}, the prefixes "
                "this function's COS triggers watch")
    return own_or_suffix_reason(settings, obj.key)


def own_or_suffix_reason(settings: Settings, key: str) -> str:
    """The rules every path shares ('' when none applies): our own folders, then UPLOAD_SUFFIXES."""
    for prefix in settings.skip_prefixes():
        if key.startswith(prefix):
            return f"under {prefix} (our own state or CI's backups; processing it would recurse)"
    if not key.lower().endswith(settings.upload_suffixes):
        return "suffix not in UPLOAD_SUFFIXES"
    return ""
