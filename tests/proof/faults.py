"""Fault injection for the proof tests.

`FaultyMotoServer` is moto's threaded server with a thin WSGI layer in front that answers chosen
requests with protocol-correct AWS errors (what each service's real endpoint would send), so
every client — boto3 in this process, a subprocess, the AWS CLI — sees real throttling.
`client_faults` does the same on the client side with botocore's `before-send` hook where a
whole server is more than a test needs.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

_SERVICE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    head = bytes([0x60 + n]) if n < 24 else bytes([0x78, n])
    return head + data


def _cbor_error(code: str, message: str) -> bytes:
    return (
        bytes([0xA2])
        + _cbor_text("__type")
        + _cbor_text(code)
        + _cbor_text("message")
        + _cbor_text(message)
    )


def error_response(protocol: str, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an AWS error in the service's own wire protocol."""
    status = 400
    if protocol in ("json", "rest-json"):
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
        body = f'{{"__type": "{code}", "message": "{message}"}}'.encode()
        return (429 if code == "TooManyRequestsException" else status), headers, body
    if protocol == "cbor":
        return (
            status,
            {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
            (_cbor_error(code, message)),
        )
    if protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            "</Errors><RequestID>fault</RequestID></Response>"
        ).encode()
        return 503, {"Content-Type": "text/xml"}, body
    if protocol == "rest-xml":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        return 503 if code == "SlowDown" else status, {"Content-Type": "application/xml"}, body
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
        "</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    ).encode()
    return status, {"Content-Type": "text/xml"}, body


def identify(environ: dict[str, Any], body: bytes) -> tuple[Call, str]:
    """The service, operation and wire protocol of a raw request."""
    match = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    path = environ.get("PATH_INFO", "")
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        return Call(service, path.rsplit("/", 1)[-1]), "cbor"
    if target:
        return Call(service, target.rsplit(".", 1)[-1]), "json"
    if service == "s3":
        return Call(service, f"{environ.get('REQUEST_METHOD', '')} {path}"), "rest-xml"
    if service == "lambda":
        return Call(service, f"{environ.get('REQUEST_METHOD', '')} {path}"), "rest-json"
    action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
    if not action:
        action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[0]
    return Call(service, action), "ec2" if service == "ec2" else "query"


THROTTLE_CODES = {
    "json": "ThrottlingException",
    "cbor": "ThrottlingException",
    "rest-json": "TooManyRequestsException",
    "ec2": "RequestLimitExceeded",
    "query": "Throttling",
    "rest-xml": "SlowDown",
}


@dataclass
class FaultPlan:
    """Which requests fail. `decide` returns an error code to send, or None to pass through."""

    decide: Callable[[Call, str], str | None]
    seen: list[Call] = field(default_factory=list)
    injected: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def throttle_fraction(fraction: float, seed: int = 7) -> Callable[[Call, str], str | None]:
    rng = random.Random(seed)
    lock = threading.Lock()

    def decide(call: Call, protocol: str) -> str | None:
        with lock:
            hit = rng.random() < fraction
        return THROTTLE_CODES[protocol] if hit else None

    return decide


class FaultMiddleware:
    def __init__(self, app: Any, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        call, protocol = identify(environ, body)
        with self.plan.lock:
            self.plan.seen.append(call)
        code = self.plan.decide(call, protocol)
        if code is None:
            return self.app(environ, start_response)
        with self.plan.lock:
            self.plan.injected.append(call)
        status, headers, payload = error_response(protocol, code, "injected by the fault server")
        start_response(f"{status} Fault", [*headers.items(), ("Content-Length", str(len(payload)))])
        return [payload]


class FaultyMotoServer(ThreadedMotoServer):
    """moto's server behind FaultMiddleware; `plan` may be swapped while it runs."""

    def __init__(self, plan: FaultPlan | None = None, port: int = 0) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.plan = plan or FaultPlan(decide=lambda call, protocol: None)
        self._middleware: FaultMiddleware | None = None

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._middleware = FaultMiddleware(app, self.plan)
        self._server = make_server(
            self._ip_address, self._port, self._middleware, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan
        if self._middleware is not None:
            self._middleware.plan = plan

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def client_faults(
    ctx: Any, decide: Callable[[str, str], tuple[str, str] | None]
) -> list[tuple[str, str]]:
    """Fail calls on an AwsContext's clients before they are sent.

    `decide(service, operation)` returns (code, message) to fail the call with a non-retryable
    ClientError-shaped response, or None. Returns the list of failed calls.
    """
    from botocore.awsrequest import AWSResponse

    failed: list[tuple[str, str]] = []

    class _Raw:
        def __init__(self, payload: bytes) -> None:
            self._payload = payload

        def stream(self, **_: Any) -> Iterable[bytes]:
            yield self._payload

    def hook(request: Any, event_name: str = "", **_: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        verdict = decide(service, operation)
        if verdict is None:
            return None
        failed.append((service, operation))
        code, message = verdict
        protocol = _PROTOCOLS.get(service, "json")
        status, headers, payload = error_response(protocol, code, message)
        return AWSResponse(request.url, status, headers, _Raw(payload))

    ctx.add_hook("before-send.*.*", hook)
    return failed


_PROTOCOLS = {
    "s3": "rest-xml",
    "lambda": "rest-json",
    "ec2": "ec2",
    "iam": "query",
    "sts": "query",
    "cloudwatch": "cbor",
}
