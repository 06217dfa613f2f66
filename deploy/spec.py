"""serverless.yml read the way the multi-scf component reads it, as the functions and triggers SCF should hold.

Each mapping below follows the component's or the toolkit's published source (cited where it is applied), so
`python -m deploy` deploys what `scf deploy` would, and the rule test checks serverless.yml against the same facts.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS_YML = ROOT / "serverless.yml"
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
# Toolkit src/modules/scf/entities/scf.ts updateAsyncRetry: `MsgTTL: inputs.msgTTL || 21600`,
# `RetryNum: inputs.retryNum ?? 2` - SCF's documented defaults (cloud.tencent.com/document/product/583/41138).
DEFAULT_RETRY_NUM = 2
DEFAULT_MSG_TTL = 21600
# Toolkit src/modules/triggers/timer.ts and cos.ts: `Qualifier: parameters?.qualifier || '$DEFAULT'`.
DEFAULT_QUALIFIER = "$DEFAULT"


class SpecError(ValueError):
    """serverless.yml (or its .env) cannot be turned into a deployment; the message names the field and fix."""


class TriggerSpec(BaseModel):
    """One trigger as CreateTrigger takes it."""

    function: str
    type: str
    name: str
    desc: str
    enable: bool
    qualifier: str = DEFAULT_QUALIFIER
    custom_argument: Optional[str] = None

    def key(self) -> str:
        return f"{self.type}:{self.name}"


class FunctionSpec(BaseModel):
    """One function as CreateFunction/UpdateFunctionConfiguration take it."""

    key: str
    name: str
    handler: str
    runtime: str
    description: str = ""
    timeout: int
    memory_size: int
    role: str = ""
    namespace: str = "default"
    environment: Dict[str, str] = Field(default_factory=dict)
    retry_num: int = DEFAULT_RETRY_NUM
    msg_ttl: int = DEFAULT_MSG_TTL


class AppSpec(BaseModel):
    """Everything serverless.yml asks SCF for."""

    region: str
    functions: List[FunctionSpec]
    triggers: List[TriggerSpec]
    src: Path


def read_dotenv(path: Path) -> Dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped); {} when there is none."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip("'\"")
    return out


def resolve(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Substitute ${env:NAME} in strings (recursively), as the framework does; a missing NAME is a SpecError."""
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise SpecError(f"{where}: ${{env:{name}}} is not set; add {name}=... to .env beside serverless.yml "
                                "or export it")
            return env[name]
        return _ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [resolve(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: resolve(v, env, f"{where}.{k}") for k, v in value.items()}
    return value


def environment_of(func: Mapping[str, Any]) -> Dict[str, str]:
    """The variables multi-scf deploys: `environments: [{key, value}]` replaces `environment` (formatter.ts).

    formatFaasInputs defaults `environments` to [] and then always overwrites `environment`, so a function that only
    has `environment.variables` deploys with none; we refuse that rather than deploy a function that cannot run."""
    if "environment" in func and "environments" not in func:
        raise SpecError(f"functions.{func.get('key')}.environment: multi-scf ignores it; write "
                        "environments: [{key: NAME, value: '...'}] instead")
    out: Dict[str, str] = {}
    for i, item in enumerate(func.get("environments") or []):
        if not isinstance(item, dict) or set(item) != {"key", "value"}:
            raise SpecError(f"functions.{func.get('key')}.environments[{i}]={item!r}: each item is {{key, value}}")
        out[str(item["key"])] = "" if item["value"] is None else str(item["value"])
    return out


def function_name(config: Mapping[str, Any], key: str, func: Mapping[str, Any]) -> str:
    """`name` if given, else ${name}-${stage}-${app}-${key} (formatter.ts formatScfName)."""
    return str(func.get("name") or f"{config['name']}-{config['stage']}-{config['app']}-{key}")


def trigger_of(raw: Mapping[str, Any], names: Mapping[str, str]) -> TriggerSpec:
    """A serverless.yml trigger as the toolkit's timer.ts/cos.ts format it for CreateTrigger."""
    kind, params, function = raw.get("type"), raw.get("parameters") or {}, raw.get("function")
    if function not in names:
        raise SpecError(f"triggers: function {function!r} is not in functions ({', '.join(names)})")
    qualifier = params.get("qualifier") or DEFAULT_QUALIFIER
    if kind == "timer":
        argument = params.get("argument")
        return TriggerSpec(function=function, type="timer", name=str(params["name"]),
                           desc=str(params["cronExpression"]), enable=bool(params.get("enable")),
                           qualifier=qualifier, custom_argument=None if argument is None else str(argument))
    if kind == "cos":
        filt = params.get("filter") or {}
        desc = {"event": params["events"], "filter": {"Prefix": filt.get("prefix") or "",
                                                      "Suffix": filt.get("suffix") or ""}}
        return TriggerSpec(function=function, type="cos", name=str(params["bucket"]),
                           desc=json.dumps(desc, separators=(",", ":")), enable=bool(params.get("enable")),
                           qualifier=qualifier)
    raise SpecError(f"triggers: type {kind!r} is not supported by python -m deploy (timer, cos)")


def load_app(path: Path = SERVERLESS_YML, environ: Optional[Mapping[str, str]] = None) -> AppSpec:
    """Read serverless.yml (+ the .env beside it, then the environment) into the deployment SCF should hold."""
    env = {**read_dotenv(path.parent / ".env"), **(os.environ if environ is None else environ)}
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    inputs = resolve(config.get("inputs") or {}, env, "inputs")
    common = {k: inputs.get(k) for k in ("runtime", "namespace", "timeout", "memorySize", "role", "description")}
    functions = []
    for key, raw in (inputs.get("functions") or {}).items():
        func = {**{k: v for k, v in common.items() if v is not None}, **raw, "key": key}
        functions.append(FunctionSpec(
            key=key, name=function_name(config, key, func), handler=func["handler"], runtime=func["runtime"],
            description=str(func.get("description") or ""), timeout=int(func.get("timeout") or 3),
            memory_size=int(func.get("memorySize") or 128), role=str(func.get("role") or ""),
            namespace=str(func.get("namespace") or "default"), environment=environment_of(func),
            retry_num=int(func.get("retryNum", DEFAULT_RETRY_NUM)), msg_ttl=int(func.get("msgTTL") or DEFAULT_MSG_TTL)))
    names = {f.key: f.name for f in functions}
    triggers = [trigger_of(t, names) for t in inputs.get("triggers") or []]
    src = inputs.get("src")
    src = src.get("src") if isinstance(src, dict) else src
    return AppSpec(region=str(inputs.get("region") or ""), functions=functions, triggers=triggers,
                   src=(path.parent / str(src)).resolve())


def handler_strings(path: Path = SERVERLESS_YML) -> Dict[str, str]:
    """{function key: handler string} straight from serverless.yml (no .env needed)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {key: func["handler"] for key, func in (config["inputs"]["functions"] or {}).items()}
