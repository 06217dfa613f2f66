"""Carry out a plan on SCF (create/update function, retry config, triggers, version, alias) and roll an alias back.

Order and waits follow the toolkit's deploy flow (src/modules/scf/index.ts deploy: create or updateCode ->
isOperational -> updateConfigure -> isOperational -> async retry -> publish -> alias) and its status lists
(src/modules/scf/config.ts waitStatus/failStatus).
"""
from __future__ import annotations

import base64
from typing import Any, Callable, Dict, List, Optional

from deploy.plan import ALIAS, FunctionPlan, desired_config, list_versions, stamp
from deploy.scf_api import DeployError, ScfApi
from deploy.spec import FunctionSpec, TriggerSpec

WAIT_STATUS = ("Creating", "Updating", "Publishing", "Deleting")
FAIL_STATUS = ("CreateFailed", "UpdateFailed", "PublishFailed", "DeleteFailed")
POLL_SECONDS = 1.0
MAX_POLLS = 240  # four minutes: the toolkit waits up to 600 polls of 0.5 s, i.e. five minutes


def wait_active(api: ScfApi, spec: FunctionSpec, sleep: Callable[[float], None], qualifier: str = "$LATEST") -> None:
    """Poll GetFunction until the function (or version) is Active; a *Failed status is a DeployError with SCF's reason."""
    for _ in range(MAX_POLLS):
        info = api.call("GetFunction", spec.name, {"FunctionName": spec.name, "Namespace": spec.namespace,
                                                   "Qualifier": qualifier})
        status = info.get("Status")
        if status == "Active":
            return
        if status in FAIL_STATUS or status not in WAIT_STATUS:
            reasons = "; ".join(r.get("ErrorMessage", "") for r in info.get("StatusReasons") or []) or status
            raise DeployError(f"{spec.name} ({qualifier}) is {status}: {reasons}. Fix: correct the cause, then run "
                              "`python -m deploy apply` again (it resumes from what SCF holds)")
        sleep(POLL_SECONDS)
    raise DeployError(f"{spec.name} ({qualifier}) did not become Active within {MAX_POLLS * POLL_SECONDS:.0f} s; "
                      "check the SCF console, then run apply again")


def _function_params(spec: FunctionSpec) -> Dict[str, Any]:
    params = {"FunctionName": spec.name, "Namespace": spec.namespace, **desired_config(spec)}
    if not spec.environment:
        # An empty list would leave old variables in place; this is how SCF clears them (toolkit entities/scf.ts).
        params["Environment"] = {"Variables": [{"Key": "", "Value": ""}]}
    if not spec.role:
        params.pop("Role")
    return params


def _trigger_params(spec: FunctionSpec, trigger: TriggerSpec) -> Dict[str, Any]:
    # CreateTrigger as the toolkit's timer.ts/cos.ts send it: Enable OPEN/CLOSE, timer TriggerDesc the bare cron.
    params = {"FunctionName": spec.name, "Namespace": spec.namespace, "Type": trigger.type,
              "TriggerName": trigger.name, "TriggerDesc": trigger.desc, "Qualifier": trigger.qualifier,
              "Enable": "OPEN" if trigger.enable else "CLOSE"}
    if trigger.type == "timer" and trigger.custom_argument is not None:
        params["CustomArgument"] = trigger.custom_argument
    return params


def apply_function(api: ScfApi, plan: FunctionPlan, zip_bytes: bytes, sleep: Callable[[float], None]) -> Optional[str]:
    """Make SCF hold what the plan describes; returns the version the alias now points at (None if untouched)."""
    spec = plan.spec
    current_runtime = plan.current_runtime
    where = {"FunctionName": spec.name, "Namespace": spec.namespace}
    code = base64.b64encode(zip_bytes).decode("ascii")
    if not plan.exists:
        params = _function_params(spec)
        params.update({"Code": {"ZipFile": code}, "Type": "Event"})
        api.call("CreateFunction", spec.name, params, changes=True)
        wait_active(api, spec, sleep)
    else:
        if plan.update_code:
            api.call("UpdateFunctionCode", spec.name, {**where, "Handler": spec.handler, "ZipFile": code},
                     changes=True)
            wait_active(api, spec, sleep)
        if plan.update_config:
            params = _function_params(spec)
            params.pop("Handler")  # UpdateFunctionConfiguration has no Handler (models.py); UpdateFunctionCode sets it
            # Sources disagree on Runtime here: the SDK's UpdateFunctionConfigurationRequest documents it, the toolkit
            # (entities/scf.ts updateConfigure) never sends it. We send it only when it changed, so SCF decides.
            if current_runtime == spec.runtime:
                params.pop("Runtime")
            api.call("UpdateFunctionConfiguration", spec.name, params, changes=True)
            wait_active(api, spec, sleep)
    if plan.update_retry:
        api.call("UpdateFunctionEventInvokeConfig", spec.name,
                 {**where, "AsyncTriggerConfig": {"MsgTTL": spec.msg_ttl, "RetryConfig": [{"RetryNum": spec.retry_num}]}},
                 changes=True)
    version = None
    if plan.publish:
        published = api.call("PublishVersion", spec.name, {**where, "Description": stamp(plan.code_sha, spec)},
                             changes=True)
        version = str(published["FunctionVersion"])
        wait_active(api, spec, sleep, qualifier=version)
        move_alias(api, spec, version)
    for old in plan.delete_triggers:
        params = {**where, "Type": old.type, "TriggerName": old.name, "Qualifier": old.qualifier}
        if old.type == "cos":
            params["TriggerDesc"] = old.desc  # required for COS triggers (DeleteTrigger API)
        api.call("DeleteTrigger", f"{spec.name} trigger {old.name}", params, changes=True)
    for new in plan.create_triggers:
        api.call("CreateTrigger", f"{spec.name} trigger {new.name}", _trigger_params(spec, new), changes=True)
    return version


def move_alias(api: ScfApi, spec: FunctionSpec, version: str) -> None:
    """Point the alias at version.

    Every function has $DEFAULT from its creation and it cannot be deleted (alias page, cloud.tencent.com/document/
    product/583/36149; the toolkit's scf/index.ts deploy never creates it), so this is always UpdateAlias."""
    api.call("UpdateAlias", f"{spec.name} alias {ALIAS}", {"FunctionName": spec.name, "Namespace": spec.namespace,
                                                         "Name": ALIAS, "FunctionVersion": version}, changes=True)


def apply_all(api: ScfApi, plans: List[FunctionPlan], zip_bytes: bytes, sleep: Callable[[float], None]) -> List[str]:
    """Apply every function's plan; returns one summary line per function."""
    out = []
    for plan in plans:
        if not plan.changed:  # every publish is a plan line too (plan.py)
            out.append(f"{plan.spec.key}: unchanged")
            continue
        version = apply_function(api, plan, zip_bytes, sleep)
        out.append(f"{plan.spec.key}: applied" + (f", alias {ALIAS} -> version {version}" if version else ""))
    return out


def rollback(api: ScfApi, spec: FunctionSpec) -> str:
    """Move the alias to the newest published version older than the one it points at."""
    where = {"FunctionName": spec.name, "Namespace": spec.namespace}
    alias = api.find("GetAlias", f"{spec.name} alias {ALIAS}", {**where, "Name": ALIAS}, ("ResourceNotFound.Alias",))
    current = (alias or {}).get("FunctionVersion")
    if not current or not str(current).isdigit():
        raise DeployError(f"{spec.name}: alias {ALIAS} points at {current or 'nothing'}, not a published version; "
                          "run `python -m deploy apply` first")
    older = sorted(int(v["Version"]) for v in list_versions(api, spec)
                   if str(v.get("Version")).isdigit() and int(v["Version"]) < int(current))
    if not older:
        raise DeployError(f"{spec.name}: version {current} is the oldest published version; nothing to roll back to")
    previous = str(older[-1])
    move_alias(api, spec, previous)
    return f"{spec.key}: alias {ALIAS} {current} -> {previous}"

