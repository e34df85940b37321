"""Python client of the children's programmes suite.

The messages and gRPC stubs generated from the contracts in ``proto/`` keep their proto
packages as Python packages (``edu.competitions.v1.contest_pb2``,
``edu.competitions.v1.contest_pb2_grpc``, …), installed beside this one. This module adds
what every caller needs around them:

- :func:`connect` opens a channel to the suite's gateway (plaintext or TLS) whose calls carry
  the bearer token and, in development, the clock header ``x-edu-clock``;
- :func:`metadata` builds the same headers for one call;
- :func:`refusal` and :func:`error_reason` read the ``google.rpc`` details the suite sends
  with every error: the stable reason of ``ErrorInfo`` (domain ``edu.suite``), the fields of
  ``BadRequest`` and the Russian ``LocalizedMessage``.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import grpc
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "CLOCK_HEADER",
    "ERROR_DOMAIN",
    "LOCAL_GATEWAY",
    "Refusal",
    "connect",
    "error_reason",
    "metadata",
    "refusal",
]

LOCAL_GATEWAY = "127.0.0.1:50051"
"""The gateway of a local suite (``cargo suite up``)."""

CLOCK_HEADER = "x-edu-clock"
"""Asks a development-mode suite to judge a call at another instant (RFC 3339, e.g.
``2025-01-31T23:59:00+03:00``); production ignores it."""

ERROR_DOMAIN = "edu.suite"
"""The domain of every ``google.rpc.ErrorInfo`` the suite sends."""

_STATUS_DETAILS = "grpc-status-details-bin"

Metadata = List[Tuple[str, str]]


def metadata(token: Optional[str] = None, clock: Optional[str] = None) -> Metadata:
    """The headers of one call: ``authorization: Bearer <token>`` and ``x-edu-clock``."""
    headers: Metadata = []
    if token:
        headers.append(("authorization", f"Bearer {token.strip()}"))
    if clock:
        headers.append((CLOCK_HEADER, clock))
    return headers


def connect(
    address: Optional[str] = None,
    *,
    token: Optional[str] = None,
    clock: Optional[str] = None,
    tls: Optional[bool] = None,
    root_certificates: Optional[bytes] = None,
    options: Sequence[Tuple[str, Any]] = (),
) -> grpc.Channel:
    """A channel to the gateway at ``address`` (``host:port``, ``http://host:port`` or
    ``https://host:port``; by default ``$EDU_GATEWAY``, else the local suite).

    TLS is used for ``https://`` addresses or ``tls=True``, trusting ``root_certificates``
    (PEM) or the system's roots. Every call carries ``token`` and ``clock`` (see
    :func:`metadata`) unless it sets that header itself.
    """
    address = address or os.environ.get("EDU_GATEWAY") or LOCAL_GATEWAY
    target = address
    scheme, _, rest = address.partition("://")
    if rest:
        target = rest.rstrip("/")
        if tls is None:
            tls = scheme == "https"
    if tls or root_certificates is not None:
        channel = grpc.secure_channel(
            target, grpc.ssl_channel_credentials(root_certificates), options=options
        )
    else:
        channel = grpc.insecure_channel(target, options=options)
    headers = metadata(token, clock)
    if headers:
        channel = grpc.intercept_channel(channel, _Headers(headers))
    return channel


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class _Headers(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the channel's headers to every call that does not set them itself."""

    def __init__(self, headers: Metadata) -> None:
        self._headers = tuple(headers)

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        own = list(details.metadata or ())
        present = {key for key, _ in own}
        own.extend((key, value) for key, value in self._headers if key not in present)
        return _CallDetails(
            details.method,
            details.timeout,
            own,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Callable, details: Any, requests: Iterator[Any]
    ) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable, details: Any, requests: Iterator[Any]
    ) -> Any:
        return continuation(self._details(details), requests)


@dataclass(frozen=True)
class Refusal:
    """Why the suite refused a call, read from the ``google.rpc`` details of its status."""

    code: grpc.StatusCode
    """The gRPC code."""
    message: str
    """The status message (English, for logs)."""
    reason: Optional[str] = None
    """``ErrorInfo.reason``: the stable, machine-readable reason (``ALREADY_EXISTS``,
    ``DEADLINE_PASSED``, ``INVALID_FIELDS``, ``TOKEN_MISSING``, …); ``None`` when the status
    carries no ``ErrorInfo`` (a transport failure, or a status from elsewhere)."""
    domain: Optional[str] = None
    """``ErrorInfo.domain``: :data:`ERROR_DOMAIN` for the suite's own refusals."""
    metadata: Dict[str, str] = field(default_factory=dict)
    """``ErrorInfo.metadata``."""
    fields: List[Tuple[str, str]] = field(default_factory=list)
    """``BadRequest``: each offending field of a malformed request and what is wrong."""
    localized: Optional[str] = None
    """``LocalizedMessage`` (Russian, ``ru-RU``): text an operator can be shown as is."""

    def __str__(self) -> str:
        text = f"{self.code.name} {self.reason or '(no reason)'}"
        text += "".join(f" [{name}: {what}]" for name, what in self.fields)
        return f"{text}: {self.localized or self.message}"


def refusal(error: grpc.RpcError) -> Refusal:
    """Reads the refusal out of the error a failed call raised."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else None) or ""
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    found = Refusal(code=code, message=message)
    status = None
    for key, value in trailers or ():
        if key == _STATUS_DETAILS and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
    if status is None:
        return found
    reason = domain = localized = None
    meta: Dict[str, str] = {}
    fields: List[Tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, domain, meta = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR):
            text = error_details_pb2.LocalizedMessage()
            detail.Unpack(text)
            localized = text.message
    return Refusal(code, message, reason, domain, meta, fields, localized)


def error_reason(error: grpc.RpcError) -> Optional[str]:
    """The stable reason of a refusal (``ErrorInfo.reason``), if the error carries one."""
    return refusal(error).reason
