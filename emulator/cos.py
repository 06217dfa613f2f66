"""COS object-storage actions: translate HTTP to backend calls and results to COS responses."""
from __future__ import annotations

import base64
import json
import uuid
from typing import Dict, List, Tuple
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .backend import Backend
from .dispatch import Request, Response, Route, route, xml_response
from .errors import EmulatorError, invalid_argument
from .executor import inspect
from .inventory import check_id, configuration_nodes, parse_configuration
from .models import ObjectRecord
from .xmlio import Raw, http_date, iso_z, parse_body, render, text

OWNER_ID = "qcs::cam::uin/100000000001:uin/100000000001"
ALL_USERS = "http://cam.qcloud.com/groups/global/AllUsers"
MAX_DELETE_KEYS = 1000


# Standard headers PUT Object stores and GET/HEAD Object return, and the GET Object query parameters that override
# them for one response (COS API "PUT Object" and "GET Object" pages, https://cloud.tencent.com/document/product/436/
# 7749 and /7753, read 2026-12-01; the SDK's ut/test.py test_put_get_delete_object_10MB and test_put_get_gzip_file).
STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")
RESPONSE_OVERRIDES = {"response-" + name.lower(): name for name in STORED_HEADERS + ("Content-Type",)}


def _object_headers(record: ObjectRecord) -> Dict[str, str]:
    headers = {"ETag": record.etag, "Last-Modified": http_date(record.last_modified),
               "x-cos-storage-class": "STANDARD"}
    if record.version_id:
        headers["x-cos-version-id"] = record.version_id
    headers.update(record.headers)
    for name, value in record.metadata.items():
        headers["x-cos-meta-" + name] = value
    return headers


def _stored_headers(request: Request) -> Dict[str, str]:
    sent = {name: request.header(name) for name in STORED_HEADERS}
    return {name: value for name, value in sent.items() if value is not None}


def _user_metadata(request: Request) -> Dict[str, str]:
    return {name.lower()[len("x-cos-meta-"):]: value for name, value in request.headers.items()
            if name.lower().startswith("x-cos-meta-")}


def _encode(value: str, enabled: bool) -> str:
    return quote(value, safe="/-_.~") if enabled else value


def _acl(request: Request) -> str:
    acl = request.header("x-cos-acl") or "default"
    if acl not in ("default", "private", "public-read"):
        raise invalid_argument(f"x-cos-acl {acl!r} is not supported")
    return acl


def _version_headers(record: ObjectRecord) -> Dict[str, str]:
    """x-cos-version-id on a PUT or copy only where versioning is Enabled (PUT Object, 436/7749)."""
    return {"x-cos-version-id": record.version_id} if record.version_id not in ("", "null") else {}


def _max_keys(params: Dict[str, str]) -> int:
    try:
        max_keys = int(params.get("max-keys") or 1000)
    except ValueError as exc:
        raise invalid_argument("max-keys must be an integer") from exc
    if max_keys < 0:
        raise invalid_argument("max-keys must not be negative")
    return min(max_keys, 1000)


def _encoding(params: Dict[str, str]) -> bool:
    encoding = params.get("encoding-type", "")
    if encoding not in ("", "url"):
        raise invalid_argument("encoding-type must be url")
    return encoding == "url"


class CosActions:
    """Each action's docstring says what it does not emulate."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def routes(self) -> List[Route]:
        key = r"/(?P<key>.+)"
        return [
            route("cos", "PUT", "/", self.put_bucket_versioning, flag=("versioning", None)),
            route("cos", "GET", "/", self.get_bucket_versioning, flag=("versioning", None)),
            route("cos", "GET", "/", self.list_object_versions, flag=("versions", None)),
            route("cos", "PUT", "/", self.put_bucket_inventory, flag=("inventory", None)),
            route("cos", "GET", "/", self.get_bucket_inventory, flag=("inventory", None)),
            route("cos", "DELETE", "/", self.delete_bucket_inventory, flag=("inventory", None)),
            route("cos", "POST", "/", self.post_bucket_inventory, flag=("inventory", None)),
            route("cos", "PUT", "/", self.put_bucket),
            route("cos", "HEAD", "/", self.head_bucket),
            route("cos", "DELETE", "/", self.delete_bucket),
            route("cos", "GET", "/", self.get_bucket),
            route("cos", "POST", "/", self.delete_objects, flag=("delete", None)),
            route("cos", "PUT", key, self.put_object_acl, flag=("acl", None)),
            route("cos", "GET", key, self.get_object_acl, flag=("acl", None)),
            route("cos", "GET", key, self.image_inspect, flag=("imageInspect", None)),
            route("cos", "GET", key, self.image_inspect, flag=("ci-process", "ImageInspect")),
            route("cos", "PUT", key, self.put_object),
            route("cos", "GET", key, self.get_object),
            route("cos", "HEAD", key, self.head_object),
            route("cos", "DELETE", key, self.delete_object),
        ]

    # ----- buckets -------------------------------------------------------------------------------------
    def put_bucket(self, request: Request) -> Response:
        """PUT Bucket. Not emulated: ACL headers, MAZ/archive configs, the request body, regions."""
        self.backend.create_bucket(request.bucket)
        return Response(content_type=None)

    def head_bucket(self, request: Request) -> Response:
        """HEAD Bucket. Not emulated: x-cos-bucket-region and other bucket headers."""
        if not self.backend.has_bucket(request.bucket):
            raise EmulatorError(404, "NoSuchBucket", "The specified bucket does not exist.")
        return Response(content_type=None)

    def delete_bucket(self, request: Request) -> Response:
        """DELETE Bucket (must be empty: no object, old version or delete marker left)."""
        self.backend.delete_bucket(request.bucket)
        return Response(status=204, content_type=None)

    def get_bucket(self, request: Request) -> Response:
        """GET Bucket (list objects v1): prefix, marker, max-keys (≤ 1000), delimiter, encoding-type=url.
        Lists current objects only (never a delete marker or an older version).
        Not emulated: Owner names, storage classes other than STANDARD."""
        params = request.params
        prefix, marker, delimiter = params.get("prefix", ""), params.get("marker", ""), params.get("delimiter", "")
        url = _encoding(params)
        max_keys = _max_keys(params)
        contents, prefixes, truncated, next_marker = self.backend.list_objects(
            request.bucket, prefix=prefix, marker=marker, max_keys=max_keys, delimiter=delimiter)
        nodes: List[Tuple[str, object]] = [("Name", request.bucket)]
        if url:
            nodes.append(("EncodingType", "url"))
        nodes += [("Prefix", _encode(prefix, url)), ("Marker", _encode(marker, url)), ("MaxKeys", max_keys)]
        if delimiter:
            nodes.append(("Delimiter", _encode(delimiter, url)))
        nodes.append(("IsTruncated", truncated))
        if truncated:
            nodes.append(("NextMarker", _encode(next_marker, url)))
        for record in contents:
            nodes.append(("Contents", [("Key", _encode(record.key, url)),
                                       ("LastModified", iso_z(record.last_modified)), ("ETag", record.etag),
                                       ("Size", record.size),
                                       ("Owner", [("ID", OWNER_ID), ("DisplayName", OWNER_ID)]),
                                       ("StorageClass", "STANDARD")]))
        for common in prefixes:
            nodes.append(("CommonPrefixes", [("Prefix", _encode(common, url))]))
        return xml_response(render("ListBucketResult", nodes))

    # ----- bucket versioning ---------------------------------------------------------------------------
    def put_bucket_versioning(self, request: Request) -> Response:
        """PUT Bucket versioning (436/19889): ``<VersioningConfiguration><Status>`` Enabled or Suspended; 200, empty
        body. Once set it never returns to "never". Not emulated: the replication rule that blocks suspending."""
        config = parse_body(request.body, root="VersioningConfiguration")
        self.backend.set_versioning(request.bucket, text(config, "Status") or "")
        return Response(content_type=None)

    def get_bucket_versioning(self, request: Request) -> Response:
        """GET Bucket versioning (436/19888): ``<VersioningConfiguration/>`` for a bucket that never had it."""
        status = self.backend.versioning(request.bucket)
        if not status:
            return xml_response(b'<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration/>')
        return xml_response(render("VersioningConfiguration", [("Status", status)]))

    def list_object_versions(self, request: Request) -> Response:
        """GET Bucket Object versions (``?versions``, 436/35521): prefix, delimiter, key-marker, version-id-marker,
        max-keys (≤ 1000, counting Version, DeleteMarker and CommonPrefixes), encoding-type=url; entries by key,
        each key's newest first, Version and DeleteMarker interleaved in that order. Not emulated: Owner names,
        storage classes other than STANDARD."""
        params = request.params
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        key_marker, version_marker = params.get("key-marker", ""), params.get("version-id-marker", "")
        url = _encoding(params)
        max_keys = _max_keys(params)
        entries, prefixes, next_key, next_version = self._version_page(
            request.bucket, prefix, delimiter, key_marker, version_marker, max_keys)
        owner = [("ID", OWNER_ID), ("DisplayName", OWNER_ID)]
        nodes: List[Tuple[str, object]] = [("Name", request.bucket)]
        if url:
            nodes.append(("EncodingType", "url"))
        nodes += [("Prefix", _encode(prefix, url)), ("KeyMarker", _encode(key_marker, url)),
                  ("VersionIdMarker", _encode(version_marker, url)), ("MaxKeys", max_keys)]
        if delimiter:
            nodes.append(("Delimiter", _encode(delimiter, url)))
        nodes.append(("IsTruncated", bool(next_key)))
        if next_key:
            nodes += [("NextKeyMarker", _encode(next_key, url)), ("NextVersionIdMarker", _encode(next_version, url))]
        for common in prefixes:
            nodes.append(("CommonPrefixes", [("Prefix", _encode(common, url))]))
        for v in entries:
            head = [("Key", _encode(v.key, url)), ("VersionId", v.version_id), ("IsLatest", v.is_latest),
                    ("LastModified", iso_z(v.last_modified))]
            if v.is_delete_marker:
                nodes.append(("DeleteMarker", head + [("Owner", owner)]))
            else:
                nodes.append(("Version", head + [("ETag", v.etag), ("Size", v.size), ("StorageClass", "STANDARD"),
                                                 ("Owner", owner)]))
        return xml_response(render("ListVersionsResult", nodes))

    def _version_page(self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_marker: str,
                      max_keys: int) -> Tuple[list, List[str], str, str]:
        """One page: (entries, common prefixes, next key marker, next version-id marker); markers '' at the end."""
        entries: list = []
        prefixes: List[str] = []
        last = ("", "")  # the key (or common prefix) and version id returned last
        passed_version = not version_marker
        for v in self.backend.list_versions(bucket, prefix):
            if v.key < key_marker or (v.key == key_marker and not version_marker):
                continue
            if v.key == key_marker and not passed_version:
                passed_version = v.version_id == version_marker
                continue
            common = ""
            if delimiter and v.key.find(delimiter, len(prefix)) >= 0:
                common = v.key[:v.key.find(delimiter, len(prefix)) + len(delimiter)]
                if (prefixes and prefixes[-1] == common) or common <= key_marker:
                    continue
            if len(entries) + len(prefixes) >= max_keys:
                return entries, prefixes, last[0], last[1]
            if common:
                prefixes.append(common)
                last = (common, "")
            else:
                entries.append(v)
                last = (v.key, v.version_id)
        return entries, prefixes, "", ""

    def delete_objects(self, request: Request) -> Response:
        """DELETE Multiple Objects (``POST /?delete``, at most 1000 keys): Verbose lists every key under Deleted,
        Quiet lists only failures; a missing key counts as deleted (https://cloud.tencent.com/document/api/436/8289,
        read 2026-12-01). Not emulated: VersionId, Content-MD5 checks."""
        delete = parse_body(request.body, root="Delete")
        quiet = (text(delete, "Quiet") or "false").lower() == "true"
        keys = [text(obj, "Key") or "" for obj in delete.findall("Object")]
        if not keys or len(keys) > MAX_DELETE_KEYS:
            raise EmulatorError(400, "MalformedXML", f"Delete must list 1 to {MAX_DELETE_KEYS} Object elements, "
                                                     f"got {len(keys)}")
        if not self.backend.has_bucket(request.bucket):
            raise EmulatorError(404, "NoSuchBucket", "The specified bucket does not exist.")
        nodes: List[Tuple[str, object]] = []
        for key in keys:
            if not key:
                nodes.append(("Error", [("Key", key), ("Code", "InvalidArgument"),
                                        ("Message", "Key must not be empty")]))
                continue
            self.backend.delete_object(request.bucket, key)
            if not quiet:
                nodes.append(("Deleted", [("Key", key)]))
        return xml_response(render("DeleteResult", nodes))

    # ----- bucket inventory ----------------------------------------------------------------------------
    def put_bucket_inventory(self, request: Request) -> Response:
        """PUT Bucket inventory: the body validated per the page's Required column; 200, empty body.
        Not emulated: the bucket policy the destination needs, the same-region rule, Content-MD5 checks."""
        inventory_id = check_id(request.params.get("id"))
        config = parse_configuration(parse_body(request.body, root="InventoryConfiguration"), inventory_id)
        self.backend.put_inventory(request.bucket, config)
        return Response(content_type=None)

    def get_bucket_inventory(self, request: Request) -> Response:
        """GET Bucket inventory (with ``id``) or List Bucket Inventory Configurations (without): 100 a page,
        ``continuation-token`` / ``NextContinuationToken``, in the order configurations were first put."""
        if "id" in request.params:
            config = self.backend.get_inventory(request.bucket, check_id(request.params.get("id")))
            return xml_response(render("InventoryConfiguration", configuration_nodes(config)))
        token = request.params.get("continuation-token") or ""
        try:
            after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8") if token else ""
        except (ValueError, UnicodeError) as exc:
            raise invalid_argument("continuation-token is not valid") from exc
        page, last = self.backend.list_inventories(request.bucket, after)
        nodes: List[Tuple[str, object]] = [("InventoryConfiguration", configuration_nodes(c)) for c in page]
        if token:
            nodes.append(("ContinuationToken", token))
        nodes.append(("IsTruncated", bool(last)))
        if last:
            nodes.append(("NextContinuationToken", base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii")))
        return xml_response(render("ListInventoryConfigurationResult", nodes))

    def delete_bucket_inventory(self, request: Request) -> Response:
        """DELETE Bucket inventory: 204, also for an id with no configuration (the SDK's ut deletes one first)."""
        self.backend.delete_inventory(request.bucket, check_id(request.params.get("id")))
        return Response(status=204, content_type=None)

    def post_bucket_inventory(self, request: Request) -> Response:
        """POST Bucket inventory (one-time): no IsEnabled or Schedule; the report is written before the answer,
        ``<PostInventoryResult><JobId>``. Not emulated: the job's duration, a way to query the JobId."""
        inventory_id = check_id(request.params.get("id"))
        config = parse_configuration(parse_body(request.body, root="InventoryConfiguration"), inventory_id,
                                     one_time=True)
        self.backend.post_inventory(request.bucket, config)
        job_id = base64.b64encode(uuid.uuid4().bytes).decode("ascii")
        return xml_response(render("PostInventoryResult", [("JobId", job_id)]))

    # ----- objects -------------------------------------------------------------------------------------
    def put_object(self, request: Request, key: str) -> Response:
        """PUT Object (and PUT Object - Copy when x-cos-copy-source is present). Honors Content-Type,
        x-cos-meta-*, x-cos-acl and x-cos-forbid-overwrite (409 FileAlreadyExists, atomically).
        Not emulated: versioning, storage classes, SSE, Content-MD5 checks, tagging, traffic limits."""
        if request.header("x-cos-copy-source"):
            return self._copy_object(request, key)
        forbid = (request.header("x-cos-forbid-overwrite") or "").lower() == "true"
        record = self.backend.put_object(request.bucket, key, request.body,
                                         content_type=request.header("Content-Type"),
                                         metadata=_user_metadata(request), acl=_acl(request),
                                         forbid_overwrite=forbid, headers=_stored_headers(request))
        return Response(headers={"ETag": record.etag, **_version_headers(record)}, content_type=None)

    def _copy_object(self, request: Request, key: str) -> Response:
        """PUT Object - Copy within the emulator, of the current version or of ``?versionId=`` in the source; the
        copy's ACL is x-cos-acl, else 'default' (436/10881: never the source's). Not emulated: cross-region copies,
        conditional copy headers."""
        source = request.header("x-cos-copy-source") or ""
        parts = urlsplit(source if "://" in source else "http://" + source)
        host = (parts.hostname or "").lower()
        if ".cos." not in host or len(parts.path) < 2:
            raise invalid_argument(f"x-cos-copy-source {source!r} is not <bucket>.cos.<region>.myqcloud.com/<key>")
        src_bucket, src_key = host.split(".cos.", 1)[0], unquote(parts.path[1:])
        source_version = (parse_qs(parts.query).get("versionId") or [None])[0]
        directive = request.header("x-cos-metadata-directive") or "Copy"
        if directive not in ("Copy", "Replaced"):
            raise invalid_argument("x-cos-metadata-directive must be Copy or Replaced")
        if not self.backend.has_bucket(src_bucket):
            raise EmulatorError(404, "NoSuchBucket", "The specified bucket does not exist.", resource=src_bucket)
        record = self.backend.copy_object(src_bucket, src_key, request.bucket, key,
                                          replace_metadata=directive == "Replaced",
                                          content_type=request.header("Content-Type"),
                                          metadata=_user_metadata(request), headers=_stored_headers(request),
                                          source_version_id=source_version, acl=_acl(request))
        body = render("CopyObjectResult", [("ETag", record.etag), ("LastModified", iso_z(record.last_modified))])
        return xml_response(body, headers=_version_headers(record))

    def get_object(self, request: Request, key: str) -> Response:
        """GET Object with the stored headers and the response-* overrides (content-type, -language, -disposition,
        -encoding, cache-control, expires); ``versionId`` reads that version. Not emulated: Range, conditional GETs
        (If-Match …), traffic limits."""
        record = self.backend.get_object(request.bucket, key, request.params.get("versionId") or None)
        headers = _object_headers(record)
        content_type = record.content_type
        for param, value in request.params.items():
            name = RESPONSE_OVERRIDES.get(param.lower())
            if name == "Content-Type":
                content_type = value
            elif name is not None:
                headers[name] = value
        return Response(body=record.data, headers=headers, content_type=content_type)

    def head_object(self, request: Request, key: str) -> Response:
        """HEAD Object (the object's headers, no body; ``versionId`` for that version). Not emulated: conditional
        headers."""
        record = self.backend.get_object(request.bucket, key, request.params.get("versionId") or None)
        headers = _object_headers(record)
        headers["Content-Length"] = str(record.size)
        return Response(headers=headers, content_type=record.content_type)

    def delete_object(self, request: Request, key: str) -> Response:
        """DELETE Object (436/7743): 204 whether or not the key existed. Where versioning is Enabled it leaves a
        delete marker (``x-cos-delete-marker: true``, ``x-cos-version-id`` the marker's); ``versionId`` removes
        that version for good (``x-cos-version-id`` it, and ``x-cos-delete-marker: true`` if it was a marker)."""
        outcome = self.backend.delete_key(request.bucket, key, request.params.get("versionId") or None)
        headers = {"x-cos-version-id": outcome.version_id} if outcome.version_id else {}
        if outcome.delete_marker:
            headers["x-cos-delete-marker"] = "true"
        return Response(status=204, headers=headers, content_type=None)

    def put_object_acl(self, request: Request, key: str) -> Response:
        """PUT Object ACL via x-cos-acl (private, public-read, default) or an AccessControlPolicy body (AllUsers
        READ → public-read, anything else → private). Not emulated: per-user grants (x-cos-grant-*)."""
        acl = request.header("x-cos-acl")
        if acl is None and request.body.strip():
            policy = parse_body(request.body, root="AccessControlPolicy")
            public = any(text(g, "Grantee/URI") == ALL_USERS and text(g, "Permission") == "READ"
                         for g in policy.iter("Grant"))
            acl = "public-read" if public else "private"
        self.backend.set_object_acl(request.bucket, key, acl or "default")
        return Response(content_type=None)

    def get_object_acl(self, request: Request, key: str) -> Response:
        """GET Object ACL: owner FULL_CONTROL, plus AllUsers READ when public-read; x-cos-acl header says
        'default' for an inherited ACL. Not emulated: per-user grants."""
        record = self.backend.get_object(request.bucket, key)
        owner = [("ID", OWNER_ID), ("DisplayName", OWNER_ID)]
        xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        grants: List[Tuple[str, object]] = [("Grant", Raw(
            f'<Grant><Grantee {xsi} xsi:type="CanonicalUser"><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}'
            "</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>"))]
        if record.acl == "public-read":
            grants.append(("Grant", Raw(f'<Grant><Grantee {xsi} xsi:type="Group"><URI>{ALL_USERS}</URI></Grantee>'
                                        "<Permission>READ</Permission></Grant>")))
        body = render("AccessControlPolicy", [("Owner", owner), ("AccessControlList", grants)])
        return xml_response(body, headers={"x-cos-acl": record.acl})

    def image_inspect(self, request: Request, key: str) -> Response:
        """Synchronous ImageInspect (``?imageInspect`` or ``?ci-process=ImageInspect``): the detector's JSON.
        Not emulated: billing, the 50000-px dimension limits (only what the detector checks)."""
        record = self.backend.get_object(request.bucket, key)
        result, error = inspect(self.backend, record.data)
        if error is not None:
            raise EmulatorError(400, error[0], error[1])
        return Response(body=json.dumps(result).encode("utf-8"), content_type="application/json")
