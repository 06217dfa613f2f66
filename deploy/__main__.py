"""python -m deploy plan | apply | rollback | lifecycle | state-policy | inventory: deploy serverless.yml and the package.

plan shows what would change; apply makes SCF hold it (idempotent: a second apply changes nothing), publishes a
version and moves the $DEFAULT alias the triggers run; rollback moves that alias back one version. plan and apply
also cover the bucket's lifecycle rules for STATE_PREFIX and the bucket policy statement that denies bucket writers
STATE_PREFIX and REPORT_PREFIX, and, when a rule reads INPUT_SOURCE=inventory, the bucket's inventory configuration
for its INVENTORY_ID; lifecycle, state-policy and inventory apply only those (for the `scf deploy` path). plan and
apply warn when the submit function deletes flagged images on a bucket whose versioning is not Enabled.

Credentials are found as `python -m ops` finds them (lib/credentials.py), and the exit codes are the CLI's (README):
0 done, 1 a call to SCF or COS failed or got no answer, 2 not done (arguments, serverless.yml/.env, the package,
credentials missing or refused): nothing was changed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable, List, Mapping, NamedTuple, Optional, Union

from deploy.apply import apply_all, rollback
from deploy.bucket_policy import PolicyPlan, apply_policy, cos_policy, plan_policy, policy_target_of
from deploy.inventory import InventoryPlan, apply_inventory, cos_inventory, inventory_target_of, plan_inventory
from deploy.lifecycle import LifecyclePlan, apply_lifecycle, cos_lifecycle, plan_lifecycle, target_of
from deploy.package import INFO_FILE, RUNTIMES, paths_for
from deploy.plan import plan_app, render
from deploy.scf_api import CredentialsRejectedError, DeployError, ScfApi, Transport, sdk_transport
from deploy.spec import SERVERLESS_YML, AppSpec, SpecError, load_app, read_dotenv
from deploy.versioning import CosVersioning, versioning_warnings
from lib.credentials import credentials_for, with_credentials
from lib.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# UpdateFunctionCode's ZipFile "最大支持20M" (SDK models.py UpdateFunctionCodeRequest; CreateFunction's Code.ZipFile
# allows 50 MB): the smaller limit applies, since every later deploy updates the code.
ZIP_FILE_LIMIT = 20 * 1024 * 1024


class PackageError(ValueError):
    """The zip `make package` builds is missing, too big, or built for another runtime than serverless.yml's."""


class Package(NamedTuple):
    """The zip apply uploads, and its SHA-256."""

    path: Path
    data: bytes
    sha256: str


def package_for(app: AppSpec) -> Package:
    """The zip built beside serverless.yml's `src` directory, checked against the functions' runtime."""
    runtime = next((r for r in RUNTIMES if paths_for(r, app.src.parent).directory == app.src), None)
    if runtime is None:
        raise PackageError(f"inputs.src.src={str(app.src)!r} is not a directory `make package` builds "
                           f"(build/package-py310 or build/package-py39)")
    path = paths_for(runtime, app.src.parent).zip
    if not path.exists():
        raise PackageError(f"{path} does not exist: run `make package RUNTIME={runtime}` first")
    with zipfile.ZipFile(path) as zf:
        built_for = json.loads(zf.read(INFO_FILE))["python"]
    wanted = {f.runtime for f in app.functions}
    if wanted != {f"Python{built_for}"}:
        raise PackageError(f"{path} was built for Python{built_for} but serverless.yml's runtime is "
                           f"{', '.join(sorted(wanted))}: rebuild with `make package RUNTIME=...` or fix `runtime`")
    data = path.read_bytes()
    if len(data) > ZIP_FILE_LIMIT:
        raise PackageError(f"{path} is {len(data) / 1e6:.1f} MB; SCF takes a ZipFile of at most 20 MB: prune the "
                           "package, or upload it to COS and deploy with `scf deploy --noValidation` (src: bucket/object)")
    return Package(path, data, hashlib.sha256(data).hexdigest())


def _with_bucket(text: str, *plans: Union[LifecyclePlan, PolicyPlan, InventoryPlan]) -> str:
    for line in filter(None, (plan.describe() for plan in plans)):
        text = line if text.startswith("No changes") else f"{text}\n{line}"
    return text


def _warn(plan: Union[PolicyPlan, InventoryPlan]) -> None:
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def main(argv: Optional[List[str]] = None, transport: Optional[Transport] = None,
         environ: Optional[Mapping[str, str]] = None, sleep: Callable[[float], None] = time.sleep) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("plan", "apply", "rollback", "lifecycle", "state-policy",
                                                    "inventory"))
    parser.add_argument("--config", type=Path, default=SERVERLESS_YML, help="serverless.yml to deploy")
    parser.add_argument("--function", action="append", help="only this function key (repeatable)")
    parser.add_argument("--profile", metavar="NAME",
                        help="credentials profile of tccli / ~/.tencentcloud (default: $TCCLI_PROFILE or default)")
    args = parser.parse_args(argv)
    environ = dict(os.environ if environ is None else environ)
    found = None
    try:
        app = load_app(args.config, environ)
        # After serverless.yml (a bad setting is named first), before any call; .env's keys count as the environment's.
        found = credentials_for({**read_dotenv(args.config.parent / ".env"), **environ}, args.profile)
        environ = with_credentials(environ, found)
        if args.function:
            unknown = set(args.function) - {f.key for f in app.functions}
            if unknown:
                raise SpecError(f"--function {', '.join(sorted(unknown))}: not in serverless.yml's functions")
            app.functions = [f for f in app.functions if f.key in args.function]
        if args.command == "rollback":
            api = ScfApi(transport or sdk_transport(app.region, environ), app.region)
            for spec in app.functions:
                print(rollback(api, spec))
            return EXIT_OK
        # Before any API call: refused when the functions disagree on the bucket or the prefixes, or a prefix or
        # UPLOADER_PRINCIPALS would make a wrong policy.
        deploy_env = {**read_dotenv(args.config.parent / ".env"), **environ}
        inventory_target = inventory_target_of(app, deploy_env)
        kept_reports = bool(inventory_target.ids) and inventory_target.managed
        bucket = cos_lifecycle(target_of(app)._replace(inventory=kept_reports), environ)
        policy_api = cos_policy(policy_target_of(app, deploy_env), environ)
        inventory_api = cos_inventory(inventory_target, environ)
        changing: List[str] = []
        if args.command == "lifecycle":
            rules = plan_lifecycle(bucket)
            print(rules.describe() or f"No changes: bucket {rules.target.bucket} has the lifecycle rules already.")
            print(apply_lifecycle(bucket, rules, changing))
            print(f"{len(changing)} changing call(s)")
            return EXIT_OK
        if args.command == "state-policy":
            policy = plan_policy(policy_api)
            _warn(policy)
            print(policy.describe() or f"No changes: bucket {policy.target.bucket} has the state policy already.")
            print(apply_policy(policy_api, policy, changing))
            print(f"{len(changing)} changing call(s)")
            return EXIT_OK
        if args.command == "inventory":
            inventory = plan_inventory(inventory_api, app)
            _warn(inventory)
            print(inventory.describe() or inventory.unchanged())
            print(apply_inventory(inventory_api, inventory, changing) or "nothing to keep")
            print(f"{len(changing)} changing call(s)")
            return EXIT_OK
        api = ScfApi(transport or sdk_transport(app.region, environ), app.region)
        package = package_for(app)
        plans = plan_app(api, app, package.sha256, len(package.data))
        rules = plan_lifecycle(bucket)
        policy = plan_policy(policy_api)
        inventory = plan_inventory(inventory_api, app)
        _warn(policy)
        _warn(inventory)
        for warning in versioning_warnings(app, CosVersioning(bucket.target, bucket.client)):
            print(f"warning: {warning}", file=sys.stderr)
        print(_with_bucket(render(plans), rules, policy, inventory))
        if args.command == "apply":
            for line in apply_all(api, plans, package.data, sleep):
                print(line)
            print(apply_lifecycle(bucket, rules, api.changing))
            print(apply_policy(policy_api, policy, api.changing))
            summary = apply_inventory(inventory_api, inventory, api.changing)
            if summary:
                print(summary)
            print(f"{len(api.changing)} changing call(s)")
        return EXIT_OK
    except CredentialsRejectedError as exc:
        print(f"error: {exc} (the credentials used: {found.where if found else 'none'})", file=sys.stderr)
        return EXIT_USAGE
    except (SpecError, PackageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
