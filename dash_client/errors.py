"""The errors the DASH SDK raises: one class per gRPC status a caller may want to handle.

Every error carries the status name (``.code``, e.g. ``"INVALID_ARGUMENT"``) and the server's message
(``.details``), which names the offending field (``items[3].evidence[0].span_end: ...``). Input the SDK
itself can refuse before sending (a malformed time, an unknown stance) raises ``InvalidArgument`` too.
"""

from __future__ import annotations

import grpc


class DashError(Exception):
    """Base of every SDK error; ``code`` is the gRPC status name, ``details`` the server's message."""

    code: str = "UNKNOWN"

    def __init__(self, details: str, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(f"{self.code}: {details}")
        self.details = details


class InvalidArgument(DashError):
    """A request field is malformed; nothing was written. ``details`` names the field."""

    code = "INVALID_ARGUMENT"


class NotFound(DashError):
    """The claim (or the declared tenant) does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(DashError):
    """An id is taken: by another tenant, or a commit_id already used for a batch with other content."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(DashError):
    """The request conflicts with the replica's state (e.g. a stale placement epoch)."""

    code = "FAILED_PRECONDITION"


class ResourceExhausted(DashError):
    """A request exceeds a limit (batch size, message size, evidence per claim)."""

    code = "RESOURCE_EXHAUSTED"


class PermissionDenied(DashError):
    """The API key may not act on this tenant."""

    code = "PERMISSION_DENIED"


class Unauthenticated(DashError):
    """No API key, or one the server does not know."""

    code = "UNAUTHENTICATED"


class Unavailable(DashError):
    """The server could not be reached or cannot serve now; raised after the retries allowed ran out."""

    code = "UNAVAILABLE"


class DeadlineExceeded(DashError):
    """The call did not finish within its deadline (``ClientConfig.timeout`` per attempt)."""

    code = "DEADLINE_EXCEEDED"


_BY_CODE: dict[str, type[DashError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        ResourceExhausted,
        PermissionDenied,
        Unauthenticated,
        Unavailable,
        DeadlineExceeded,
    )
}


def error_for(code: str, details: str) -> DashError:
    """The ``DashError`` subclass for a status name (the base class, carrying the name, for any other)."""
    cls = _BY_CODE.get(code)
    return cls(details) if cls is not None else DashError(details, code)


def from_rpc_error(exc: grpc.RpcError) -> DashError:
    """Translate a failed gRPC call (sync or ``grpc.aio``) into its ``DashError``."""
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return error_for(code.name if code is not None else "UNKNOWN", details or "")
