"""The catch on deletes that cannot be undone: DeleteObject + AutoProcess on a bucket whose versioning is not Enabled.

With versioning a deleted image leaves a delete marker over its previous version, which `flagged restore` removes
(cloud.tencent.com/document/product/436/19883, versioning overview); without it the delete is final."""

from lib.client import CiClient
from lib.config import Settings
from lib.errors import SafetyError


def versioning_words(status: str) -> str:
    return {"Enabled": "Enabled", "Suspended": "Suspended"}.get(status, "never enabled")


def check_irreversible(settings: Settings, client: CiClient) -> str:
    """Refuse a job that would delete flagged images for good unless ALLOW_IRREVERSIBLE_DELETE=true; returns the
    versioning status read ('' when the settings delete nothing, or the operator has already acknowledged)."""
    if not settings.deletes_objects or settings.allow_irreversible_delete:
        return ""
    status = client.bucket_versioning()
    if status != "Enabled":
        raise SafetyError(
            f"INSPECT_PROCESS_TYPE=DeleteObject with INSPECT_AUTO_PROCESS=true on bucket {settings.bucket}, whose "
            f"versioning is {versioning_words(status)}, would delete every flagged image for good: a false positive "
            "could never be restored. Enable versioning on the bucket (PUT Bucket versioning), use BackupObject or "
            "SwitchObjectToPrivate, or set ALLOW_IRREVERSIBLE_DELETE=true if deletes that cannot be undone are "
            "really what you want")
    return status


def irreversible_note(settings: Settings, status: str) -> str:
    """The one sentence the report and the dry-run print when this function's deletes cannot be undone, else ''."""
    if not settings.deletes_objects or status == "Enabled":
        return ""
    return (f"deletes on this bucket cannot be undone: INSPECT_PROCESS_TYPE=DeleteObject with AutoProcess, and "
            f"bucket versioning is {versioning_words(status)} (ALLOW_IRREVERSIBLE_DELETE="
            f"{'true' if settings.allow_irreversible_delete else 'false'})")
