"""Render deploy/policy.json (the function role's least-privilege CAM policy) for one bucket.

``python -m deploy.policy --bucket examplebucket-1250000000 --region ap-guangzhou`` prints the policy;
without flags it reads COS_BUCKET, COS_REGION, STATE_PREFIX and REPORT_PREFIX from the environment, then from the
.env beside serverless.yml (as `python -m deploy` does).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import quote

from deploy.spec import SERVERLESS_YML, read_dotenv
from lib.config import load_settings
from lib.errors import ConfigError

TEMPLATE = Path(__file__).resolve().parent / "policy.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
# A prefix lands in CAM resources (`qcs::cos:...:<bucket>/<prefix>*`) and in `string_like` conditions. CAM reads `*`
# there as "any characters" (COS policy guide 436/30580: `.../doc/*`; conditions 436/46205), so `a*/` would grant the
# role, or deny a writer, more than the folder. `?` is refused as well: it is a one-character wildcard in the
# string_like family of policy languages (inference: Tencent's pages we read do not say either way).
CAM_WILDCARDS = ("*", "?")


def check_prefix(name: str, value: str) -> None:
    """Refuse a prefix that CAM would read as a pattern, naming the variable, its value and the fix."""
    found = [c for c in CAM_WILDCARDS if c in value]
    if found:
        raise ConfigError([f"{name}={value!r} contains {' and '.join(repr(c) for c in found)}, which CAM policies "
                           "read as a wildcard, so the role's grant and the bucket policy's deny would cover other "
                           "folders too: use a plain folder name such as autopilot/ (letters, digits, '-', '_', '/')"])


def placeholders(settings_env: Mapping[str, str]) -> Dict[str, str]:
    """Validate the values with the settings model and derive APPID and the URL-encoded prefix."""
    settings = load_settings(settings_env)
    check_prefix("STATE_PREFIX", settings.state_prefix)
    check_prefix("REPORT_PREFIX", settings.report_prefix)
    for prefix in settings.upload_prefixes:
        check_prefix("UPLOAD_PREFIXES", prefix)
    return {
        "BUCKET": settings.bucket,
        "REGION": settings.region,
        "APPID": settings.bucket.rsplit("-", 1)[1],
        "STATE_PREFIX": settings.state_prefix,
        # CAM compares cos:prefix with the request's URL-encoded prefix parameter (see docs/deploy.md).
        "STATE_PREFIX_URLENCODED": quote(settings.state_prefix, safe=""),
        "REPORT_PREFIX": settings.report_prefix,
        # A timer window is counted by listing INPUT_PREFIX before its job (issue 25); a timer argument may only narrow
        # it, so `<INPUT_PREFIX>*` covers every rule. The whole bucket ('/') lists with an empty prefix: `*`.
        "INPUT_PREFIX": "" if settings.whole_bucket else settings.input_prefix,
        "INPUT_PREFIX_URLENCODED": "" if settings.whole_bucket else quote(settings.input_prefix, safe=""),
        # Expanded per prefix by render(): an empty UPLOAD_PREFIXES means every key fires the trigger.
        "UPLOAD_PREFIX": ",".join(settings.upload_prefixes),
    }


def render(settings_env: Mapping[str, str], template: Path = TEMPLATE) -> Dict[str, Any]:
    """The policy document with every ${NAME} replaced.

    Raises ConfigError for a bad bucket/region/prefix, KeyError for an unknown placeholder.
    """
    values = placeholders(settings_env)
    uploads = values["UPLOAD_PREFIX"].split(",") if values["UPLOAD_PREFIX"] else [""]

    def each_upload_prefix(item: Any) -> List[Any]:
        # A resource under ${UPLOAD_PREFIX} becomes one resource per watched prefix (HEAD of an uploaded object).
        if isinstance(item, str) and "${UPLOAD_PREFIX}" in item:
            return [item.replace("${UPLOAD_PREFIX}", prefix) for prefix in uploads]
        return [item]

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], node)
        if isinstance(node, list):
            filled = [fill(one) for item in node for one in each_upload_prefix(item)]
            return [one for n, one in enumerate(filled) if one not in filled[:n]]  # `*` twice for the whole bucket
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return node

    return fill(json.loads(template.read_text(encoding="utf-8")))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.policy", description=__doc__.splitlines()[0])
    environ = {**read_dotenv(SERVERLESS_YML.parent / ".env"), **os.environ}  # the deploy steps' .env (README, 1.)
    parser.add_argument("--bucket", default=environ.get("COS_BUCKET", ""), help="BucketName-APPID")
    parser.add_argument("--region", default=environ.get("COS_REGION", ""), help="e.g. ap-guangzhou")
    parser.add_argument("--state-prefix", default=environ.get("STATE_PREFIX", ""), help="default autopilot/")
    parser.add_argument("--report-prefix", default=environ.get("REPORT_PREFIX", ""),
                        help="default autopilot/reports/")
    parser.add_argument("--upload-prefixes", default=environ.get("UPLOAD_PREFIXES", ""),
                        help="the COS triggers' prefixes, comma-separated (default: every key)")
    parser.add_argument("--out", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    env = {"COS_BUCKET": args.bucket, "COS_REGION": args.region, "STATE_PREFIX": args.state_prefix,
           "REPORT_PREFIX": args.report_prefix, "UPLOAD_PREFIXES": args.upload_prefixes}
    try:
        text = json.dumps(render(env), indent=2) + "\n"
    except ConfigError as exc:
        print(f"cannot render the policy: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
