"""The configuration reference, generated from lib.config: names and defaults come from the model, prose from here.

``python -m deploy.config_table`` rewrites docs/configuration.md; ``--check`` fails if it is out of date;
``--yaml`` prints the commented ``environments`` list for serverless.yml.
"""
from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

from pydantic import SecretStr

from lib.config import ENV_NAMES, NARROWS_ONLY, OVERRIDABLE, Settings, WindowSpec
from lib.windows import format_duration

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "configuration.md"
# SCF reserves these prefixes and injects the role's temporary credentials under them.
RESERVED_PREFIXES = ("SCF_", "QCLOUD_", "TENCENTCLOUD_")


class VariableDoc(NamedTuple):
    """What a variable does and what it accepts; the default is read from the model, never written here."""

    what: str
    allowed: str


# Keyed by environment variable; a test fails when this and ENV_NAMES disagree.
DOCS: Dict[str, VariableDoc] = {
    "COS_BUCKET": VariableDoc("The bucket the jobs run on and where state and reports are written.",
                              "BucketName-APPID in lower case, e.g. examplebucket-1250000000"),
    "COS_REGION": VariableDoc("The bucket's region; the function must be deployed in the same region.",
                              "a COS region such as ap-guangzhou, ap-shanghai"),
    "JOB_TYPE": VariableDoc("What a batch job runs: ImageInspect on each object, or existing CI workflows.",
                            "Job (ImageInspect per object) or Workflow"),
    "WORKFLOW_IDS": VariableDoc("The CI workflows a Workflow job triggers; required when JOB_TYPE=Workflow.",
                                "comma-separated workflow ids (w + 32 hex digits)"),
    "INSPECT_AUTO_PROCESS": VariableDoc("Whether CI acts on an abnormal image itself (see INSPECT_PROCESS_TYPE).",
                                        "true or false"),
    "INSPECT_PROCESS_TYPE": VariableDoc("What CI does to an abnormal image when INSPECT_AUTO_PROCESS is true.",
                                        "BackupObject (move to abnormal_images_backup/), SwitchObjectToPrivate, "
                                        "DeleteObject"),
    "INPUT_PREFIX": VariableDoc("Which objects a timer run covers.",
                                "a folder such as images/ (no leading '/'); '/' alone is the whole bucket"),
    "WINDOW": VariableDoc("How far back a timer run looks: since the previous run, a fixed look-back, or all.",
                          "incremental, all, or a duration such as 6h, 1d"),
    "FIRST_RUN_LOOKBACK": VariableDoc("How far back the first incremental run looks, before a checkpoint exists.",
                                      "a duration: number + s/m/h/d/w, e.g. 90m, 6h, 1d"),
    "JOB_NAME_PREFIX": VariableDoc("Start of every batch-job name; the report finds our jobs by it.",
                                   "1-40 letters, digits, Chinese characters, '-' or '_'"),
    "RULE_NAME": VariableDoc("Names the checkpoint of a timer rule; unset means the trigger's name.",
                             "1-60 letters, digits, '-' or '_'"),
    "UPLOAD_SUFFIXES": VariableDoc("Uploads (COS trigger) with other suffixes are skipped.",
                                   "comma-separated suffixes each starting with '.'"),
    "STATE_PREFIX": VariableDoc("Folder for checkpoints, leases and manifests; uploads there are never processed.",
                                "a folder ending in '/', not under abnormal_images_backup/"),
    "LEASE_SECONDS": VariableDoc("How long a run's claim on a window or upload lasts. Leave unset: it then follows "
                                 "the function's timeout + 30 s, so a run SCF killed lets go before SCF's retry a "
                                 "minute later.",
                                 "empty, or 60-86400 seconds: more than the function timeout, less than it + 60"),
    "UPLOAD_BATCH_SECONDS": VariableDoc("0: every upload event becomes its own batch job. Otherwise uploads are recorded "
                                        "under STATE_PREFIX/uploads/ and each interval of this many seconds becomes one "
                                        "UrlFile job, made by the first upload event or timer tick after the interval "
                                        "(plus 30 s); the timer bounds how long a quiet bucket's last uploads wait.",
                                        "0, or 10-3600 seconds"),
    "UPLOAD_PREFIXES": VariableDoc("The key prefixes the function's COS triggers watch (each trigger's filter.prefix). "
                                   "An upload event or a stored upload record for a key outside them is skipped "
                                   "with a reason. Empty: every key. Function-wide, never a timer argument.",
                                   "comma-separated prefixes without a leading '/', e.g. uploads/; none may overlap "
                                   "STATE_PREFIX, REPORT_PREFIX or abnormal_images_backup/"),
    "ALLOW_DELETE_WHOLE_BUCKET": VariableDoc("Safety catch: DeleteObject over the whole bucket is refused unless true.",
                                             "true or false"),
    "API_TIMEOUT": VariableDoc("Seconds to wait for one COS/CI API call.", "0.1-300"),
    "COS_EMULATOR_URL": VariableDoc("Local emulator only: sends every call to it. Must stay empty when deployed.",
                                    "empty, or http://HOST:PORT"),
    "REPORT_LOOKBACK": VariableDoc("How far back the daily report looks for jobs.", "a duration, e.g. 1d, 36h"),
    "REPORT_ALL_JOBS": VariableDoc("Report every batch job in the bucket, not only those named JOB_NAME_PREFIX-*.",
                                   "true or false"),
    "REPORT_STUCK_AFTER": VariableDoc("A job still running after this long is reported as stuck.",
                                      "a duration, e.g. 6h"),
    "REPORT_PREFIX": VariableDoc("Folder the report is written to; uploads there are never processed.",
                                 "a folder ending in '/', not under abnormal_images_backup/"),
    "REPORT_WEBHOOK_URL": VariableDoc("Chat webhook the report is posted to (a secret); unset means COS only.",
                                      "empty, or an https URL to a public host"),
    "REPORT_WEBHOOK_FORMAT": VariableDoc("Message format of the webhook.", "wecom, dingtalk, feishu, slack, json"),
    "REPORT_CANCEL_DUPLICATES": VariableDoc("Which younger twin the report cancels when two live jobs of ours "
                                            "share a name (a create that landed after the retry's lookup).",
                                            "timer (timer-window jobs), all (upload jobs too) or off (only name "
                                            "them)"),
    "REPORT_CONCURRENCY": VariableDoc("How many jobs' per-object results the report reads at once; the job list "
                                      "itself is read one page at a time.",
                                      "1-64 (1 reads one job at a time)"),
    "REPORT_NOTIFY": VariableDoc("When to post to the webhook.", "on-problem or always"),
    "REPORT_LINK": VariableDoc("How the chat message points at the HTML report (see deploy.md, Opening the report "
                               "from chat): a console link (needs a login), a presigned URL (expires), or the key.",
                               "console, presigned or key"),
    "REPORT_LINK_EXPIRES": VariableDoc("Lifetime asked for a presigned link; it never outlives the function's "
                                       "temporary credentials.", "a duration between 1m and 7d, e.g. 12h"),
    "REPORT_FAIL_ABOVE": VariableDoc("Mark the report FAILING (summary and message) when more than this share of jobs failed; the run itself still succeeds, so SCF does not retry and notify twice.",
                                     "empty, or a number between 0 and 1, e.g. 0.1"),
    "TENCENTCLOUD_SECRETID": VariableDoc("Injected by SCF from the function's role; never set it yourself.",
                                         "set by SCF"),
    "TENCENTCLOUD_SECRETKEY": VariableDoc("Injected by SCF from the function's role; never set it yourself.",
                                          "set by SCF"),
    "TENCENTCLOUD_SESSIONTOKEN": VariableDoc("Injected by SCF from the function's role; never set it yourself.",
                                             "set by SCF"),
}


def deployable(env: str) -> bool:
    """Variables serverless.yml may set: everything except what SCF reserves (the role's credentials)."""
    return not env.startswith(RESERVED_PREFIXES)


def default_text(field: str) -> Optional[str]:
    """The model's default as a user would write it; None when the variable is required."""
    info = Settings.model_fields[field]
    if info.is_required():
        return None
    return render_value(info.get_default(call_default_factory=True))


def render_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, WindowSpec):
        return value.kind if value.lookback is None else format_duration(value.lookback)
    if isinstance(value, (tuple, list)):
        return ",".join(render_value(v) for v in value)
    if isinstance(value, SecretStr):
        return "<secret>"
    return str(value)


def _default_cell(field: str) -> str:
    text = default_text(field)
    return "**required**" if text is None else (f"`{text}`" if text else "(unset)")


def render_markdown() -> str:
    lines: List[str] = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m deploy.config_table` from lib/config.py; do not edit by hand. -->",
        "",
        "Every setting is an environment variable of the functions (the `environments` list in serverless.yml).",
        "An empty value means the default. *Timer override* marks the settings a timer trigger's `argument`",
        'may override for that trigger, as a JSON object: `{"INPUT_PREFIX": "avatars/", "WINDOW": "1h"}`.',
        "*no* is function-wide: where the function writes and posts, which jobs are its own, and the safety catch.",
        "*narrows only*: an argument may not make a run delete objects (INSPECT_AUTO_PROCESS=true with",
        "INSPECT_PROCESS_TYPE=DeleteObject) unless the function-wide settings already do, and then its INPUT_PREFIX",
        "must lie inside the function-wide one. A refused key is named in the error (see [security.md](security.md)).",
        "",
        "| Variable | What it does | Default | Allowed values | Timer override |",
        "|---|---|---|---|---|",
    ]
    for field, env in ENV_NAMES.items():
        doc = DOCS[env]
        override = ("narrows only" if field in NARROWS_ONLY else "yes") if field in OVERRIDABLE else "no"
        lines.append(f"| `{env}` | {doc.what} | {_default_cell(field)} | {doc.allowed} | {override} |")
    lines += [
        "",
        "`TENCENTCLOUD_*` are never written in serverless.yml: SCF reserves the prefix and injects the role's",
        "temporary credentials there on every invocation (see [deploy.md](deploy.md)).",
        "",
    ]
    return "\n".join(lines)


def yaml_comment(env: str) -> str:
    """The comment serverless.yml carries above a variable (checked by tests/deploy/test_serverless_yml.py)."""
    field = {v: k for k, v in ENV_NAMES.items()}[env]
    default = default_text(field)
    shown = "required" if default is None else (default if default else "unset")
    return f"# {DOCS[env].what} Default: {shown}. Allowed: {DOCS[env].allowed}."


def yaml_entry(env: str) -> str:
    """One `environments` item as serverless.yml writes it; an empty default is a commented-out item.

    SCF may refuse an empty variable value, and empty means the default anyway, so unset settings stay
    commented out until a user gives them a value."""
    field = {v: k for k, v in ENV_NAMES.items()}[env]
    default = default_text(field)
    value = f"${{env:{env}}}" if default is None else default
    entry = f"- {{key: {env}, value: '{value}'}}"
    return entry if value else f"# {entry}"


def render_yaml_block(indent: int = 8) -> str:
    """The `environments` list (multi-scf's [{key, value}] form) with model defaults, for serverless.yml."""
    pad = " " * indent
    out = []
    for env in ENV_NAMES.values():
        if deployable(env):
            out += [f"{pad}{yaml_comment(env)}", f"{pad}{yaml_entry(env)}"]
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.config_table", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/configuration.md is out of date")
    parser.add_argument("--yaml", action="store_true", help="print the serverless.yml environments list")
    args = parser.parse_args(argv)
    if args.yaml:
        print(render_yaml_block())
        return 0
    text = render_markdown()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python -m deploy.config_table", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
