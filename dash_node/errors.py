"""One error vocabulary for the DASH core.

The engine raises these; the gRPC edge (``dash_node.server``) maps each to a status code in one place.
The core never imports grpc. Every message names the offending field or setting.
"""

from __future__ import annotations


class DashError(Exception):
    """Base of every error the core raises on purpose."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DashError):
    """A request field is malformed; nothing was written."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field


class NotFound(DashError):
    code = "NOT_FOUND"


class AlreadyExists(DashError):
    """An id is taken (a commit_id already used for other content)."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(DashError):
    code = "FAILED_PRECONDITION"


class StaleEpoch(FailedPrecondition):
    """A write carried an older placement epoch than the replica knows."""

    def __init__(self, sent: int, current: int) -> None:
        super().__init__(f"write.epoch: stale epoch {sent}, current epoch is {current}")
        self.current = current


class ResourceExhausted(DashError):
    code = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(DashError):
    """The caller's deadline passed before the work began; nothing was done (a write was not applied)."""

    code = "DEADLINE_EXCEEDED"


class Unavailable(DashError):
    """The replica cannot serve now (e.g. its WAL failed closed); retry elsewhere."""

    code = "UNAVAILABLE"


class ConfigError(DashError):
    """A setting is invalid or unsafe; raised at start-up, naming the setting."""

    code = "INVALID_ARGUMENT"


class WalCorruption(DashError):
    """A WAL frame failed its checks where it must not (not at the tail)."""

    code = "DATA_LOSS"


class WalFailed(Unavailable):
    """An fsync or write failed: the WAL is closed for good and the replica stops accepting writes."""
