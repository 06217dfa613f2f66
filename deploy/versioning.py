"""What `python -m deploy plan|apply` warns about a function that deletes flagged images (INSPECT_PROCESS_TYPE=
DeleteObject with AutoProcess) on a bucket whose versioning is not Enabled: its deletes cannot be undone, and without
ALLOW_IRREVERSIBLE_DELETE=true every run of it is refused (lib.irreversible). GET Bucket versioning (API page
cloud.tencent.com/document/api/436/19888) is read only when some function deletes."""
from __future__ import annotations

from typing import List, Tuple

from deploy.lifecycle import CosBucketApi
from deploy.spec import AppSpec
from lib.config import Settings, load_settings
from lib.errors import ConfigError
from lib.irreversible import irreversible_note

FIX_PERMISSION = ("the deploy credentials lack cos:{action}: allow cos:GetBucketVersioning on "
                  "qcs::cos:{region}:uid/<appid>:{bucket}/* for the operator's sub-account, or read the bucket's "
                  "versioning in the COS console before deploying a function that deletes")


class CosVersioning(CosBucketApi):
    """GET Bucket versioning."""

    FIX_PERMISSION = FIX_PERMISSION

    def status(self) -> str:
        """'Enabled', 'Suspended', or '' for a bucket that never had versioning (the API answers an empty
        VersioningConfiguration)."""
        data = self._call("GetBucketVersioning", lambda: self.client.get_bucket_versioning(Bucket=self.target.bucket))
        return str((data if isinstance(data, dict) else {}).get("Status") or "")


def deleting_functions(app: AppSpec) -> List[Tuple[str, Settings]]:
    """The submit functions whose environment deletes flagged images (the report shares the environment but makes no
    job); one whose settings do not load is left to the checks that name its problem."""
    found = []
    for function in app.functions:
        if not function.handler.startswith("scf_submit."):
            continue
        try:
            settings = load_settings(function.environment)
        except ConfigError:
            continue
        if settings.deletes_objects:
            found.append((function.key, settings))
    return found


def versioning_warnings(app: AppSpec, api: CosVersioning) -> List[str]:
    """One warning per deleting function whose deletes cannot be undone on the bucket as it is now."""
    deleting = deleting_functions(app)
    if not deleting:
        return []
    status = api.status()
    warnings = []
    for key, settings in deleting:
        note = irreversible_note(settings, status)
        if not note:
            continue
        refused = "" if settings.allow_irreversible_delete else (
            "; every run of it is refused until versioning is Enabled on the bucket (PUT Bucket versioning) or "
            "ALLOW_IRREVERSIBLE_DELETE=true")
        warnings.append(f"function {key}: {note}{refused}")
    return warnings
