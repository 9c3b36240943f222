#!/usr/bin/env python3
"""Starts and stops the real servers the remote tests read from, on 127.0.0.1 and free ports:

- an S3-compatible server (moto's server mode) with the bucket ``amber-test``;
- nginx serving a scratch folder over HTTP, which honours ``Range`` and sends ETags.

``services.py start DIR`` starts both, waits until they answer, and prints ``export`` lines for
the tests (``AMBER_TEST_S3_ENDPOINT``, ``AMBER_TEST_S3_BUCKET``, ``AMBER_TEST_HTTP_URL``,
``AMBER_TEST_HTTP_ROOT`` and the fake AWS credentials moto accepts). ``services.py stop DIR``
stops whatever ``start`` left running there; scripts/test-all.sh calls it on exit, also on
failure. Nothing listens on any address but 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BUCKET = "amber-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
READY_SECONDS = 60


def free_port() -> int:
    # The port is free when we look; a server started right after takes it (nothing else on
    # this machine races for loopback ports in a test run).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answers(port: int, name: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}; its log:\n{log.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not answer on 127.0.0.1:{port} within {READY_SECONDS} s")


def start_moto(state: Path) -> int:
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.exists():
        raise SystemExit(f"moto_server is not installed next to {sys.executable} (pip install 'moto[server]')")
    port = free_port()
    log = state / "moto.log"
    process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    (state / "moto.pid").write_text(str(process.pid))
    wait_until_answers(port, "moto_server", process, log)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("PUT", f"/{BUCKET}")  # moto accepts unsigned requests
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"moto_server refused to create the bucket: HTTP {response.status}")
    return port


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
user root;
pid {state}/nginx.pid;
error_log {state}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log {state}/nginx-access.log;
    client_body_temp_path {state}/nginx-body;
    proxy_temp_path {state}/nginx-proxy;
    fastcgi_temp_path {state}/nginx-fastcgi;
    uwsgi_temp_path {state}/nginx-uwsgi;
    scgi_temp_path {state}/nginx-scgi;
    types {{ application/octet-stream amber; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def start_nginx(state: Path, root: Path) -> int:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    port = free_port()
    conf = state / "nginx.conf"
    conf.write_text(NGINX_CONF.format(state=state, port=port, root=root))
    log = state / "nginx.log"
    process = subprocess.Popen([nginx, "-p", str(state), "-c", str(conf)],
                               stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    (state / "nginx.pid.launcher").write_text(str(process.pid))
    wait_until_answers(port, "nginx", process, log)
    return port


def start(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    root = state / "http-root"
    root.mkdir(exist_ok=True)
    s3 = start_moto(state)
    http_port = start_nginx(state, root)
    exports = {
        **CREDENTIALS,
        "AMBER_TEST_S3_ENDPOINT": f"http://127.0.0.1:{s3}",
        "AMBER_TEST_S3_BUCKET": BUCKET,
        "AMBER_TEST_HTTP_URL": f"http://127.0.0.1:{http_port}",
        "AMBER_TEST_HTTP_ROOT": str(root),
    }
    for key, value in exports.items():
        print(f"export {key}={shlex.quote(value)}")


def stop(state: Path) -> None:
    for name in ("moto.pid", "nginx.pid.launcher"):
        pid_file = state / name
        if not pid_file.exists():
            continue
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
        pid_file.unlink()


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        raise SystemExit(__doc__)
    action, state = sys.argv[1], Path(sys.argv[2]).resolve()
    start(state) if action == "start" else stop(state)


if __name__ == "__main__":
    main()
