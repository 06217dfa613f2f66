"""What `python -m deploy apply` would change: SCF's current state read through the API, compared with serverless.yml.

Read-back shapes follow the SCF API docs (GetFunction, ListTriggers, GetAlias, ListVersionByFunction,
GetFunctionEventInvokeConfig) and the toolkit's notes on them (src/modules/triggers/timer.ts: a timer posted as
"0 */6 * * * * *" reads back as {"cron": ...}; Enable is posted OPEN/CLOSE and read back 1/0).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pydantic import BaseModel, Field

from deploy.scf_api import ScfApi
from deploy.spec import AppSpec, FunctionSpec, TriggerSpec
from lib.config import ENV_NAMES, SECRET_FIELDS

# Triggers point at $DEFAULT (toolkit timer.ts/cos.ts), so moving that alias moves what the triggers run.
ALIAS = "$DEFAULT"
MASK = "****"
# Settings that are secrets (lib.config), plus anything named like one.
SECRET_ENV = frozenset(ENV_NAMES[f] for f in SECRET_FIELDS if f in ENV_NAMES)
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "WEBHOOK")
STAMP_PREFIX = "autopilot "
CONFIG_FIELDS = ("Handler", "Runtime", "Timeout", "MemorySize", "Role", "Description", "Environment")


def masked(key: str, value: str) -> str:
    """The value as a plan may print it: secrets become ****."""
    return MASK if key in SECRET_ENV or any(w in key.upper() for w in _SECRET_WORDS) else value


def desired_config(spec: FunctionSpec) -> Dict[str, Any]:
    """The configuration fields as GetFunction returns them, for comparison and for the API calls."""
    return {"Handler": spec.handler, "Runtime": spec.runtime, "Timeout": spec.timeout, "MemorySize": spec.memory_size,
            "Role": spec.role, "Description": spec.description,
            "Environment": {"Variables": [{"Key": k, "Value": v} for k, v in sorted(spec.environment.items())]}}


def current_config(info: Mapping[str, Any]) -> Dict[str, Any]:
    env = (info.get("Environment") or {}).get("Variables") or []
    # UpdateFunctionConfiguration clears variables with [{Key: '', Value: ''}] (toolkit entities/scf.ts).
    variables = sorted(({"Key": v["Key"], "Value": v.get("Value", "")} for v in env if v.get("Key")),
                       key=lambda v: v["Key"])
    out = {k: info.get(k) for k in CONFIG_FIELDS if k != "Environment"}
    out["Role"] = out["Role"] or ""
    out["Description"] = out["Description"] or ""
    out["Environment"] = {"Variables": variables}
    return out


def stamp(code_sha: str, spec: FunctionSpec) -> str:
    """The version description apply publishes: the code and configuration it was built from."""
    config = hashlib.sha256(json.dumps(desired_config(spec), sort_keys=True).encode()).hexdigest()[:16]
    return f"{STAMP_PREFIX}code {code_sha[:16]} config {config}"


def trigger_state(raw: Mapping[str, Any]) -> TriggerSpec:
    """A ListTriggers entry in the form CreateTrigger takes (both published read-back variants accepted)."""
    desc = raw.get("TriggerDesc") or ""
    kind = raw.get("Type", "")
    try:
        parsed = json.loads(desc)
    except ValueError:
        parsed = None
    if kind == "timer" and isinstance(parsed, dict) and "cron" in parsed:
        desc = parsed["cron"]
    elif kind == "cos" and isinstance(parsed, dict):
        filt = parsed.get("filter") or {}
        desc = json.dumps({"event": parsed.get("event"), "filter": {"Prefix": filt.get("Prefix", ""),
                                                                     "Suffix": filt.get("Suffix", "")}},
                          separators=(",", ":"))
    enable = raw.get("Enable")
    return TriggerSpec(function="", type=kind, name=raw.get("TriggerName", ""), desc=desc,
                       enable=enable in (1, "1", "OPEN", True), qualifier=raw.get("Qualifier") or ALIAS,
                       custom_argument=raw.get("CustomArgument") if kind == "timer" else None)


def _same_trigger(a: TriggerSpec, b: TriggerSpec) -> bool:
    fields = ("type", "name", "desc", "enable", "qualifier")
    args_equal = a.type != "timer" or (a.custom_argument or "") == (b.custom_argument or "")
    return all(getattr(a, f) == getattr(b, f) for f in fields) and args_equal


class Change(BaseModel):
    """One line of the plan."""

    function: str
    what: str
    detail: str = ""


class FunctionPlan(BaseModel):
    """What apply does to one function."""

    spec: FunctionSpec
    code_sha: str
    exists: bool
    update_code: bool = False
    update_config: bool = False
    update_retry: bool = False
    publish: bool = False
    alias_version: Optional[str] = None
    current_runtime: Optional[str] = None
    create_triggers: List[TriggerSpec] = Field(default_factory=list)
    delete_triggers: List[TriggerSpec] = Field(default_factory=list)
    changes: List[Change] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _env_diff(old: Dict[str, str], new: Dict[str, str]) -> List[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append(f"-{key}")
        elif key not in old:
            out.append(f"+{key}={masked(key, new[key])}")
        elif old[key] != new[key]:
            shown = "(secret changed)" if masked(key, new[key]) == MASK else f"{old[key]!r} -> {new[key]!r}"
            out.append(f"{key} {shown}")
    return out


def _config_changes(key: str, old: Dict[str, Any], new: Dict[str, Any]) -> List[Change]:
    out = []
    for field in CONFIG_FIELDS:
        if old[field] == new[field]:
            continue
        if field == "Environment":
            as_map = {f: {v["Key"]: v["Value"] for v in d["Environment"]["Variables"]} for f, d in
                      (("old", old), ("new", new))}
            out += [Change(function=key, what="environment", detail=d) for d in _env_diff(as_map["old"], as_map["new"])]
        else:
            out.append(Change(function=key, what=field.lower(), detail=f"{old[field]!r} -> {new[field]!r}"))
    return out


def describe_new(spec: FunctionSpec, code_sha: str, code_size: int) -> List[Change]:
    """The full description of a function that does not exist yet."""
    env = " ".join(f"{k}={masked(k, v)}" for k, v in sorted(spec.environment.items()))
    return [Change(function=spec.key, what="create", detail=spec.name),
            Change(function=spec.key, what="code", detail=f"sha256 {code_sha[:16]} ({code_size / 1e6:.1f} MB zip)"),
            Change(function=spec.key, what="handler", detail=f"{spec.handler} on {spec.runtime}"),
            Change(function=spec.key, what="memory/timeout", detail=f"{spec.memory_size} MB, {spec.timeout} s"),
            Change(function=spec.key, what="role", detail=spec.role or "(none)"),
            Change(function=spec.key, what="environment", detail=env),
            Change(function=spec.key, what="retry",
                   detail=f"{spec.retry_num} retries one minute apart, events kept {spec.msg_ttl} s")]


def plan_function(api: ScfApi, spec: FunctionSpec, triggers: List[TriggerSpec], code_sha: str,
                  code_size: int) -> FunctionPlan:
    """Compare one function's desired state with what SCF holds."""
    where = {"FunctionName": spec.name, "Namespace": spec.namespace}
    info = api.find("GetFunction", spec.name, where, ("ResourceNotFound.Function", "ResourceNotFound.FunctionName"))
    plan = FunctionPlan(spec=spec, code_sha=code_sha, exists=info is not None,
                        current_runtime=(info or {}).get("Runtime"))
    wanted_stamp = stamp(code_sha, spec)
    if info is None:
        plan.changes = describe_new(spec, code_sha, code_size)
        plan.update_retry = plan.publish = True
        plan.create_triggers = list(triggers)
    else:
        alias = api.find("GetAlias", f"{spec.name} alias {ALIAS}", {**where, "Name": ALIAS},
                         ("ResourceNotFound.Alias",))
        plan.alias_version = (alias or {}).get("FunctionVersion")
        published = _version_description(api, spec, plan.alias_version)
        code_stamp = f"code {code_sha[:16]}"
        plan.update_code = code_stamp not in (published or "")
        if plan.update_code:
            plan.changes.append(Change(function=spec.key, what="code", detail=f"-> sha256 {code_sha[:16]}"))
        config_changes = _config_changes(spec.key, current_config(info), desired_config(spec))
        plan.update_config = bool(config_changes)
        plan.changes += config_changes
        retry = api.call("GetFunctionEventInvokeConfig", spec.name, where).get("AsyncTriggerConfig") or {}
        current_retry = (retry.get("MsgTTL"), [r.get("RetryNum") for r in retry.get("RetryConfig") or []])
        if current_retry != (spec.msg_ttl, [spec.retry_num]):
            plan.update_retry = True
            plan.changes.append(Change(function=spec.key, what="retry",
                                       detail=f"-> {spec.retry_num} retries, events kept {spec.msg_ttl} s"))
        plan.publish = plan.update_code or plan.update_config or published != wanted_stamp
        listed = api.call("ListTriggers", spec.name, {**where, "Limit": 100}).get("Triggers") or []
        current = [trigger_state(t) for t in listed if t.get("Type") in ("timer", "cos")]
        plan.create_triggers = [t for t in triggers if not any(_same_trigger(t, c) for c in current)]
        plan.delete_triggers = [c for c in current if not any(_same_trigger(t, c) for t in triggers)]
        for old in plan.delete_triggers:
            plan.changes.append(Change(function=spec.key, what=f"trigger {old.type} {old.name}", detail="delete"))
    for new in plan.create_triggers:
        state = "enabled" if new.enable else "disabled"
        plan.changes.append(Change(function=spec.key, what=f"trigger {new.type} {new.name}",
                                   detail=f"create {new.desc} ({state})"))
    if plan.publish and info is not None and not (plan.update_code or plan.update_config):
        plan.changes.append(Change(function=spec.key, what="version", detail=f"publish, move alias {ALIAS}"))
    return plan


def _version_description(api: ScfApi, spec: FunctionSpec, version: Optional[str]) -> Optional[str]:
    """The description of the version the alias points at (apply's stamp), or None."""
    if not version or version == "$LATEST":
        return None
    for item in list_versions(api, spec):
        if str(item.get("Version")) == str(version):
            return str(item.get("Description") or "")
    return None


def list_versions(api: ScfApi, spec: FunctionSpec) -> List[Dict[str, Any]]:
    """Every published version (ListVersionByFunction, newest last)."""
    where = {"FunctionName": spec.name, "Namespace": spec.namespace}
    out: List[Dict[str, Any]] = []
    while True:
        page = api.call("ListVersionByFunction", spec.name, {**where, "Offset": len(out), "Limit": 100,
                                                             "Order": "ASC", "OrderBy": "AddTime"})
        items = page.get("Versions") or []
        out += items
        if not items or len(out) >= int(page.get("TotalCount") or 0):
            return out


def plan_app(api: ScfApi, app: AppSpec, code_sha: str, code_size: int) -> List[FunctionPlan]:
    return [plan_function(api, f, [t for t in app.triggers if t.function == f.key], code_sha, code_size)
            for f in app.functions]


def render(plans: List[FunctionPlan]) -> str:
    """The plan as text; identical changes to several functions share one line."""
    grouped: Dict[Tuple[str, str], List[str]] = {}
    for plan in plans:
        for change in plan.changes:
            grouped.setdefault((change.what, change.detail), []).append(change.function)
    if not grouped:
        return "No changes: SCF already runs what serverless.yml and the package describe."
    lines = [f"~ {', '.join(fns)}: {what} {detail}".rstrip() for (what, detail), fns in grouped.items()]
    return "\n".join(lines)
