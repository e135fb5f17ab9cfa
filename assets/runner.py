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
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
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
    return {"sqs": boto3.client("sqs", **kwargs), "s3": boto3.client("s3", **kwargs)}


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
            found.append((bucket, urllib.parse.unquote_plus(key)))
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


class Failure(Exception):
    """This file could not be processed; the message is left for a retry."""


class Runner:
    def __init__(self, config: RunnerConfig, clients: Mapping[str, Any]) -> None:
        self.config = config
        self.sqs = clients["sqs"]
        self.s3 = clients["s3"]
        self.stopping = False
        self.polling = False
        self.visibility = 30

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

    def run_command(self, words: list[str], handle: str) -> None:
        try:
            process = subprocess.Popen(
                words, start_new_session=True, env=child_environment(os.environ)
            )
        except OSError as exc:
            raise Failure(self._hinted(f"cannot start {words[0]!r}: {exc}")) from None
        started = time.monotonic()
        beat = max(1.0, self.visibility / 2)
        next_beat = started + beat
        stop_deadline: float | None = None
        while True:
            try:
                code = process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
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
        if code != 0:
            raise Failure(self._hinted(f"command exited with {code}"))

    def _hinted(self, text: str) -> str:
        return f"{text} ({self.config.failure_hint})" if self.config.failure_hint else text

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
        process.wait()

    def process_record(self, bucket: str, key: str, handle: str) -> str:
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
        try:
            try:
                self.s3.download_file(bucket, key, str(input_file))
            except Exception as exc:
                raise Failure(f"download s3://{bucket}/{key} failed: {exc}") from None
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
            try:
                self.s3.upload_file(str(upload), self.config.output_bucket, target)
            except Exception as exc:
                where = f"s3://{self.config.output_bucket}/{target}"
                raise Failure(f"upload to {where} failed: {exc}") from None
            log("uploaded", key=key, result=f"s3://{self.config.output_bucket}/{target}")
            return target
        finally:
            _remove(input_file)
            _remove(output_file)
            if archive is not None:
                _remove(archive)

    def handle(self, message: dict[str, Any]) -> None:
        handle = message["ReceiptHandle"]
        records = s3_records(message.get("Body", ""))
        if not records:
            log("skipping a message that is not an S3 object event", id=message.get("MessageId"))
            self.delete(handle)
            return
        attempt = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        try:
            for bucket, key in records:
                if key.endswith("/"):
                    log("skipping a folder marker (a key ending in '/')", key=key, bucket=bucket)
                    continue
                self.process_record(bucket, key, handle)
        except Exception as exc:  # one file's failure, whatever it is, never ends the runner
            error = str(exc) if isinstance(exc, Failure) else f"{type(exc).__name__}: {exc}"
            try:
                count = int(attempt)
            except ValueError:
                count = 1
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
