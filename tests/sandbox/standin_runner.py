"""A stand-in for assets/runner.py used only by the sandbox tests before/besides the real one:
long-poll the queue, download, run the command, upload Result-<alg>-<name>, delete, idle-exit."""

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.parse

import boto3

env = os.environ
endpoint = env.get("YUNPIPE_ENDPOINT_URL") or None
sqs = boto3.client("sqs", endpoint_url=endpoint)
s3 = boto3.client("s3", endpoint_url=endpoint)
queue = env["YUNPIPE_QUEUE_URL"]
idle = float(env.get("YUNPIPE_IDLE_SECONDS", "60"))
wait = int(float(env.get("YUNPIPE_WAIT_SECONDS", "20")))
last = time.monotonic()
failed = False
while time.monotonic() - last < idle:
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=wait, MaxNumberOfMessages=1)
    for message in got.get("Messages", []):
        last = time.monotonic()
        for record in json.loads(message["Body"]).get("Records", []):
            bucket = record["s3"]["bucket"]["name"]
            key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
            name = key.rsplit("/", 1)[-1]
            inp = os.path.join(env["YUNPIPE_INPUT_PATH"], name)
            out_dir = env["YUNPIPE_OUTPUT_PATH"]
            os.makedirs(out_dir, exist_ok=True)
            s3.download_file(bucket, key, inp)
            cmd = env["YUNPIPE_RUN_COMMAND"].replace("$input", inp).replace("$output", out_dir)
            if subprocess.run(shlex.split(cmd)).returncode != 0:
                failed = True
                break
            prefix = key.rpartition("/")[0]
            result = f"Result-{env['YUNPIPE_ALGORITHM']}-{name}"
            s3.upload_file(
                os.path.join(out_dir, name),
                env["YUNPIPE_OUTPUT_BUCKET"],
                (prefix + "/" if prefix else "") + result,
            )
        else:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
sys.exit(1 if failed else 0)
