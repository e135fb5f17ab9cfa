"""yunpipe's container runner: queue -> download -> run the algorithm -> upload -> delete.

Self-contained (boto3 + stdlib only). In the wrapped image it runs as
`python3 /yunpipe/runner.py`; the sandbox runs the same file as a local process with its paths
remapped through the environment. AWS access comes from the ECS task role, never from keys.

Behaviour
- Long-polls YUNPIPE_QUEUE_URL (YUNPIPE_WAIT_SECONDS, default 20) one message at a time.
- A message that is not an S3 notification (or is s3:TestEvent) is logged and deleted.
- Each S3 record: the object is downloaded to YUNPIPE_INPUT_PATH/<file name>; YUNPIPE_RUN_COMMAND
  is split with shlex, `$input` / `$output` (also `${input}` / `${output}`) are replaced in each
  word, and it runs without a shell, with a timeout (YUNPIPE_TIMEOUT_SECONDS, default 3600).
  `$output` is YUNPIPE_OUTPUT_PATH/Result-<YUNPIPE_ALGORITHM>-<file name>, the seed's naming.
  A name the file system cannot hold (over 255 bytes with the result's prefix, a NUL, `.`/`..`)
  gets a short stand-in on disk that keeps its extension; the result key keeps the original name.
  A folder marker (a key ending in `/`) is acknowledged and skipped with a log line.
  The command inherits the task's environment minus AWS_*, ECS_* and YUNPIPE_* (credentials
  endpoints and the runner's settings: only the runner talks to AWS) and LD_PRELOAD/LD_AUDIT.
- The result goes to YUNPIPE_OUTPUT_BUCKET under the input key's prefix. A directory result is
  zipped first (`...zip`). A command that exits 0 but writes nothing at `$output` is a failure:
  the algorithm promised a result and none came, so the file is retried and ends in the DLQ.
- The message is deleted only after every upload succeeded. On any failure of one file (the
  algorithm's, or an error of the runner's own such as a full disk) it is released with a short
  visibility that doubles with each receive: YUNPIPE_RETRY_DELAY_SECONDS (default 10) * 2^(n-1),
  at most RETRY_DELAY_CAP seconds. SQS then moves it to the dead-letter queue after
  maxReceiveCount within minutes, never after the queue's hour-long visibility timeout, and the
  runner goes on with the next message.
- While a command runs, the message's visibility is extended (heartbeat every half visibility
  timeout of the queue), so a long run is not handed to a second task.
- Exits 0 after YUNPIPE_IDLE_SECONDS (default 60) with an empty queue.
- SIGTERM (ECS stopping the task): the current file may finish within
  YUNPIPE_STOP_GRACE_SECONDS (default 20, under ECS's 30 s stop timeout) and is then uploaded and
  deleted; otherwise the command is killed, the message released (visibility 0) and the runner
  exits 0. No file is ever lost: either its result exists or its message is back in the queue.
- YUNPIPE_FAILURE_HINT (set by the local sandbox) is added to a failed command's message.
- Exit code 2 only for configuration errors; log lines go to stdout (CloudWatch via awslogs).
- AWS endpoints come only from YUNPIPE_ENDPOINT_URL: AWS_ENDPOINT_URL* in the environment are
  ignored, so a variable cannot send the runner's signed requests elsewhere.

The file ledger (issue 12; only when YUNPIPE_LEDGER_TABLE is set, older pipelines run as before)
- Each S3 record is one file: its id is `<original key>#<ETag or versionId>` for step 1 and the
  `yunpipe-file` metadata of the input object for later steps (the runner of the step before
  put it on its result). After the download, the runner claims the file (state `running`) with a
  conditional write; a file already `done` is acknowledged without running the algorithm again
  (SQS delivers at least once), one `running` under a live lease is released with a delay.
- The algorithm's stdout and stderr still reach the container's log, and also the stream
  `files/<step>/<sha256(file id)[:32]>` of YUNPIPE_FILE_LOG_GROUP, flushed every few seconds;
  credential-looking strings are scrubbed from both that stream and the ledger's stderr tail.
- The outcome: `done` (result, bytes, exit code, wall seconds) written in one transaction with
  the next step's `queued` item (YUNPIPE_NEXT_STEP), or on failure `failed` at the last receive
  (YUNPIPE_MAX_RECEIVE_COUNT) else `queued` again, with the reason and the stderr tail. Every
  transition updates the step's counter item in the same transaction.
- A ledger or log failure is logged and never fails the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_CONFIG = 2
RETRY_DELAY_CAP = 300  # seconds; SQS allows up to 12 hours, a retry should come within minutes
NAME_MAX = 255  # bytes in one file name on Linux file systems
# What the algorithm's process never inherits: the runner alone talks to AWS.
CHILD_DROPPED_PREFIXES = ("AWS_", "ECS_", "YUNPIPE_")
CHILD_DROPPED_NAMES = frozenset({"LD_PRELOAD", "LD_AUDIT"})


class ConfigError(ValueError):
    """A missing or malformed environment variable."""


class StopRequested(BaseException):
    """SIGTERM arrived while we were waiting for work. A BaseException, like KeyboardInterrupt,
    so that botocore's broad `except Exception` (which would retry the long poll) lets it pass."""


def log(message: str, **context: Any) -> None:
    line = json.dumps(
        {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "message": message, **context},
        default=str,
        sort_keys=True,
    )
    print(line, flush=True)


def _number(env: Mapping[str, str], key: str, default: float) -> float:
    raw = (env.get(key) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {key} must be a number, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"environment variable {key} must not be negative")
    return value


@dataclass(frozen=True)
class RunnerConfig:
    queue_url: str
    output_bucket: str
    algorithm: str
    run_command: str
    input_path: str
    output_path: str
    timeout_seconds: float = 3600
    idle_seconds: float = 60
    wait_seconds: int = 20
    retry_delay_seconds: int = 10
    stop_grace_seconds: float = 20
    endpoint_url: str = ""
    region: str = "us-east-1"
    failure_hint: str = ""  # YUNPIPE_FAILURE_HINT: why the command fails here (the sandbox)
    ledger_table: str = ""
    file_log_group: str = ""
    step: str = "s1"
    next_step: str = ""
    max_receive_count: int = 3
    instance_type: str = ""
    instance_price: float | None = None  # on-demand USD/hour, for the estimated cost
    runner_id: str = ""

    @property
    def keeps_ledger(self) -> bool:
        return bool(self.ledger_table)

    @property
    def captures_output(self) -> bool:
        return bool(self.ledger_table or self.file_log_group)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RunnerConfig:
        def need(key: str) -> str:
            value = (env.get(key) or "").strip()
            if not value:
                raise ConfigError(f"environment variable {key} is required")
            return value

        command = need("YUNPIPE_RUN_COMMAND")
        try:
            shlex.split(command)
        except ValueError as exc:
            raise ConfigError(f"YUNPIPE_RUN_COMMAND cannot be split: {exc}") from None
        return cls(
            queue_url=need("YUNPIPE_QUEUE_URL"),
            output_bucket=need("YUNPIPE_OUTPUT_BUCKET"),
            algorithm=need("YUNPIPE_ALGORITHM"),
            run_command=command,
            input_path=need("YUNPIPE_INPUT_PATH"),
            output_path=need("YUNPIPE_OUTPUT_PATH"),
            timeout_seconds=_number(env, "YUNPIPE_TIMEOUT_SECONDS", 3600) or 3600,
            idle_seconds=_number(env, "YUNPIPE_IDLE_SECONDS", 60),
            wait_seconds=int(min(20, _number(env, "YUNPIPE_WAIT_SECONDS", 20))),
            retry_delay_seconds=int(_number(env, "YUNPIPE_RETRY_DELAY_SECONDS", 10)),
            stop_grace_seconds=_number(env, "YUNPIPE_STOP_GRACE_SECONDS", 20),
            endpoint_url=(env.get("YUNPIPE_ENDPOINT_URL") or "").strip(),
            region=(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1").strip(),
            failure_hint=(env.get("YUNPIPE_FAILURE_HINT") or "").strip(),
            ledger_table=(env.get("YUNPIPE_LEDGER_TABLE") or "").strip(),
            file_log_group=(env.get("YUNPIPE_FILE_LOG_GROUP") or "").strip(),
            step=(env.get("YUNPIPE_STEP") or "s1").strip(),
            next_step=(env.get("YUNPIPE_NEXT_STEP") or "").strip(),
            max_receive_count=int(_number(env, "YUNPIPE_MAX_RECEIVE_COUNT", 3)) or 3,
            instance_type=(env.get("YUNPIPE_INSTANCE_TYPE") or "").strip(),
            instance_price=_number(env, "YUNPIPE_INSTANCE_PRICE", -1)
            if (env.get("YUNPIPE_INSTANCE_PRICE") or "").strip()
            else None,
            runner_id=(env.get("YUNPIPE_RUNNER_ID") or "").strip(),
        )


def make_clients(config: RunnerConfig) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {
        "region_name": config.region,
        # Only YUNPIPE_ENDPOINT_URL (set by yunpipe) chooses the endpoint, never AWS_ENDPOINT_URL*.
        "config": Config(
            retries={"mode": "standard", "max_attempts": 5}, ignore_configured_endpoint_urls=True
        ),
    }
    if config.endpoint_url:
        kwargs["endpoint_url"] = config.endpoint_url
    services = ["sqs", "s3"]
    if config.keeps_ledger:
        services.append("dynamodb")
    if config.file_log_group:
        services.append("logs")
    return {s: boto3.client(s, **kwargs) for s in services}


def _missing_clients(config: RunnerConfig, clients: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger's clients when the caller gave only SQS and S3 (as the tests do)."""
    wanted = []
    if config.keeps_ledger and "dynamodb" not in clients:
        wanted.append("dynamodb")
    if config.file_log_group and "logs" not in clients:
        wanted.append("logs")
    if not wanted:
        return {}
    built = make_clients(config)
    return {s: built[s] for s in wanted}


def retry_delay(receive_count: int, base: int, cap: int = RETRY_DELAY_CAP) -> int:
    """Seconds until a failed message is visible again: base * 2^(n-1), at most `cap`."""
    if base <= 0:
        return 0
    return int(min(cap, base * 2 ** min(max(receive_count, 1) - 1, 20)))


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The algorithm's environment: the task's, without what redirects AWS calls or loading."""
    return {
        name: value
        for name, value in env.items()
        if not name.startswith(CHILD_DROPPED_PREFIXES) and name not in CHILD_DROPPED_NAMES
    }


def _safe_suffix(name: str, room: int) -> str:
    """The name's trailing extensions (`.nii.gz`), plain ASCII only, within `room` bytes."""
    suffix = ""
    for part in reversed(name.split(".")[1:]):
        candidate = f".{part}{suffix}"
        if not (part.isascii() and part.replace("_", "").replace("-", "").isalnum()):
            break
        if len(part) > 16 or len(candidate) > room:
            break
        suffix = candidate
    return suffix


def local_name(name: str, limit: int = NAME_MAX) -> str:
    """The file name used on disk for a key's last segment: the name itself when the file
    system can hold it within `limit` bytes, else a short, distinct stand-in that keeps the
    extension (`<start>-<hash><ext>`). The result key always keeps the original name."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= limit and name not in ("", ".", "..") and "\x00" not in name:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:16]
    suffix = _safe_suffix(name, min(24, max(0, limit - 40)))
    room = max(0, min(60, limit - len(digest) - len(suffix) - 1))
    start = raw[:room].decode("utf-8", "ignore").replace("\x00", "").strip(".")
    return f"{start}-{digest}{suffix}" if start else f"{digest}{suffix}"


def s3_records(body: str) -> list[tuple[str, str]]:
    """(bucket, decoded key) for each ObjectCreated record; [] for anything else."""
    return [(bucket, key) for bucket, key, _ in s3_entries(body)]


def s3_entries(body: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(bucket, decoded key, the record) for each ObjectCreated record; [] for anything else."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("Event") == "s3:TestEvent":
        return []
    found = []
    for record in data.get("Records") or []:
        if not isinstance(record, dict) or not isinstance(record.get("s3"), dict):
            continue
        if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        bucket = record["s3"].get("bucket", {}).get("name")
        key = record["s3"].get("object", {}).get("key")
        if bucket and key:
            found.append((bucket, urllib.parse.unquote_plus(key), record))
    return found


def command_words(template: str, input_file: str, output_file: str) -> list[str]:
    words = []
    for word in shlex.split(template):
        for name, value in (("input", input_file), ("output", output_file)):
            word = word.replace("${" + name + "}", value).replace("$" + name, value)
        words.append(word)
    return words


def result_key(key: str, algorithm: str, zipped: bool = False) -> str:
    prefix, _, name = key.rpartition("/")
    result = f"Result-{algorithm}-{name}" + (".zip" if zipped else "")
    return f"{prefix}/{result}" if prefix else result


# ----------------------------------------------------------------------------------------------
# the file ledger (issue 12)

STDERR_TAIL_LINES = 20
LOG_FLUSH_SECONDS = 5.0
LOG_MAX_LINES = 10_000  # per run: what a log stream gets at most (the container log gets all)
LOG_LINE_MAX = 8_192
LOG_BATCH_BYTES = 900_000  # PutLogEvents takes 1 MiB, with 26 bytes per event on top
CLAIM_TRIES = 5
REDACTED = "[redacted]"
_SECRETS = (
    re.compile(r"(?i)(authorization\s*:\s*).+"),
    re.compile(r"(?i)((?:session|security)[_-]?token\W{1,5})\S+"),
    re.compile(r"(?i)(secret\w*\W{1,5})[A-Za-z0-9/+=]{16,}"),
    re.compile(r"(=\s*)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"),
    re.compile(r"()\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"()[A-Za-z0-9/+]{100,}={0,2}"),  # session tokens and other long blobs
)


def scrub(text: str) -> str:
    """The text without anything that looks like a credential (key ids, secrets, tokens,
    Authorization headers)."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def file_id(record: Mapping[str, Any]) -> str:
    """`<key>#<versionId>` (versioned bucket) or `<key>#<ETag>`: the same as the dispatcher's."""
    obj = (record.get("s3") or {}).get("object") or {}
    key = urllib.parse.unquote_plus(str(obj.get("key", "")))
    version = str(obj.get("versionId") or obj.get("eTag") or obj.get("sequencer") or "")
    return f"{key}#{version.strip(chr(34))}"


def original_key(fid: str) -> str:
    return fid.rsplit("#", 1)[0]


def log_stream_name(step: str, fid: str) -> str:
    return f"files/{step}/{hashlib.sha256(fid.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}"


def utc_now(offset: float = 0.0) -> str:
    now = time.time() + offset
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, (int, float)):
        return {"N": repr(round(v, 3)) if isinstance(v, float) else str(v)}
    return {"S": str(v)}


def update_op(
    table: str,
    pk: str,
    sk: str,
    *,
    sets: Mapping[str, Any] = {},
    keep: Mapping[str, Any] = {},
    add: Mapping[str, float] = {},
    remove: tuple[str, ...] = (),
    condition: str = "",
    values: Mapping[str, Any] = {},
) -> dict[str, Any]:
    """One TransactWriteItems Update; every attribute goes through a `#name` (reserved words)."""
    names: dict[str, str] = {"#s": "state", "#l": "lease_until", "#r": "runner"}
    vals: dict[str, Any] = {k: _value(v) for k, v in values.items()}

    def alias(attr: str) -> str:
        for a, n in names.items():
            if n == attr:
                return a
        a = f"#a{len(names)}"
        names[a] = attr
        return a

    def val(v: Any) -> str:
        name = f":v{len(vals)}"
        vals[name] = _value(v)
        return name

    parts = []
    assignments = [f"{alias(k)} = {val(v)}" for k, v in sets.items()]
    assignments += [f"{alias(k)} = if_not_exists({alias(k)}, {val(v)})" for k, v in keep.items()]
    if assignments:
        parts.append("SET " + ", ".join(assignments))
    if add:
        parts.append("ADD " + ", ".join(f"{alias(k)} {val(v)}" for k, v in add.items()))
    if remove:
        parts.append("REMOVE " + ", ".join(alias(k) for k in remove))
    used = " ".join(parts) + " " + condition
    op: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
        "UpdateExpression": " ".join(parts),
        "ExpressionAttributeNames": {a: n for a, n in names.items() if a in used},
    }
    if vals:
        op["ExpressionAttributeValues"] = vals
    if condition:
        op["ConditionExpression"] = condition
    return {"Update": op}


def _cancel_reasons(exc: BaseException) -> list[str] | None:
    """The per-item codes of a cancelled transaction; None when it was not cancelled."""
    response = getattr(exc, "response", None) or {}
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [str(r.get("Code", "None")) for r in response.get("CancellationReasons") or []]


@dataclass
class Claim:
    """What the runner holds while it runs one file."""

    file_id: str
    key: str
    input: str
    log_stream: str
    started: float
    attempt: int = 1


RUN, DONE, BUSY = "run", "done", "busy"


class Ledger:
    """The runner's ledger writes: claim, lease renewal, outcome (with the next step's item)."""

    def __init__(self, config: RunnerConfig, ddb: Any) -> None:
        self.config = config
        self.ddb = ddb
        self.table = config.ledger_table

    def _get(self, fid: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": fid}, "sk": {"S": self.config.step}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return {k: next(iter(v.values())) for k, v in item.items()}

    def _counter(self, step: str, changes: Mapping[str, float]) -> dict[str, Any]:
        return update_op(self.table, "#counts", step, add=changes)

    def _cost_micros(self, seconds: float) -> int:
        price = self.config.instance_price
        return round(price * seconds / 3600 * 1_000_000) if price else 0

    def claim(
        self, fid: str, bucket: str, key: str, bytes_in: int | None, lease_seconds: float
    ) -> tuple[str, Claim | float | None]:
        """(RUN, Claim) to run it; (DONE, None) when already done; (BUSY, seconds) when another
        runner holds a live lease on it."""
        stream = log_stream_name(self.config.step, fid)
        for _ in range(CLAIM_TRIES):
            item = self._get(fid)
            now = utc_now()
            old = str(item.get("state")) if item else None
            if old == "done":
                return DONE, None
            lease = str(item.get("lease_until", "")) if item else ""
            if old == "running" and lease >= now:
                left = _seconds_between(now, lease)
                return BUSY, left
            sets: dict[str, Any] = {
                "state": "running",
                "started_at": now,
                "updated_at": now,
                "runner": self.config.runner_id,
                "lease_until": utc_now(lease_seconds),
                "log_stream": stream,
                "input": f"s3://{bucket}/{key}",
            }
            if self.config.instance_type:
                sets["instance_type"] = self.config.instance_type
            if self.config.file_log_group:
                sets["log_group"] = self.config.file_log_group
            if bytes_in is not None:
                sets["bytes_in"] = bytes_in
            keep = {
                "key": original_key(fid),
                "etag": fid.rsplit("#", 1)[-1],
                "step": self.config.step,
                "queued_at": now,
            }
            if old is None:
                condition, values = "attribute_not_exists(pk)", {}
            elif old == "running":
                condition, values = "#s = :old AND #l = :lease", {":old": old, ":lease": lease}
            else:
                condition, values = "#s = :old", {":old": old}
            ops = [
                update_op(
                    self.table,
                    fid,
                    self.config.step,
                    sets=sets,
                    keep=keep,
                    add={"attempts": 1},
                    remove=("finished_at",),
                    condition=condition,
                    values=values,
                )
            ]
            if old != "running":
                change = {"running": 1}
                if old is not None:
                    change[old] = -1
                ops.append(self._counter(self.config.step, change))
            try:
                self.ddb.transact_write_items(TransactItems=ops)
            except Exception as exc:
                if _cancel_reasons(exc) is None:
                    raise
                continue  # someone changed it between our read and write: read again
            attempts = int(item.get("attempts", 0)) + 1 if item else 1
            return RUN, Claim(
                fid, original_key(fid), f"s3://{bucket}/{key}", stream, time.monotonic(), attempts
            )
        return BUSY, lease_seconds

    def renew(self, claim: Claim, lease_seconds: float) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": claim.file_id}, "sk": {"S": self.config.step}},
            UpdateExpression="SET #l = :l",
            ConditionExpression="#s = :running AND #r = :me",
            ExpressionAttributeNames={"#l": "lease_until", "#s": "state", "#r": "runner"},
            ExpressionAttributeValues={
                ":l": {"S": utc_now(lease_seconds)},
                ":running": {"S": "running"},
                ":me": {"S": self.config.runner_id},
            },
        )

    def _owned(self) -> tuple[str, dict[str, Any]]:
        return "#s = :running AND #r = :me", {":running": "running", ":me": self.config.runner_id}

    def finish(
        self, claim: Claim, result: str, bytes_out: int, stderr_tail: str, seconds: float
    ) -> None:
        """`done`, and the next step's `queued` item, in one transaction."""
        now = utc_now()
        condition, values = self._owned()
        sets = {
            "state": "done",
            "finished_at": now,
            "updated_at": now,
            "exit_code": 0,
            "result": result,
            "bytes_out": bytes_out,
            "stderr_tail": stderr_tail,
        }
        ops = [
            update_op(
                self.table,
                claim.file_id,
                self.config.step,
                sets=sets,
                add={"instance_seconds": seconds},
                remove=("lease_until", "error"),
                condition=condition,
                values=values,
            ),
            self._counter(
                self.config.step,
                {
                    "running": -1,
                    "done": 1,
                    "instance_seconds": seconds,
                    "cost_usd_micros": self._cost_micros(seconds),
                },
            ),
        ]
        following = self.config.next_step
        if following:
            item = {
                "pk": claim.file_id,
                "sk": following,
                "key": claim.key,
                "etag": claim.file_id.rsplit("#", 1)[-1],
                "step": following,
                "state": "queued",
                "attempts": 0,
                "queued_at": now,
                "updated_at": now,
                "input": result,
                "bytes_in": bytes_out,
            }
            ops.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {k: _value(v) for k, v in item.items()},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            ops.append(self._counter(following, {"queued": 1}))
        self._write(ops, claim)

    def fail(
        self,
        claim: Claim,
        error: str,
        exit_code: int | None,
        stderr_tail: str,
        seconds: float,
        last: bool,
    ) -> str:
        """`failed` at the last receive, else `queued` again; returns the state written."""
        now = utc_now()
        state = "failed" if last else "queued"
        condition, values = self._owned()
        sets: dict[str, Any] = {
            "state": state,
            "updated_at": now,
            "error": error,
            "stderr_tail": stderr_tail,
        }
        if last:
            sets["finished_at"] = now
        if exit_code is not None:
            sets["exit_code"] = exit_code
        ops = [
            update_op(
                self.table,
                claim.file_id,
                self.config.step,
                sets=sets,
                add={"instance_seconds": seconds},
                remove=("lease_until",) if exit_code is not None else ("lease_until", "exit_code"),
                condition=condition,
                values=values,
            ),
            self._counter(
                self.config.step,
                {
                    "running": -1,
                    state: 1,
                    "instance_seconds": seconds,
                    "cost_usd_micros": self._cost_micros(seconds),
                },
            ),
        ]
        self._write(ops, claim)
        return state

    def _write(self, ops: list[dict[str, Any]], claim: Claim) -> None:
        try:
            self.ddb.transact_write_items(TransactItems=ops)
            return
        except Exception as exc:
            reasons = _cancel_reasons(exc)
            if reasons is None:
                raise
        if len(ops) > 2 and len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
            # The next step's runner got there first (it claimed the item): ours is done anyway.
            self.ddb.transact_write_items(TransactItems=ops[:2])
            return
        log("the ledger item is no longer ours (its lease was taken over)", file=claim.file_id)


def _seconds_between(earlier: str, later: str) -> float:
    def parse(text: str) -> float:
        import calendar

        base, _, frac = text.rstrip("Z").partition(".")
        stamp = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
        return stamp + (float(f"0.{frac}") if frac else 0.0)

    try:
        return max(0.0, parse(later) - parse(earlier))
    except ValueError:
        return 0.0


@dataclass
class Output:
    """The algorithm's output of one run: echoed to the container log, kept for the file's log
    stream (scrubbed, bounded) and its stderr tail."""

    events: list[dict[str, Any]] = field(default_factory=list)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    kept: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, line: str, stderr: bool) -> None:
        text = scrub(line.rstrip("\n")[:LOG_LINE_MAX])
        with self.lock:
            if stderr:
                self.tail.append(text)
            if self.kept >= LOG_MAX_LINES:
                self.dropped += 1
                return
            self.kept += 1
            self.events.append({"timestamp": int(time.time() * 1000), "message": text or " "})

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.events = self.events, []
            return events

    def stderr_tail(self) -> str:
        with self.lock:
            return "\n".join(self.tail)


class FileLog:
    """Writes one file's output to its stream in the pipeline's log group; never raises."""

    def __init__(self, logs: Any, group: str, stream: str) -> None:
        self.logs = logs
        self.group = group
        self.stream = stream
        self.ready = False
        self.broken = False

    def put(self, events: list[dict[str, Any]]) -> None:
        if not events or self.broken or self.logs is None:
            return
        try:
            if not self.ready:
                try:
                    self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
                except Exception as exc:
                    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
                    if code != "ResourceAlreadyExistsException":
                        raise
                self.ready = True
            batch: list[dict[str, Any]] = []
            size = 0
            for event in sorted(events, key=lambda e: e["timestamp"]):
                cost = len(event["message"].encode()) + 26
                if batch and (size + cost > LOG_BATCH_BYTES or len(batch) >= 10_000):
                    self.logs.put_log_events(
                        logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                    )
                    batch, size = [], 0
                batch.append(event)
                size += cost
            if batch:
                self.logs.put_log_events(
                    logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                )
        except Exception as exc:
            self.broken = True
            log("could not write the file's log stream", stream=self.stream, error=str(exc))


def runner_identity(env: Mapping[str, str]) -> str:
    """The Batch job id, the ECS task ARN (task metadata endpoint), or the host name.

    The job id comes first: Batch runs a job as an ECS task, so a job has a task metadata
    endpoint too, but the job is what the monitor and the user see."""
    job = (env.get("AWS_BATCH_JOB_ID") or "").strip()
    if job:
        return f"batch:{job}"
    uri = (env.get("ECS_CONTAINER_METADATA_URI_V4") or "").strip()
    if uri.startswith("http://"):
        try:
            with urllib.request.urlopen(f"{uri}/task", timeout=1) as answer:
                arn = json.loads(answer.read().decode()).get("TaskARN")
                if arn:
                    return str(arn)
        except Exception as exc:
            log("task metadata unavailable", error=str(exc))
    import socket

    return f"host:{socket.gethostname()}:{os.getpid()}"


class Failure(Exception):
    """This file could not be processed; the message is left for a retry."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class AlreadyDone(Exception):
    """The ledger says this file is done at this step: acknowledge, do not run it again."""

    def __init__(self, fid: str) -> None:
        super().__init__(fid)
        self.fid = fid


class Busy(Exception):
    """Another runner holds this file under a live lease: release the message, run nothing."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"another runner holds this file for {seconds:.0f} s more")
        self.seconds = seconds


class Runner:
    def __init__(self, config: RunnerConfig, clients: Mapping[str, Any]) -> None:
        clients = {**clients, **_missing_clients(config, clients)}
        if config.keeps_ledger and not config.runner_id:
            from dataclasses import replace

            config = replace(config, runner_id=runner_identity(os.environ))
        self.config = config
        self.sqs = clients["sqs"]
        self.s3 = clients["s3"]
        self.ledger = Ledger(config, clients["dynamodb"]) if config.keeps_ledger else None
        self.logs = clients.get("logs")
        self.stopping = False
        self.polling = False
        self.visibility = 30
        self.claim: Claim | None = None
        self.output: Output | None = None
        self.file_log: FileLog | None = None

    # -- signals
    def on_sigterm(self, signum: int, _frame: Any) -> None:
        log("stop requested", signal=signum)
        self.stopping = True
        if self.polling:
            raise StopRequested

    # -- queue
    def release(self, handle: str, delay: int) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.config.queue_url, ReceiptHandle=handle, VisibilityTimeout=delay
            )
        except Exception as exc:  # the message comes back when its visibility expires anyway
            log("could not release message", error=str(exc))

    def heartbeat(self, handle: str) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.config.queue_url,
                ReceiptHandle=handle,
                VisibilityTimeout=max(self.visibility, 30),
            )
        except Exception as exc:
            log("could not extend visibility", error=str(exc))
        if self.ledger is not None and self.claim is not None:
            try:
                self.ledger.renew(self.claim, self.lease_seconds)
            except Exception as exc:
                log("could not renew the ledger lease", error=str(exc))

    @property
    def lease_seconds(self) -> float:
        """A claim lives as long as the message stays invisible: a runner that dies loses both
        together, and the message's next receive may take the file over."""
        return float(max(self.visibility, 30))

    def flush_output(self) -> None:
        if self.output is not None and self.file_log is not None:
            self.file_log.put(self.output.take())

    def receive(self, wait: int) -> dict[str, Any] | None:
        self.polling = True
        try:
            if self.stopping:
                raise StopRequested
            answer = self.sqs.receive_message(
                QueueUrl=self.config.queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait,
                AttributeNames=["ApproximateReceiveCount"],
            )
        finally:
            self.polling = False
        messages = answer.get("Messages") or []
        return messages[0] if messages else None

    # -- one file
    def delete(self, handle: str) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.config.queue_url, ReceiptHandle=handle)
        except Exception as exc:  # it comes back after its visibility; the result is there
            log("could not delete message", error=str(exc))

    def _pipe(self, stream: Any, stderr: bool) -> None:
        """Copy one of the command's outputs line by line to ours and to the file's record."""
        echo = sys.stderr if stderr else sys.stdout
        output = self.output
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            echo.write(line if line.endswith("\n") else line + "\n")
            echo.flush()
            if output is not None:
                output.add(line, stderr)
        stream.close()

    def run_command(self, words: list[str], handle: str) -> None:
        capture = self.config.captures_output
        pipe = subprocess.PIPE if capture else None
        try:
            process = subprocess.Popen(
                words,
                start_new_session=True,
                env=child_environment(os.environ),
                stdout=pipe,
                stderr=pipe,
            )
        except OSError as exc:
            raise Failure(self._hinted(f"cannot start {words[0]!r}: {exc}")) from None
        readers = []
        if capture:
            for stream, is_err in ((process.stdout, False), (process.stderr, True)):
                reader = threading.Thread(target=self._pipe, args=(stream, is_err), daemon=True)
                reader.start()
                readers.append(reader)
        try:
            code = self._wait(process, handle)
        finally:
            for reader in readers:
                reader.join(timeout=5)
        if code != 0:
            raise Failure(self._hinted(f"command exited with {code}"), exit_code=code)

    def _wait(self, process: subprocess.Popen, handle: str) -> int:
        started = time.monotonic()
        beat = max(1.0, self.visibility / 2)
        next_beat = started + beat
        next_flush = started + LOG_FLUSH_SECONDS
        stop_deadline: float | None = None
        while True:
            try:
                return process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now >= next_flush:
                self.flush_output()  # `yunpipe logs --follow` sees a running file's lines
                next_flush = now + LOG_FLUSH_SECONDS
            if self.stopping and stop_deadline is None:
                stop_deadline = now + self.config.stop_grace_seconds
            if stop_deadline is not None and now >= stop_deadline:
                self._kill(process)
                raise Failure("stopped before the command finished")
            if now - started > self.config.timeout_seconds:
                self._kill(process)
                raise Failure(f"command timed out after {self.config.timeout_seconds:g} s")
            if now >= next_beat:
                self.heartbeat(handle)
                next_beat = now + beat

    def _hinted(self, text: str) -> str:
        return f"{text} ({self.config.failure_hint})" if self.config.failure_hint else text

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
        process.wait()

    def _download(self, bucket: str, key: str, target: Path) -> dict[str, str]:
        """GetObject into `target`; the object's metadata (the ledger's file id rides there)."""
        try:
            answer = self.s3.get_object(Bucket=bucket, Key=key)
            with open(target, "wb") as out:
                shutil.copyfileobj(answer["Body"], out, 1024 * 1024)
        except Exception as exc:
            raise Failure(f"download s3://{bucket}/{key} failed: {exc}") from None
        return {str(k).lower(): str(v) for k, v in (answer.get("Metadata") or {}).items()}

    def _file_id(self, record: Mapping[str, Any] | None, key: str, meta: Mapping[str, str]) -> str:
        carried = meta.get("yunpipe-file")
        if carried:
            return urllib.parse.unquote(carried)
        return file_id(record) if record else f"{key}#"

    def process_record(
        self,
        bucket: str,
        key: str,
        handle: str,
        record: Mapping[str, Any] | None = None,
        receive_count: int = 1,
    ) -> str:
        name = key.rsplit("/", 1)[-1]
        input_dir = Path(self.config.input_path)
        output_dir = Path(self.config.output_path)
        input_dir.mkdir(parents=True, exist_ok=True)
        output_dir.mkdir(parents=True, exist_ok=True)
        result_prefix = f"Result-{self.config.algorithm}-"
        # Room for the result's prefix and a `.zip`, so both local names fit the file system.
        short = local_name(name, NAME_MAX - len(result_prefix.encode()) - len(".zip"))
        if short != name:
            log("long file name: using a short local name", key=key, local=short)
        input_file = input_dir / short
        output_file = output_dir / f"{result_prefix}{short}"
        if input_file.exists() or input_file.is_symlink():
            # Never overwrite (and later delete) a file of the image, e.g. with input path "/".
            raise Failure(f"{input_file} already exists in the container; not overwriting it")
        _remove(output_file)
        archive: Path | None = None
        self.claim, self.output, self.file_log = None, None, None
        try:
            try:
                meta = self._download(bucket, key, input_file)
                fid = self._file_id(record, key, meta)
                if self.ledger is not None:
                    self._claim(fid, bucket, key, input_file)
                if self.config.captures_output:
                    self.output = Output()
                    if self.config.file_log_group:
                        self.file_log = FileLog(
                            self.logs,
                            self.config.file_log_group,
                            log_stream_name(self.config.step, fid),
                        )
                        attempt = self.claim.attempt if self.claim else receive_count
                        self.output.add(
                            f"yunpipe: {self.config.step} attempt {attempt} of {original_key(fid)}"
                            f" on {self.config.runner_id or 'this runner'}",
                            False,
                        )
                words = command_words(self.config.run_command, str(input_file), str(output_file))
                log("running", key=key, command=words)
                self.run_command(words, handle)
                if output_file.is_dir():
                    archive = Path(
                        shutil.make_archive(str(output_file), "zip", root_dir=str(output_file))
                    )
                    upload, target = archive, result_key(key, self.config.algorithm, zipped=True)
                elif output_file.is_file():
                    upload, target = output_file, result_key(key, self.config.algorithm)
                else:
                    raise Failure(f"the command wrote no result at {output_file}")
                extra = {"Metadata": {"yunpipe-file": urllib.parse.quote(fid, safe="")}}
                try:
                    self.s3.upload_file(
                        str(upload), self.config.output_bucket, target, ExtraArgs=extra
                    )
                except Exception as exc:
                    where = f"s3://{self.config.output_bucket}/{target}"
                    raise Failure(f"upload to {where} failed: {exc}") from None
                where = f"s3://{self.config.output_bucket}/{target}"
                log("uploaded", key=key, result=where)
                self._record_done(where, upload.stat().st_size)
                return target
            except (Failure, Busy):
                raise
            except Exception as exc:
                raise Failure(f"{type(exc).__name__}: {exc}") from None
        except Failure as exc:
            self._record_failure(exc, receive_count)
            raise
        finally:
            self.flush_output()
            self.claim, self.output, self.file_log = None, None, None
            _remove(input_file)
            _remove(output_file)
            if archive is not None:
                _remove(archive)

    # -- the ledger around one file
    def _claim(self, fid: str, bucket: str, key: str, input_file: Path) -> None:
        assert self.ledger is not None
        try:
            size = input_file.stat().st_size
            outcome, detail = self.ledger.claim(fid, bucket, key, size, self.lease_seconds)
        except Exception as exc:  # the ledger is a record, never a gate: run the file anyway
            log("ledger claim failed; running without it", error=str(exc), file=fid)
            return
        if outcome == DONE:
            raise AlreadyDone(fid)
        if isinstance(detail, Claim):
            self.claim = detail
            return
        raise Busy(detail or self.lease_seconds)

    def _record_done(self, result: str, bytes_out: int) -> None:
        if self.ledger is None or self.claim is None:
            return
        self.flush_output()
        seconds = time.monotonic() - self.claim.started
        tail = self.output.stderr_tail() if self.output else ""
        try:
            self.ledger.finish(self.claim, result, bytes_out, tail, seconds)
        except Exception as exc:
            log("could not record the outcome in the ledger", error=str(exc))

    def _record_failure(self, exc: Failure, receive_count: int) -> None:
        if self.ledger is None or self.claim is None:
            return
        self.flush_output()
        seconds = time.monotonic() - self.claim.started
        tail = self.output.stderr_tail() if self.output else ""
        last = receive_count >= self.config.max_receive_count
        try:
            state = self.ledger.fail(
                self.claim, scrub(str(exc)), exc.exit_code, tail, seconds, last
            )
            log("ledger: file " + state, file=self.claim.file_id)
        except Exception as error:
            log("could not record the failure in the ledger", error=str(error))

    def handle(self, message: dict[str, Any]) -> None:
        handle = message["ReceiptHandle"]
        entries = s3_entries(message.get("Body", ""))
        records = [(b, k) for b, k, _ in entries]
        if not records:
            log("skipping a message that is not an S3 object event", id=message.get("MessageId"))
            self.delete(handle)
            return
        attempt = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        try:
            count = int(attempt)
        except ValueError:
            count = 1
        try:
            for bucket, key, record in entries:
                if key.endswith("/"):
                    log("skipping a folder marker (a key ending in '/')", key=key, bucket=bucket)
                    continue
                try:
                    self.process_record(bucket, key, handle, record, count)
                except AlreadyDone as done:
                    log("already processed: acknowledged without running again", file=done.fid)
        except Busy as busy:
            delay = int(min(43_200, max(busy.seconds + 1, self.config.retry_delay_seconds)))
            log(
                "another runner has this file; released",
                keys=[k for _, k in records],
                retry_in=delay,
            )
            self.release(handle, delay)
            return
        except Exception as exc:  # one file's failure, whatever it is, never ends the runner
            error = str(exc) if isinstance(exc, Failure) else f"{type(exc).__name__}: {exc}"
            delay = 0 if self.stopping else retry_delay(count, self.config.retry_delay_seconds)
            log(
                "failed; the message stays queued",
                error=error,
                attempt=attempt,
                keys=[k for _, k in records],
                retry_in=delay,
            )
            self.release(handle, delay)
            return
        self.delete(handle)
        log("done", keys=[k for _, k in records])

    # -- the loop
    def loop(self) -> int:
        try:
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=self.config.queue_url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
            self.visibility = int(attrs.get("VisibilityTimeout", 30))
        except Exception as exc:
            log("cannot read the queue", queue=self.config.queue_url, error=str(exc))
            return EXIT_CONFIG
        log("runner started", queue=self.config.queue_url, algorithm=self.config.algorithm)
        idle_since = time.monotonic()
        # Exit only after a poll found nothing, so YUNPIPE_IDLE_SECONDS=0 still drains the queue.
        found_nothing = False
        while not self.stopping:
            idle_for = time.monotonic() - idle_since
            if idle_for >= self.config.idle_seconds and found_nothing:
                log("queue empty; exiting", idle_seconds=self.config.idle_seconds)
                return EXIT_OK
            left = math.ceil(max(0.0, self.config.idle_seconds - idle_for))
            wait = int(min(self.config.wait_seconds, left))
            try:
                message = self.receive(wait)
            except StopRequested:
                break
            except Exception as exc:  # a transient SQS error: back off a little, keep going
                log("receive failed", error=str(exc))
                time.sleep(min(5.0, max(0.2, self.config.idle_seconds / 10)))
                continue
            found_nothing = message is None
            if message is None:
                if wait < 1:
                    time.sleep(0.2)  # never a busy loop, even with a zero long-poll wait
                continue
            self.handle(message)
            idle_since = time.monotonic()
        log("stopped")
        return EXIT_OK


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError as exc:
        log("could not remove", path=str(path), error=str(exc))


def run(config: RunnerConfig, clients: Mapping[str, Any] | None = None) -> int:
    """Process the queue until it stays empty for idle_seconds or SIGTERM; returns the exit code.

    SIGTERM handling is installed only when called from the main thread."""
    runner = Runner(config, clients or make_clients(config))
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, runner.on_sigterm)
    try:
        return runner.loop()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main() -> int:
    try:
        config = RunnerConfig.from_env(os.environ)
    except ConfigError as exc:
        log("configuration error", error=str(exc))
        return EXIT_CONFIG
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
