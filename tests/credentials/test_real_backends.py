"""Real processes: `yunpipe creds export` as a boto3 credential_process against a moto server,
and a round trip through a real Secret Service (gnome-keyring under dbus-run-session)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credentials.conftest import ACCESS_KEY, SECRET, TOKEN, free_port
from yunpipe_tui import credentials

YUNPIPE = str(Path(sys.executable).parent / "yunpipe")


@pytest.fixture
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.mark.skipif(not Path(YUNPIPE).exists(), reason="the yunpipe script is not installed")
def test_export_is_a_working_credential_process(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    import boto3

    monkeypatch.setenv("YUNPIPE_KEYRING_PASSPHRASE", "a long passphrase")
    credentials.choose_backend("encrypted-file")
    credentials.set_profile("kr", ACCESS_KEY, SECRET, TOKEN, "us-east-1")
    path, line = credentials.link_profile("kr")
    assert line == f"credential_process = {YUNPIPE} creds export --profile kr"
    assert path == isolated_home / ".aws" / "config"

    # the command on its own: JSON on stdout, nothing on stderr
    done = subprocess.run(
        [YUNPIPE, "creds", "export", "--profile", "kr"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout)["SecretAccessKey"] == SECRET

    # and as boto3's credential_process, talking to the moto server
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    session = boto3.Session(profile_name="kr")
    creds = session.get_credentials()
    assert creds.method == "custom-process"
    frozen = creds.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (ACCESS_KEY, SECRET, TOKEN)
    ident = session.client("sts", region_name="us-east-1").get_caller_identity()
    assert ident["Account"] == "123456789012"

    # a wrong passphrase: the process fails without a secret on stderr
    monkeypatch.setenv("YUNPIPE_KEYRING_PASSPHRASE", "wrong")
    done = subprocess.run(
        [YUNPIPE, "creds", "export", "--profile", "kr"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "wrong passphrase" in done.stderr and SECRET not in done.stderr


SECRET_SERVICE_SCRIPT = textwrap.dedent(
    """
    import sys
    from yunpipe_tui import credentials as c
    from yunpipe_tui.aws import AwsContext

    step = sys.argv[1]
    if step == "store":
        c.choose_backend("secret-service")
        c.set_profile("ss", sys.argv[2], sys.argv[3], region="eu-west-3")
        print(c.open_store().label)
    else:
        got = c.get_profile("ss")
        creds = AwsContext(profile="ss", provider=c.install_provider).session.get_credentials()
        print(got.secret_access_key == sys.argv[3], creds.method, creds.access_key)
    """
)


def _secret_service_missing() -> str:
    missing = [t for t in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(t)]
    if missing:
        return f"{' and '.join(missing)} not installed (apt-get install gnome-keyring dbus-x11)"
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return "secretstorage is not installed"
    return ""


@pytest.mark.skipif(bool(_secret_service_missing()), reason=_secret_service_missing() or "-")
def test_secret_service_round_trip(tmp_path: Path, isolated_home: Path) -> None:
    script = tmp_path / "ss_round_trip.py"
    script.write_text(SECRET_SERVICE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env.pop("AWS_ACCESS_KEY_ID", None)
    env.pop("AWS_SECRET_ACCESS_KEY", None)
    py = sys.executable
    # the keyring password comes on gnome-keyring-daemon's stdin; both steps in one session
    shell = (
        'printf %s "$KEYRING_PW" | gnome-keyring-daemon --unlock --components=secrets '
        ">/dev/null && "
        f'"{py}" "{script}" store "$K" "$S" && "{py}" "{script}" load "$K" "$S"'
    )
    env.update(KEYRING_PW="test-keyring-pw", K=ACCESS_KEY, S=SECRET)
    done = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", shell],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines == [
        "Secret Service",
        f"True yunpipe-keyring {ACCESS_KEY}",
    ], done.stdout
    assert SECRET not in done.stderr
    # gnome-keyring wrote its store (holding the secret) under HOME, encrypted: the scan in
    # conftest checks every file there after the test
    assert list((isolated_home / ".local" / "share" / "keyrings").glob("*.keyring"))
