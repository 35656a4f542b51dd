"""moto's server with what IAM tests need and moto lacks.

moto cannot age credentials, has no root user and answers some IAM calls differently from AWS.
This script runs moto's own WSGI application on a loopback port and adds:

* test endpoints under /_iamwarden/ (JSON in, JSON out) to backdate users, set password and
  access key times, bulk-seed users, describe the root user and configure the credential report;
* a credential report that prints the password set time, key last-used region and service, a
  root row, a GeneratedTime, and can go through STARTED -> INPROGRESS -> COMPLETE;
* GetAccountAuthorizationDetails paginated by MaxItems and Marker as AWS does;
* config:PutEvaluations without TestMode (moto 5.2.1 implements only TestMode=true and fails
  otherwise with NotImplementedError, an HTTP 500): the request is validated as AWS does (a
  result token, 1-100 evaluations, each with a resource type and ID, a COMPLIANT, NON_COMPLIANT
  or NOT_APPLICABLE compliance type, an ordering timestamp and an annotation of at most 256
  characters) and its evaluations are recorded per account; the config-evaluations endpoint
  returns them, and config-fail names resource IDs whose evaluations come back in
  FailedEvaluations. With TestMode=true moto's own handling is kept: nothing is recorded, as in
  AWS.
* sts:AssumeRole that checks, as AWS does, that the role exists in the account of its ARN and,
  when its trust policy has an sts:ExternalId condition, that the ExternalId matches: otherwise
  AccessDenied (moto lets any ARN be assumed, which hides a member account without its role).

Every test endpoint takes the 12-digit "account" to act on, so tests can share one server and
isolate themselves by account (requests pick their account with the x-moto-account-id header).

The script prints "PORT <n>" once listening and exits when its standard input closes.
"""

import json
import logging
import os
import sys
import threading
import traceback
from datetime import datetime, timezone

try:
    from moto.iam import models as iam_models
    from moto.iam import responses as iam_responses
    from moto.iam.exceptions import IAMException, ReportNotPresentException
    from moto.sts import models as sts_models
    from moto.sts.exceptions import STSClientError
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from moto.config import responses as config_responses
    from moto.config.exceptions import InvalidResultTokenException
    from moto.config.exceptions import ValidationException as ConfigValidationException
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response
except ImportError as exc:  # pragma: no cover - reported to the Go side
    print(f"MOTO_MISSING {exc}", flush=True)
    sys.exit(3)

PREFIX = "/_iamwarden/"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
)


class ReportInProgress(IAMException):
    code = "ReportInProgress"


class ReportExpired(IAMException):
    code = "ReportExpired"


def parse_time(value):
    """RFC 3339 text -> naive UTC datetime (moto's convention); None/"" -> None."""
    if not value:
        return None
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def fmt(t, missing):
    return t.strftime(DATE_FORMAT) if t else missing


def check_account(account):
    account = str(account or "")
    if len(account) != 12 or not account.isdigit():
        raise ValueError(f"account must be 12 digits, got {account!r}")
    return account


def account_of(req):
    return check_account(req.get("account"))


def backend_for(account):
    return iam_models.iam_backends[check_account(account)]["aws"]


# ---------------------------------------------------------------------------------------------
# Users: password set time, login profile creation, credential report rows.


def password_set_at(user):
    return getattr(user, "_iw_password_set", None) or user.create_date


def profile_created_at(user):
    return getattr(user, "_iw_profile_created", None) or password_set_at(user)


def key_columns(key):
    if key is None:
        return ["false", "N/A", "N/A", "N/A", "N/A"]
    used = key.last_used
    if used is None:
        last, region, service = "N/A", "N/A", "N/A"
    else:
        ts = used.timestamp if hasattr(used, "timestamp") and not isinstance(used, datetime) else used
        last = fmt(ts, "N/A")
        region = getattr(used, "region", None) or "N/A"
        service = getattr(used, "service", None) or "N/A"
    return [
        "true" if key.status == "Active" else "false",
        fmt(key.create_date, "N/A"),
        last,
        region,
        service,
    ]


def user_row(user):
    if user.password:
        enabled = "true"
        last_used = fmt(user.password_last_used, "no_information")
        changed = fmt(password_set_at(user), "N/A")
    else:
        enabled, last_used, changed = "false", "N/A", "N/A"
    keys = list(user.access_keys) + [None, None]
    certs = list(user.signing_certificates.values()) + [None, None]
    fields = [
        user.name,
        user.arn,
        fmt(user.create_date, "N/A"),
        enabled,
        last_used,
        changed,
        "N/A",
        "true" if user.mfa_devices else "false",
    ]
    fields += key_columns(keys[0])
    fields += key_columns(keys[1])
    for cert in certs[:2]:
        fields += ["true" if cert is not None and cert.status == "Active" else "false", "N/A"]
    return ",".join(fields) + "\n"


def root_row(backend):
    root = getattr(backend, "_iw_root", None)
    if root is None:
        return ""
    fields = [
        "<root_account>",
        f"arn:aws:iam::{backend.account_id}:root",
        fmt(root["created"], "N/A"),
        "not_supported",
        fmt(root["password_last_used"], "no_information"),
        "not_supported",
        "not_supported",
        "true" if root["mfa"] else "false",
    ]
    for k in root["keys"][:2] + [None, None][len(root["keys"][:2]):]:
        if k is None:
            fields += ["false", "N/A", "N/A", "N/A", "N/A"]
            continue
        used = k["last_used"]
        fields += [
            "true" if k["active"] else "false",
            fmt(k["rotated"], "N/A"),
            fmt(used, "N/A"),
            (k["region"] or "N/A") if used else "N/A",
            (k["service"] or "N/A") if used else "N/A",
        ]
    fields += ["false", "N/A", "false", "N/A"]
    return ",".join(fields) + "\n"


def credential_report(backend):
    out = [REPORT_HEADER, root_row(backend)]
    out += [user_row(u) for u in list(backend.users.values())]
    return "".join(out)


_orig_create_login_profile = iam_models.IAMBackend.create_login_profile
_orig_update_login_profile = iam_models.IAMBackend.update_login_profile


def create_login_profile(self, user_name, password):
    user = _orig_create_login_profile(self, user_name, password)
    now = utcnow()
    user._iw_password_set = now
    user._iw_profile_created = now
    user.password_last_used = None
    return user


def update_login_profile(self, user_name, password, password_reset_required):
    user = _orig_update_login_profile(self, user_name, password, password_reset_required)
    if password:
        user._iw_password_set = utcnow()
    return user


iam_models.IAMBackend.create_login_profile = create_login_profile
iam_models.IAMBackend.update_login_profile = update_login_profile


def get_login_profile(self):
    user = self.backend.get_login_profile(self._get_param("UserName"))
    return ActionResult(
        {
            "LoginProfile": {
                "UserName": user.name,
                "CreateDate": profile_created_at(user),
                "PasswordResetRequired": user.password_reset_required,
            }
        }
    )


iam_responses.IamResponse.get_login_profile = get_login_profile

_orig_create_login_profile_response = iam_responses.IamResponse.create_login_profile


def create_login_profile_response(self):
    # moto ignores PasswordResetRequired on creation; AWS stores it.
    result = _orig_create_login_profile_response(self)
    user = self.backend.get_user(self._get_param("UserName"))
    user.password_reset_required = str(self._get_param("PasswordResetRequired")).lower() == "true"
    return result


iam_responses.IamResponse.create_login_profile = create_login_profile_response


# ---------------------------------------------------------------------------------------------
# Credential report state: STARTED -> INPROGRESS... -> COMPLETE, expiry, GeneratedTime.


def report_state(backend):
    st = getattr(backend, "_iw_report", None)
    if st is None:
        st = {"generated": None, "pending": 0, "in_progress": False, "expired": False, "polls": 0}
        backend._iw_report = st
    return st


def generate_credential_report(self):
    st = report_state(self.backend)
    if st["in_progress"]:
        st["pending"] -= 1
        if st["pending"] <= 0:
            st["in_progress"] = False
            st["generated"] = utcnow().replace(microsecond=0)
            return ActionResult({"State": "COMPLETE"})
        return ActionResult({"State": "INPROGRESS"})
    if st["generated"] is not None:
        return ActionResult({"State": "COMPLETE"})
    if st["polls"] > 0:
        st["in_progress"] = True
        st["pending"] = st["polls"]
    else:
        st["generated"] = utcnow().replace(microsecond=0)
    return ActionResult(
        {"State": "STARTED", "Description": "No report exists. Starting a new report generation task"}
    )


def get_credential_report(self):
    st = report_state(self.backend)
    if st["expired"]:
        # The report aged out between GenerateCredentialReport and this call: it is gone, and
        # the next generation starts a new one.
        st["expired"] = False
        st["generated"] = None
        raise ReportExpired("The credential report is expired.")
    if st["in_progress"]:
        raise ReportInProgress("The credential report is being generated.")
    if st["generated"] is None:
        raise ReportNotPresentException("Credential report not present")
    return ActionResult(
        {
            "Content": credential_report(self.backend),
            "ReportFormat": "text/csv",
            "GeneratedTime": st["generated"],
        }
    )


iam_responses.IamResponse.generate_credential_report = generate_credential_report
iam_responses.IamResponse.get_credential_report = get_credential_report


# ---------------------------------------------------------------------------------------------
# Pagination as AWS does it.


def get_account_authorization_details(self):
    filters = self._get_param("Filter", [])
    details = self.backend.get_account_authorization_details(filters)
    max_items = int(self._get_param("MaxItems") or 100)
    marker = self._get_param("Marker")
    start = int(marker) if marker else 0
    items = (
        [("UserDetailList", u) for u in details["users"]]
        + [("GroupDetailList", g) for g in details["groups"]]
        + [("RoleDetailList", r) for r in details["roles"]]
        + [("Policies", p) for p in details["managed_policies"]]
    )
    page = items[start : start + max_items]
    result = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    for kind, item in page:
        result[kind].append(item)
    end = start + len(page)
    result["IsTruncated"] = end < len(items)
    if result["IsTruncated"]:
        result["Marker"] = str(end)
    return ActionResult(result)


def list_virtual_mfa_devices(self, assignment_status, marker, max_items):
    devices = list(self.virtual_mfa_devices.values())
    if assignment_status == "Assigned":
        devices = [d for d in devices if d.enable_date]
    elif assignment_status == "Unassigned":
        devices = [d for d in devices if not d.enable_date]
    max_items = int(max_items)
    start = int(marker) if marker else 0
    page = devices[start : start + max_items]
    end = start + len(page)
    return page, (str(end) if end < len(devices) else None)


iam_responses.IamResponse.get_account_authorization_details = get_account_authorization_details
iam_models.IAMBackend.list_virtual_mfa_devices = list_virtual_mfa_devices


# ---------------------------------------------------------------------------------------------
# AWS Config: PutEvaluations recorded per account.

COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE")
_config_lock = threading.Lock()
_config_evaluations = {}  # account -> [recorded evaluation]
_config_failing = {}  # account -> resource IDs whose evaluations fail


def timestamp_text(value):
    """An awsJson timestamp (epoch seconds, or text) -> RFC 3339 UTC text."""
    if isinstance(value, (int, float)):
        t = datetime.fromtimestamp(value, timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return str(value)


def check_evaluation(i, ev):
    where = f"evaluations.{i + 1}.member"
    for field, limit in (("ComplianceResourceType", 256), ("ComplianceResourceId", 768)):
        value = ev.get(field)
        if not value or len(value) > limit:
            raise ConfigValidationException(
                f"1 validation error detected: Value '{value}' at '{where}.{field}' failed to "
                f"satisfy constraint: Member must have length between 1 and {limit}"
            )
    if ev.get("ComplianceType") not in COMPLIANCE_TYPES:
        raise ConfigValidationException(
            f"1 validation error detected: Value '{ev.get('ComplianceType')}' at "
            f"'{where}.complianceType' failed to satisfy constraint: Member must satisfy enum "
            f"value set: {list(COMPLIANCE_TYPES)}"
        )
    if ev.get("OrderingTimestamp") is None:
        raise ConfigValidationException(f"1 validation error detected: '{where}.orderingTimestamp' is required")
    annotation = ev.get("Annotation")
    if annotation is not None and not 1 <= len(annotation) <= 256:
        raise ConfigValidationException(
            f"1 validation error detected: Value '{annotation}' at '{where}.annotation' failed "
            "to satisfy constraint: Member must have length between 1 and 256"
        )


_orig_put_evaluations = config_responses.ConfigResponse.put_evaluations


def put_evaluations(self):
    if self._get_param("TestMode"):
        return _orig_put_evaluations(self)
    token = self._get_param("ResultToken")
    evaluations = self._get_param("Evaluations") or []
    if not token:
        raise InvalidResultTokenException()
    if len(evaluations) > 100:
        raise ConfigValidationException(
            "1 validation error detected: Value at 'evaluations' failed to satisfy constraint: "
            "Member must have length less than or equal to 100"
        )
    for i, ev in enumerate(evaluations):
        check_evaluation(i, ev)
    account = self.current_account
    failed = []
    with _config_lock:
        failing = _config_failing.get(account, set())
        recorded = _config_evaluations.setdefault(account, [])
        for ev in evaluations:
            if ev["ComplianceResourceId"] in failing:
                failed.append(ev)
                continue
            recorded.append(
                {
                    "result_token": token,
                    "region": self.region,
                    "resource_type": ev["ComplianceResourceType"],
                    "resource_id": ev["ComplianceResourceId"],
                    "compliance_type": ev["ComplianceType"],
                    "annotation": ev.get("Annotation"),
                    "ordering_timestamp": timestamp_text(ev["OrderingTimestamp"]),
                }
            )
    return json.dumps({"FailedEvaluations": failed})


config_responses.ConfigResponse.put_evaluations = put_evaluations


# ---------------------------------------------------------------------------------------------
# Test endpoints.


class AssumeRoleDenied(STSClientError):
    def __init__(self, message):
        super().__init__("AccessDenied", message)


_orig_assume_role = sts_models.STSBackend.assume_role


def assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id):
    parts = role_arn.split(":")
    if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
        account, name = parts[4], parts[5].split("/")[-1]
        denied = f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        backend = iam_models.iam_backends[account]["aws"]
        role = next((r for r in backend.roles.values() if r.name == name), None)
        if role is None:
            raise AssumeRoleDenied(denied)
        want = external_ids(role.assume_role_policy_document)
        if want and external_id not in want:
            raise AssumeRoleDenied(denied)
    return _orig_assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id)


def external_ids(document):
    """The sts:ExternalId values a trust policy's StringEquals conditions require."""
    try:
        doc = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return set()
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out = set()
    for st in statements:
        for key, value in st.get("Condition", {}).get("StringEquals", {}).items():
            if key.lower() == "sts:externalid":
                out.update(value if isinstance(value, list) else [value])
    return out


sts_models.STSBackend.assume_role = assume_role


def find_key(user, key_id):
    if not key_id:
        if not user.access_keys:
            raise LookupError(f"user {user.name} has no access key")
        return user.access_keys[0]
    for k in user.access_keys:
        if k.access_key_id == key_id:
            return k
    raise LookupError(f"user {user.name} has no access key {key_id}")


def set_key_used(key, last_used, service, region):
    if last_used is None:
        key.last_used = None
    else:
        key.last_used = iam_models.AccessKeyLastUsed(
            timestamp=last_used, service=service or "N/A", region=region or "N/A"
        )


def op_health(_):
    return {"ok": True}


def op_backdate_user(req):
    user = backend_for(req.get("account")).get_user(req["user"])
    user.create_date = parse_time(req["created"])
    return {}


def op_password(req):
    backend = backend_for(req.get("account"))
    user = backend.get_user(req["user"])
    if not user.password:
        user.password = "iamwarden-test-Passw0rd!"
    set_at = parse_time(req.get("set_at")) or utcnow()
    user._iw_password_set = set_at
    user._iw_profile_created = parse_time(req.get("profile_created")) or set_at
    user.password_last_used = parse_time(req.get("last_used"))
    return {}


def op_access_key(req):
    user = backend_for(req.get("account")).get_user(req["user"])
    key = find_key(user, req.get("key_id"))
    created = parse_time(req.get("created"))
    if created is not None:
        key.create_date = created
    set_key_used(key, parse_time(req.get("last_used")), req.get("service"), req.get("region"))
    return {"key_id": key.access_key_id}


def op_root(req):
    backend = backend_for(req.get("account"))
    keys = []
    for k in req.get("keys") or []:
        keys.append(
            {
                "active": bool(k.get("active")),
                "rotated": parse_time(k.get("rotated")),
                "last_used": parse_time(k.get("last_used")),
                "service": k.get("service"),
                "region": k.get("region"),
            }
        )
    backend._iw_root = {
        "created": parse_time(req.get("created")) or utcnow(),
        "password_last_used": parse_time(req.get("password_last_used")),
        "mfa": bool(req.get("mfa")),
        "keys": keys,
    }
    return {}


def op_report(req):
    st = report_state(backend_for(req.get("account")))
    if "polls" in req:
        st["polls"] = max(0, int(req["polls"]))
    if req.get("discard"):
        st["generated"] = None
        st["in_progress"] = False
        st["pending"] = 0
    if "expired" in req:
        st["expired"] = bool(req["expired"])
    return {}


def op_seed(req):
    backend = backend_for(req.get("account"))
    region = "us-east-1"
    prefix = req.get("prefix") or "user-"
    start = int(req.get("start") or 0)
    count = int(req["count"])
    width = int(req.get("width") or 5)
    path = req.get("path") or "/"
    tags = [{"Key": k, "Value": v} for k, v in sorted((req.get("tags") or {}).items())]
    created = parse_time(req.get("created"))
    password_every = int(req.get("password_every") or 0)
    pw_set = parse_time(req.get("password_set_at"))
    pw_used = parse_time(req.get("password_last_used"))
    keys = int(req.get("keys") or 0)
    key_created = parse_time(req.get("key_created"))
    key_used = parse_time(req.get("key_last_used"))
    mfa_every = int(req.get("mfa_every") or 0)
    group = req.get("group")
    if group and group not in backend.groups:
        backend.create_group(group, "/")
    names = []
    for i in range(start, start + count):
        name = f"{prefix}{i:0{width}d}"
        user = backend.create_user(region, name, path, tags)
        if created is not None:
            user.create_date = created
        n = i - start
        if password_every and n % password_every == 0:
            user.password = "iamwarden-test-Passw0rd!"
            user._iw_password_set = pw_set or user.create_date
            user._iw_profile_created = user._iw_password_set
            user.password_last_used = pw_used
        for _ in range(keys):
            key = backend.create_access_key(name)
            if key_created is not None:
                key.create_date = key_created
            set_key_used(key, key_used, req.get("key_service"), req.get("key_region"))
        if mfa_every and n % mfa_every == 0:
            device = backend.create_virtual_mfa_device(name, "/")
            backend.enable_mfa_device(name, device.serial_number, "123456", "654321")
        if group:
            backend.add_user_to_group(group, name)
        names.append(name)
    return {"users": len(names), "first": names[0] if names else "", "last": names[-1] if names else ""}


def op_config_evaluations(req):
    account = account_of(req)
    with _config_lock:
        out = list(_config_evaluations.get(account, []))
        if req.get("clear"):
            _config_evaluations.pop(account, None)
    return {"evaluations": out}


def op_config_fail(req):
    account = account_of(req)
    with _config_lock:
        _config_failing[account] = set(req.get("resource_ids") or [])
    return {}


OPS = {
    "config-evaluations": op_config_evaluations,
    "config-fail": op_config_fail,
    "health": op_health,
    "backdate-user": op_backdate_user,
    "password": op_password,
    "access-key": op_access_key,
    "root": op_root,
    "report": op_report,
    "seed": op_seed,
}

_lock = threading.Lock()


def test_endpoint(environ, start_response):
    request = Request(environ)
    op = OPS.get(request.path[len(PREFIX):].strip("/"))
    if op is None:
        resp = Response(json.dumps({"error": f"unknown endpoint {request.path}"}), 404)
    else:
        try:
            body = request.get_data(as_text=True)
            req = json.loads(body) if body else {}
            with _lock:
                out = op(req)
            resp = Response(json.dumps(out), 200)
        except Exception as exc:  # reported to the test as a 400 with the reason
            traceback.print_exc(file=sys.stderr)
            resp = Response(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), 400)
    resp.content_type = "application/json"
    return resp(environ, start_response)


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return test_endpoint(environ, start_response)
        if environ.get("PATH_INFO", "") == "/moto-api/reset":
            with _config_lock:
                _config_evaluations.clear()
                _config_failing.clear()
        return moto_app(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"PORT {server.server_address[1]}", flush=True)

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
