"""What can go wrong with a replica, each as its own error with a reason for code and a
message for the panel.

A message names the replica (``s3://bucket/prefix``) and the endpoint, and at most the S3
error code and HTTP status of the answer: never the client's own text, which quotes request
URLs and answer bodies (an answer to a refused key repeats the key's id).
"""

from __future__ import annotations

import re

from ..model import SnapshotError

_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([A-Za-z0-9.]{1,64})</Code>")
# The codes of an answer that refuses who is asking rather than what they ask for.
_REFUSED_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
}
# Where the client asks for an instance's or a container's role when it has no keys.
_METADATA_PATHS = ("/latest/api/token", "/latest/meta-data", "169.254.170.2")
_WRONG_REGION = {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraint"}


class ReplicaError(SnapshotError):
    """The replica could not be reached or used; the local snapshots are untouched."""

    reason = "replica"


class ReplicaNotInstalled(ReplicaError):
    reason = "not-installed"


class ReplicaConfigError(ReplicaError):
    """The replica's address or settings cannot be used as given."""

    reason = "config"


class ReplicaUnreachable(ReplicaError):
    reason = "unreachable"


class ReplicaNoCredentials(ReplicaError):
    reason = "no-credentials"


class ReplicaCredentialsRefused(ReplicaError):
    reason = "credentials"


class ReplicaPermissionDenied(ReplicaError):
    reason = "permission"


class ReplicaBucketMissing(ReplicaError):
    reason = "no-bucket"


class ReplicaWrongRegion(ReplicaError):
    reason = "region"


class ReplicaNotS3(ReplicaError):
    """The endpoint answers, but not as an S3 service does."""

    reason = "not-s3"


class ReplicaServerError(ReplicaError):
    reason = "server"


class ReplicaDamaged(ReplicaError):
    """An object on the replica does not hold what its name says."""

    reason = "damaged"


class ReplicaSnapshotMissing(ReplicaError):
    reason = "not-found"


class ObjectMissing(ReplicaError):
    """One object is not on the replica (a 404 for it, in a bucket that exists)."""

    reason = "not-found"


def _shown(status: int | None, code: str | None) -> str:
    parts = [part for part in (code, f"HTTP {status}" if status else None) if part]
    return f" ({', '.join(parts)})" if parts else ""


def s3_code(err: BaseException) -> str | None:
    """The S3 error code in the answer a failure quotes, if any."""
    found = _CODE.search(str(err))
    return found.group(1) if found else None


def classify(err: BaseException, where: str, endpoint: str) -> ReplicaError:
    """The typed error for a failure of the S3 client; ``where`` names the replica and
    ``endpoint`` the service, for the message."""
    text = str(err)
    found = _STATUS.search(text)
    status = int(found.group(1)) if found else None
    code = s3_code(err)
    kind = type(err).__name__
    detail = _shown(status, code)
    if code == "NoSuchBucket":
        bucket = where.removeprefix("s3://").split("/", 1)[0]
        return ReplicaBucketMissing(f"the bucket {bucket} does not exist at {endpoint}")
    if code in _WRONG_REGION or status == 301:
        return ReplicaWrongRegion(
            f"{where} is in another region than the one set (s3_region){detail}"
        )
    refused = code in _REFUSED_CREDENTIALS or kind == "UnauthenticatedError" or status == 401
    denied = code == "AccessDenied" or kind == "PermissionDeniedError" or status == 403
    if code is None and any(path in text for path in _METADATA_PATHS):
        # no keys were found, so the client asked the machine's metadata service, which is
        # not there or has no role for this machine
        return ReplicaNoCredentials(
            f"no credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "a profile in ~/.aws/credentials, or an instance profile"
        )
    if refused and code != "AccessDenied":
        return ReplicaCredentialsRefused(f"{endpoint} refused the credentials for {where}{detail}")
    if denied:
        return ReplicaPermissionDenied(f"the credentials may not use {where} at {endpoint}{detail}")
    if isinstance(err, FileNotFoundError) or kind == "NotFoundError":
        return ObjectMissing(f"an object is missing from {where}")
    if "error sending request" in text or "timed out" in text or "Timeout" in text:
        return ReplicaUnreachable(f"{endpoint} cannot be reached (for {where})")
    if status is not None and status >= 500:
        return ReplicaServerError(f"{endpoint} failed to answer for {where}{detail}")
    return ReplicaNotS3(
        f"{endpoint} does not answer as an S3 service does (for {where}){detail}: "
        "is the endpoint URL right?"
    )
