"""A test double of the SCF API 3.0 endpoint, served through `responses`: it checks each request's TC3-HMAC-SHA256
signature, refuses parameters the API does not document, and answers in the documented JSON shapes.

Sources (read 2026-12-01):
- Signature v3 (TencentCloud API 3.0, the same for every service; e.g. tencentcloud.com/document/api/1150/49447):
  canonical request, string to sign, derived key. The double recomputes it independently of the SDK (whose own
  version is tencentcloud/common/abstract_client.py _get_tc3_signature).
- Request parameter names: the official SDK's request models, TencentCloud/tencentcloud-sdk-python
  tencentcloud/scf/v20180416/models.py (e.g. CreateFunctionRequest), which mirror the API reference pages.
- Response shapes: the same file's response models (GetFunctionResponse, ListTriggersResponse/Trigger,
  PublishVersionResponse, GetAliasResponse, ListVersionByFunctionResponse/FunctionVersion,
  GetFunctionEventInvokeConfigResponse/AsyncTriggerConfig) and the UpdateFunctionEventInvokeConfig page
  (cloud.tencent.com/document/api/583/53639); error answers as on the error-code page (583/30771):
  {"Response": {"Error": {"Code", "Message"}, "RequestId"}}.
- Read-back quirks the toolkit documents (serverless-tencent/tencent-component-toolkit src/modules/triggers/timer.ts):
  a timer's TriggerDesc is posted as the bare cron and read back as {"cron": ...}; Enable is posted OPEN/CLOSE
  and read back as 1/0. A COS trigger reads back as {"bucketUrl", "event", "filter"} (src/modules/triggers/cos.ts,
  __tests__/scf/base.test.ts).
- Create/update answer before the work is done (the toolkit polls GetFunction until Active, entities/scf.ts
  isOperational); how many polls stay busy is inferred, so the double keeps one.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from tencentcloud.scf.v20180416 import models

HOST = "scf.tencentcloudapi.com"
URL = f"https://{HOST}/"
SECRET_ID = "AKIDexampleDeployKey0000000000000000"
SECRET_KEY = "deploy-test-secret-key-0000000000"
CHANGING = frozenset({"CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration", "CreateTrigger",
                      "DeleteTrigger", "UpdateTrigger", "PublishVersion", "CreateAlias", "UpdateAlias",
                      "UpdateFunctionEventInvokeConfig", "DeleteFunction"})
_AUTH = re.compile(r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
                   r"SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})$")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def expected_signature(secret_key: str, headers: Dict[str, str], body: bytes, signed: str, date: str) -> str:
    """TC3-HMAC-SHA256 of a POST to / as the signature v3 page defines it."""
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed.split(";"))
    canonical = "\n".join(["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()])
    to_sign = "\n".join(["TC3-HMAC-SHA256", headers["x-tc-timestamp"], f"{date}/scf/tc3_request",
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode("utf-8"), date), "scf"), "tc3_request")
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def documented_params(action: str) -> set:
    model = getattr(models, f"{action}Request")()
    return {name.lstrip("_") for name in vars(model)}


class ApiFailure(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(code)
        self.code, self.message = code, message


class FakeScf:
    """SCF's state for one account and region, changed only through signed, documented API calls."""

    def __init__(self, region: str = "ap-guangzhou", secret_key: str = SECRET_KEY):
        self.region, self.secret_key = region, secret_key
        self.functions: Dict[str, Dict[str, Any]] = {}
        self.calls: List[Tuple[str, Dict[str, Any]]] = []
        self.fail: Dict[str, Tuple[str, str]] = {}  # action -> (code, message), answered once
        self.fail_status: Optional[Tuple[str, str]] = None  # (status, reason) for the next create/update

    # --- what tests look at ---------------------------------------------------------------------------------
    def changing_calls(self) -> List[str]:
        return [action for action, _ in self.calls if action in CHANGING]

    def alias(self, name: str, alias: str = "$DEFAULT") -> Optional[str]:
        return self.functions[name]["aliases"].get(alias)

    # --- the HTTP side ----------------------------------------------------------------------------------------
    def __call__(self, request) -> Tuple[int, Dict[str, str], str]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode("utf-8")
        action = headers.get("x-tc-action", "")
        params = json.loads(body or b"{}")
        self.calls.append((action, params))
        try:
            self._check_request(headers, body, action, params)
            if action in self.fail:
                raise ApiFailure(*self.fail.pop(action))
            response = getattr(self, f"_{action}")(params)
        except ApiFailure as exc:
            response = {"Error": {"Code": exc.code, "Message": exc.message}}
        response["RequestId"] = str(uuid.uuid4())
        return 200, {"Content-Type": "application/json"}, json.dumps({"Response": response})

    def _check_request(self, headers: Dict[str, str], body: bytes, action: str, params: Dict[str, Any]) -> None:
        match = _AUTH.match(headers.get("authorization", ""))
        if not match:
            raise ApiFailure("AuthFailure.InvalidAuthorization", "Authorization is not TC3-HMAC-SHA256")
        secret_id, date, service, signed, signature = match.groups()
        timestamp = int(headers.get("x-tc-timestamp", "0"))
        if service != "scf" or headers.get("host") != HOST or "host" not in signed.split(";"):
            raise ApiFailure("AuthFailure.SignatureFailure", "wrong service or host in the signature")
        if datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d") != date:
            raise ApiFailure("AuthFailure.SignatureFailure", "credential date is not the timestamp's UTC date")
        if secret_id != SECRET_ID:
            raise ApiFailure("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        if not hmac.compare_digest(signature, expected_signature(self.secret_key, headers, body, signed, date)):
            raise ApiFailure("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if headers.get("x-tc-version") != "2018-04-16" or headers.get("x-tc-region") != self.region:
            raise ApiFailure("UnsupportedRegion", f"region {headers.get('x-tc-region')!r} is not supported")
        unknown = set(params) - documented_params(action)
        if unknown:
            raise ApiFailure("UnknownParameter", f"The parameter `{sorted(unknown)[0]}` is not recognized")

    # --- actions (only what the deploy path uses) --------------------------------------------------------------
    def _function(self, params: Dict[str, Any]) -> Dict[str, Any]:
        func = self.functions.get(params["FunctionName"])
        if func is None:
            raise ApiFailure("ResourceNotFound.Function", f"未找到指定的Function, 请创建后再试 ({params['FunctionName']})")
        return func

    def _settle(self, func: Dict[str, Any], busy: str) -> None:
        # SCF answers at once and works in the background: the next GetFunction still shows the busy status.
        if self.fail_status:
            func["status"], func["reasons"] = self.fail_status[0], [{"ErrorCode": "x", "ErrorMessage": self.fail_status[1]}]
            self.fail_status = None
        else:
            func["status"], func["pending"], func["reasons"] = busy, 1, []

    def _CreateFunction(self, p):
        if p["FunctionName"] in self.functions:
            raise ApiFailure("ResourceInUse.Function", "函数已存在")
        config = {k: p.get(k) for k in ("Handler", "Runtime", "Timeout", "MemorySize", "Role", "Description")}
        config["Environment"] = p.get("Environment") or {"Variables": []}
        # "函数在创建后缺省具有一个默认别名($DEFAULT),默认别名生成时指向最近版本($LATEST)" and it cannot be deleted
        # (alias management page, cloud.tencent.com/document/product/583/36149, read 2026-12-01).
        self.functions[p["FunctionName"]] = {
            "namespace": p.get("Namespace", "default"), "config": config, "code": p["Code"]["ZipFile"],
            "versions": [], "aliases": {"$DEFAULT": "$LATEST"}, "triggers": [], "retry": {"MsgTTL": 21600, "RetryConfig": [{"RetryNum": 2}]}}
        self._settle(self.functions[p["FunctionName"]], "Creating")
        return {}

    def _GetFunction(self, p):
        func = self._function(p)
        qualifier = p.get("Qualifier", "$LATEST")
        if qualifier != "$LATEST":
            version = next((v for v in func["versions"] if v["Version"] == qualifier), None)
            if version is None:
                raise ApiFailure("ResourceNotFound.Version", f"version {qualifier} not found")
            return {"FunctionName": p["FunctionName"], "Qualifier": qualifier, "Status": "Active", **version["config"]}
        status = func["status"]
        if func.get("pending"):
            func["pending"] -= 1
        elif status in ("Creating", "Updating"):
            func["status"] = status = "Active"
        return {"FunctionName": p["FunctionName"], "Namespace": func["namespace"], "Qualifier": "$LATEST",
                "Status": status, "StatusReasons": func["reasons"], "Type": "Event", **func["config"]}

    def _UpdateFunctionCode(self, p):
        func = self._function(p)
        func["code"], func["config"]["Handler"] = p["ZipFile"], p.get("Handler", func["config"]["Handler"])
        self._settle(func, "Updating")
        return {}

    def _UpdateFunctionConfiguration(self, p):
        func = self._function(p)
        for key in ("Timeout", "MemorySize", "Role", "Description", "Runtime"):
            if key in p:
                func["config"][key] = p[key]
        if "Environment" in p:
            variables = [v for v in p["Environment"]["Variables"] if v["Key"]]
            func["config"]["Environment"] = {"Variables": variables}
        self._settle(func, "Updating")
        return {}

    def _GetFunctionEventInvokeConfig(self, p):
        return {"AsyncTriggerConfig": self._function(p)["retry"]}

    def _UpdateFunctionEventInvokeConfig(self, p):
        self._function(p)["retry"] = p["AsyncTriggerConfig"]
        return {}

    def _PublishVersion(self, p):
        func = self._function(p)
        number = str(len(func["versions"]) + 1)
        func["versions"].append({"Version": number, "Description": p.get("Description", ""),
                                 "config": json.loads(json.dumps(func["config"])), "Status": "Active"})
        return {"FunctionVersion": number, "Description": p.get("Description", ""), "Namespace": func["namespace"],
                "Handler": func["config"]["Handler"], "Runtime": func["config"]["Runtime"]}

    def _ListVersionByFunction(self, p):
        func = self._function(p)
        rows = [{"Version": "$LATEST", "Description": "", "Status": func["status"]}] + [
            {k: v[k] for k in ("Version", "Description", "Status")} for v in func["versions"]]
        offset, limit = p.get("Offset", 0), p.get("Limit", 20)
        return {"FunctionVersion": [r["Version"] for r in rows], "Versions": rows[offset:offset + limit],
                "TotalCount": len(rows)}

    def _GetAlias(self, p):
        func = self._function(p)
        if p["Name"] not in func["aliases"]:
            raise ApiFailure("ResourceNotFound.Alias", f"未找到指定的别名 {p['Name']}")
        return {"Name": p["Name"], "FunctionVersion": func["aliases"][p["Name"]], "Description": ""}

    def _CreateAlias(self, p):
        func = self._function(p)
        if p["Name"] in func["aliases"]:
            raise ApiFailure("ResourceInUse.Alias", "别名已存在")
        func["aliases"][p["Name"]] = p["FunctionVersion"]
        return {}

    def _UpdateAlias(self, p):
        self._GetAlias(p)
        self._function(p)["aliases"][p["Name"]] = p["FunctionVersion"]
        return {}

    def _ListTriggers(self, p):
        func = self._function(p)
        return {"Triggers": func["triggers"], "TotalCount": len(func["triggers"])}

    def _CreateTrigger(self, p):
        func = self._function(p)
        if any(self._same_trigger(t, p) for t in func["triggers"]):
            raise ApiFailure("ResourceInUse.Trigger", f"trigger {p['TriggerName']} exists")
        if p["Type"] == "timer":
            desc = json.dumps({"cron": p["TriggerDesc"]})
        else:
            posted = json.loads(p["TriggerDesc"])
            desc = json.dumps({"bucketUrl": p["TriggerName"], "event": posted["event"], "filter": posted["filter"]})
        row = {"Type": p["Type"], "TriggerName": p["TriggerName"], "TriggerDesc": desc,
               "Enable": 1 if p.get("Enable") == "OPEN" else 0, "CustomArgument": p.get("CustomArgument", ""),
               "Qualifier": p.get("Qualifier", "$DEFAULT"), "AvailableStatus": "Available",
               "AddTime": "2026-12-01 08:00:00", "ModTime": "2026-12-01 08:00:00"}
        func["triggers"].append(row)
        return {"TriggerInfo": row}

    @staticmethod
    def _same_trigger(row, p):
        # COS triggers are all named by their bucket domain: one function may hold several on one bucket, told apart by
        # event and filter, which is why DeleteTrigger requires TriggerDesc for them (models.py DeleteTriggerRequest;
        # toolkit src/modules/triggers/cos.ts getKey keys them by bucket, event and filter).
        if row["TriggerName"] != p["TriggerName"] or row["Type"] != p["Type"]:
            return False
        if p["Type"] != "cos":
            return True
        stored, given = json.loads(row["TriggerDesc"]), json.loads(p.get("TriggerDesc") or "{}")
        return (stored.get("event"), stored.get("filter")) == (given.get("event"), given.get("filter"))

    def _DeleteTrigger(self, p):
        func = self._function(p)
        before = len(func["triggers"])
        func["triggers"] = [t for t in func["triggers"] if not self._same_trigger(t, p)]
        if len(func["triggers"]) == before:
            raise ApiFailure("ResourceNotFound.Trigger", f"trigger {p['TriggerName']} not found")
        return {}
