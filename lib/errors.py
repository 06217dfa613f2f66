"""Errors raised by lib; each names the field or call, the value, and the fix.

* AppError
  + ConfigError            a setting or trigger argument is missing or invalid
  + InvalidEventError      an SCF event failed validation
  + SafetyError            the configuration would do something destructive by mistake
  + CloudError             a call to COS/CI failed
    - CloudApiError        the service answered with an error (status, code, message, request id)
    - CloudUnavailableError  no answer: timeout, reset, DNS (the request may or may not have run)
  + LeaseHeldError         another run is working on the same window or upload right now
  + StateError             our own state object in the bucket (a checkpoint) is unreadable
    - TamperedStateError   a state object fails a check against our rules or CI: ignored, never obeyed, reported
  + InventoryError         the bucket's inventory configuration or a report read back cannot be used as is
    - InventoryConfigError   the configuration is missing or lacks what the rule needs (fields, destination)
    - InventoryReportError   a report fails a check (checksum, missing file, a key outside its folder)
  + JobMismatchError       a job found by its name does not do what this run would send
  + PaginationError        the list API repeated a NextToken (we stop instead of looping)
  + DeliveryError          a report could not be delivered to one channel
"""
from __future__ import annotations

from typing import Optional


class AppError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(AppError):
    """A setting is missing or invalid; the message names the variable, the value and what is allowed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))


class InvalidEventError(AppError):
    """The SCF event does not have the shape of a timer or COS event."""


class SafetyError(AppError):
    """The run would act destructively beyond what the user can have meant."""


class CloudError(AppError):
    """A call to COS or CI failed."""

    def __init__(self, action: str, message: str):
        self.action = action
        super().__init__(f"{action} failed: {message}")


class CloudApiError(CloudError):
    """The service answered with an error envelope."""

    def __init__(self, action: str, status: int, code: str, message: str, request_id: Optional[str] = None):
        self.status = status
        self.code = code
        self.error_message = message
        self.request_id = request_id
        hint = _HINTS.get(code, "")
        detail = f"HTTP {status} {code}: {message or '(no message)'}"
        if request_id:
            detail += f" (RequestId {request_id})"
        super().__init__(action, detail + (f". {hint}" if hint else ""))

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status == 429


class CloudUnavailableError(CloudError):
    """No usable answer (timeout, reset, refused); the request may have been carried out."""

    retryable = True


class LeaseHeldError(AppError):
    """Another invocation holds the lease for this window or upload; SCF's retry will pick it up."""


class StateError(AppError):
    """A checkpoint under STATE_PREFIX cannot be read; refusing beats silently restarting a rule's history."""


class TamperedStateError(StateError):
    """A state object breaks a rule we derive it from (name, key, window, clock, the CI job it names).

    Anyone with PUT on the bucket can write under STATE_PREFIX, so such an object is skipped, never acted on, and
    surfaces as a report problem naming the object and the check it failed."""


class InventoryError(AppError):
    """A COS Inventory configuration or report cannot be used; nothing is submitted from it."""


class InventoryConfigError(InventoryError):
    """GET Bucket inventory gave no configuration, or one the rule cannot read (destination, optional fields)."""


class InventoryReportError(InventoryError):
    """A report read back fails a check; everything in it is input, so no job is made from any of it."""


class JobMismatchError(AppError):
    """A live job holds the name this run would use but a different body: the work it names is not being done."""


class PlanError(AppError):
    """A held plan cannot be confirmed or declined as asked: unknown id, already decided, expired, or its body no
    longer what its source builds."""


class PaginationError(AppError):
    """The list API returned a NextToken it had already returned."""


class DeliveryError(AppError):
    """A report channel (COS object, webhook) could not be delivered."""


_HINTS = {
    "CIRoleNotExist": "Authorize CI in the console once so the CI_QCSRole service role exists.",
    "AccessDenied": "Give the function's role the CI batch-job and COS actions in deploy/policy.json.",
    "SignatureDoesNotMatch": "Check TENCENTCLOUD_SECRETID/SECRETKEY (and the session token) and the clock.",
    "InvalidAccessKeyId": "No such SecretId (deleted, disabled, or copied with a space): check TENCENTCLOUD_SECRETID.",
    "InvalidArgument": "The job body was rejected; check INPUT_PREFIX, WORKFLOW_IDS and the process type.",
    "NoSuchBucket": "Check COS_BUCKET (BucketName-APPID) and COS_REGION.",
}
