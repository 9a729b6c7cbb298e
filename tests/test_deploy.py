"""deploy/: the nginx site a town installs, the bench's nginx, the systemd units, gunicorn.

The nginx configs are checked by Debian's nginx itself (`nginx -t`), and the site is run
in front of a stand-in node to see what a request looks like when it reaches the app:
the path and query string Twilio signed, the X-Forwarded-* headers ProxyFix believes,
the upload limits, the HTTP to HTTPS redirect; and in front of the app itself, to see
its public photos kept in nginx's cache.
"""

from __future__ import annotations

import configparser
import contextlib
import http.client
import http.server
import importlib
import os
import runpy
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from models.report import add_media, attach_media
from services import moderation, storage
from services.media import MAX_PHOTO_BYTES, store_photo
from tests.helpers import TalkingCitizen, jpeg_with_gps

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SERVER_NAME = "signalements.example.fr"
WEBHOOKS = [
    "/webhooks/telegram",
    "/webhooks/sms",
    "/webhooks/sms/status",
    "/webhooks/whatsapp",
    "/webhooks/whatsapp/status",
]


def _need(tool: str, path: str | None) -> str:
    if path and Path(path).exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"CI must check deploy/ with {tool} (make system-deps installs it)")
    pytest.skip(f"{tool} is not installed (apt-get install {tool})")


@pytest.fixture
def nginx_bin() -> str:
    return _need("nginx", NGINX)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and its key, standing in for the town's."""
    openssl = _need("openssl", shutil.which("openssl"))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={SERVER_NAME}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render_site(
    root: Path, cert: Path, key: Path, upstream_ports: list[int], http=80, https=443
) -> Path:
    """/etc/nginx as a town's IT leaves it: nginx.conf, snippets/, sites-enabled/.

    The site and the snippet are deploy/'s files with the markers replaced (and, to run
    it unprivileged, other ports); nginx.conf stands in for Debian's own."""
    (root / "snippets").mkdir(parents=True)
    (root / "sites-enabled").mkdir()
    (root / "run").mkdir()
    shutil.copy(DEPLOY / "webleads-locations.conf", root / "snippets")
    values = {
        "@SERVER_NAME@": SERVER_NAME,
        "@CERTIFICATE_KEY@": str(key),
        "@CERTIFICATE@": str(cert),
        "@UPSTREAMS@": "\n    ".join(f"server 127.0.0.1:{port};" for port in upstream_ports),
    }
    lines = []
    for line in (DEPLOY / "nginx-site.conf").read_text().splitlines():
        if not line.lstrip().startswith("#"):  # the header's comments name the markers
            for marker, value in values.items():
                line = line.replace(marker, value)
            assert "@" not in line, f"a marker left: {line}"
        lines.append(line)
    site = "\n".join(lines)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    site = site.replace("/var/log/nginx/", f"{root / 'run'}/")
    site = site.replace("/var/cache/nginx/", f"{root / 'run'}/")
    (root / "sites-enabled" / "webleads").write_text(site)
    run = root / "run"
    conf = root / "nginx.conf"
    conf.write_text(
        f"pid {run}/nginx.pid;\nerror_log {run}/error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"  access_log {run}/access.log;\n"
        + "".join(
            f"  {kind}_temp_path {run}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + "  include sites-enabled/*;\n}\n"
    )
    return conf


def nginx_check(nginx_bin: str, conf: Path) -> None:
    check = subprocess.run(
        [nginx_bin, "-t", "-e", "stderr", "-c", str(conf)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert "[warn]" not in check.stderr and "[emerg]" not in check.stderr, check.stderr


def test_the_town_site_passes_nginx_t(nginx_bin, certificate, tmp_path):
    cert, key = certificate
    nginx_check(nginx_bin, render_site(tmp_path / "etc-nginx", cert, key, [8000, 8001]))


def test_nginx_t_refuses_a_site_whose_certificate_is_missing(nginx_bin, certificate, tmp_path):
    """The check above can fail: nginx -t reads the certificate."""
    _, key = certificate
    conf = render_site(tmp_path / "etc-nginx", tmp_path / "nope.pem", key, [8000])
    check = subprocess.run([nginx_bin, "-t", "-e", "stderr", "-c", str(conf)], capture_output=True)
    assert check.returncode != 0


def test_the_bench_renders_an_nginx_config_that_uses_the_towns_locations(nginx_bin, tmp_path):
    scaleout = importlib.import_module("bench.scaleout")
    conf = scaleout.render_nginx(tmp_path, free_port(), [8000, 8001])
    text = conf.read_text()
    assert f"include {DEPLOY / 'webleads-locations.conf'};" in text
    assert "server 127.0.0.1:8001" in text
    nginx_check(nginx_bin, conf)


class Recorder(http.server.ThreadingHTTPServer):
    """A stand-in web node: notes what reached it, answers 200."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[dict] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                recorder.seen.append({"path": self.path, "headers": dict(self.headers)})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def site(nginx_bin, certificate, tmp_path):
    """The town's site running in front of a stand-in node: (http port, https port, node)."""
    node = Recorder()
    threading.Thread(target=node.serve_forever, daemon=True).start()
    try:
        with running_site(nginx_bin, certificate, tmp_path, node.server_address[1]) as ports:
            yield *ports, node
    finally:
        node.shutdown()


@contextlib.contextmanager
def running_site(nginx_bin, certificate, tmp_path, node_port: int):
    """nginx running the town's site in front of one web node: (http port, https port)."""
    http_port, https_port = free_port(), free_port()
    cert, key = certificate
    conf = render_site(tmp_path / "etc-nginx", cert, key, [node_port], http_port, https_port)
    # As root, nginx's workers would run as nobody, who cannot write under tmp_path.
    main = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    proc = subprocess.Popen(
        [nginx_bin, "-e", "stderr", "-c", str(conf), "-g", main],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(proc.stderr.read().decode()) from None
                time.sleep(0.05)
        yield http_port, https_port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def https_get(port: int, path: str) -> http.client.HTTPResponse:
    """GETs a path from the site; the response, its body read (`.body`)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=20)
    try:
        conn.request("GET", path, headers={"Host": SERVER_NAME})
        response = conn.getresponse()
        response.body = response.read()
        return response
    finally:
        conn.close()


def https_post(port: int, path: str, body: bytes) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Host": SERVER_NAME,
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Forwarded-For": "6.6.6.6",  # a client pretending to be another
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_plain_http_is_redirected_to_https(site):
    http_port, _, node = site
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    conn.request("GET", "/console/?x=1", headers={"Host": SERVER_NAME})
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{SERVER_NAME}/console/?x=1"
    assert node.seen == []


@pytest.mark.parametrize("path", WEBHOOKS)
def test_webhooks_reach_the_node_as_twilio_signed_them(site, path):
    """Same path and query (Twilio signs PUBLIC_BASE_URL + both), and the headers the app's
    ProxyFix (PROXY_FIX_HOPS=1) reads: the last X-Forwarded-For is the real client."""
    _, https_port, node = site
    assert https_post(https_port, path + "?a=1&b=%2F", b"Body=Bonjour&From=%2B33600000000") == 200
    (seen,) = node.seen
    assert seen["path"] == path + "?a=1&b=%2F"
    assert seen["headers"]["X-Forwarded-Proto"] == "https"
    assert seen["headers"]["X-Forwarded-Host"] == SERVER_NAME
    assert seen["headers"]["Host"] == SERVER_NAME
    assert seen["headers"]["X-Forwarded-For"].split(",")[-1].strip() == "127.0.0.1"


def test_a_phone_photo_fits_on_the_link_page_but_not_on_a_webhook(site):
    """The link page takes MAX_PHOTO_BYTES and its form; elsewhere the app's 1 MiB stands,
    and nginx's limit sits above it so that the app answers (politely) first."""
    _, https_port, node = site
    photo_form = b"x" * (MAX_PHOTO_BYTES + 60 * 1024)
    assert https_post(https_port, "/r/some-token?api_key=k", photo_form) == 200
    assert https_post(https_port, "/webhooks/sms", b"x" * (3 * 1024 * 1024)) == 413
    assert https_post(https_port, "/console/login", b"x" * (1024 * 1024 + 100)) == 200
    assert [seen["path"] for seen in node.seen] == ["/r/some-token?api_key=k", "/console/login"]


def test_the_access_log_keeps_no_link_token_nor_api_key(site, tmp_path):
    _, https_port, _ = site
    assert https_post(https_port, "/r/secret-token", b"x=1") == 200
    assert https_post(https_port, "/open311/v2/requests.json?api_key=secret-key", b"") == 200
    path = tmp_path / "etc-nginx" / "run" / "webleads.access.log"
    # nginx writes a request's line once its answer is sent: the last may come just after.
    deadline = time.monotonic() + 5
    while '"POST /open311/' not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = path.read_text()
    assert '"POST /r/***"' in log and '"POST /open311/v2/requests.json"' in log
    assert "secret" not in log


class Counted:
    """The app as a web node, noting the path of every request that reaches it."""

    def __init__(self, app) -> None:
        self.app = app
        self.paths: list[str] = []

    def __call__(self, environ, start_response):
        self.paths.append(environ["PATH_INFO"])
        return self.app(environ, start_response)


@pytest.fixture
def app_site(nginx_bin, certificate, tmp_path, sqlite_app):
    """The town's site in front of the app itself: (https port, the counted node)."""
    node = Counted(sqlite_app)
    server = make_server("127.0.0.1", 0, node, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with running_site(nginx_bin, certificate, tmp_path, server.server_port) as ports:
            yield ports[1], node
    finally:
        server.shutdown()


def public_photo(app) -> tuple[str, Path]:
    """A report with an approved photo: the photo's public URL and its stored file."""
    rt = app.extensions["webleads"]
    number = TalkingCitizen(rt, "marie").file_report()
    stored = store_photo(jpeg_with_gps(), rt.settings)
    with rt.db.transaction() as session:
        media_id = add_media(session, stored, None)
        attach_media(session, [media_id], number)
        moderation.approve_photo(session, number, media_id, approved=True, agent_id=None)
    return f"/reports/{number}/photos/{media_id}", (Path(rt.settings.MEDIA_DIR) / stored.path)


def test_a_public_photo_fetched_twice_through_nginx_reaches_the_app_once(app_site, sqlite_app):
    https_port, node = app_site
    url, file = public_photo(sqlite_app)
    answers = [https_get(https_port, path) for path in (url, url, url + "?again=1")]
    assert [a.status for a in answers] == [200, 200, 200]
    assert all(a.body == file.read_bytes() for a in answers)
    assert [a.getheader("X-Cache-Status") for a in answers] == ["MISS", "HIT", "HIT"]
    assert node.paths.count(url) == 1
    page = https_get(https_port, url.split("/photos/")[0])  # the pages are not kept
    assert page.status == 200 and page.getheader("X-Cache-Status") is None


class PhotoNode(http.server.ThreadingHTTPServer):
    """A stand-in node with one public photo, fresh for a second; once `down`, it answers
    503 as the app does while the bucket is down or hung."""

    daemon_threads = True

    def __init__(self) -> None:
        self.down = False
        self.seen: list[str] = []
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                node.seen.append(self.path)
                if node.down:
                    self.send_response(503)
                    self.send_header("Retry-After", "30")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Cache-Control", "public, max-age=1")
                self.send_header("ETag", '"ab12"')
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"photo")

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_a_cached_photo_is_still_served_while_the_app_answers_503(nginx_bin, certificate, tmp_path):
    node = PhotoNode()
    threading.Thread(target=node.serve_forever, daemon=True).start()
    url = "/reports/7/photos/9"
    try:
        with running_site(nginx_bin, certificate, tmp_path, node.server_address[1]) as ports:
            https_port = ports[1]
            assert https_get(https_port, url).body == b"photo"
            time.sleep(2.5)  # max-age=1 is over (nginx counts whole seconds: up to 2 s)
            node.down = True
            for _ in range(2):
                stale = https_get(https_port, url)
                assert (stale.status, stale.body) == (200, b"photo")
                assert stale.getheader("X-Cache-Status") in ("STALE", "UPDATING")
            assert https_get(https_port, "/reports/7").status == 503  # a page is not kept
    finally:
        node.shutdown()
    assert len(node.seen) >= 3  # nginx did ask the node again, and got its 503


UNITS = ["webleads-web.service", "webleads-worker.service"]


def test_the_systemd_units_have_what_a_town_needs():
    for name in UNITS:
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        unit.read(DEPLOY / name)
        service = unit["Service"]
        assert service["EnvironmentFile"] == "/etc/webleads/env"
        assert service["User"] == "webleads"
        assert service["Restart"] == "always"
        assert service["NoNewPrivileges"] == "yes"
        assert service["ProtectSystem"] == "strict"
        assert unit["Install"]["WantedBy"] == "multi-user.target"
    web = (DEPLOY / "webleads-web.service").read_text()
    worker = (DEPLOY / "webleads-worker.service").read_text()
    assert "gunicorn --config /opt/webleads/deploy/gunicorn.conf.py" in web
    assert "ExecStart=/opt/webleads/.venv/bin/webleads worker" in worker


def test_systemd_analyze_verifies_the_units(tmp_path):
    """systemd's own check (unknown keys, bad values, the programs it would start), with
    /opt/webleads pointed at this checkout, where the virtualenv's programs exist."""
    analyze = _need("systemd-analyze", shutil.which("systemd-analyze"))
    venv = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv")
    if not (venv / "bin" / "gunicorn").exists():
        pytest.skip(f"no gunicorn in {venv}: the units' ExecStart cannot be checked")
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        text = text.replace("/opt/webleads/.venv", str(venv)).replace("/opt/webleads", str(ROOT))
        (tmp_path / name).write_text(text)
    check = subprocess.run(
        [analyze, "verify", "--man=no", *UNITS], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stderr == "", check.stderr


def test_gunicorn_conf_sets_bind_and_workers(monkeypatch):
    monkeypatch.delenv("WEBLEADS_BIND", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["workers"] >= 3
    monkeypatch.setenv("WEBLEADS_BIND", "0.0.0.0:8001")
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert (conf["bind"], conf["workers"]) == ("0.0.0.0:8001", 4)


def test_a_photo_upload_gives_up_on_the_bucket_well_before_gunicorn_kills_the_worker():
    """The SMS link page keeps a photo with a HEAD then a PUT, in the web request: against a
    bucket that never answers, both timeouts together stay under half gunicorn's."""
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    head = storage.CONNECT_SECONDS + storage.READ_SECONDS
    put = storage.CONNECT_SECONDS + storage.WRITE_SECONDS
    assert head + put < conf["timeout"] / 2


def test_gunicorn_accepts_the_config(tmp_path):
    """gunicorn itself reads the file (--check-config loads the app too: it must build)."""
    gunicorn = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv") / "bin" / "gunicorn"
    if not gunicorn.exists():
        pytest.skip("gunicorn is not in the virtualenv")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/check.db",
        "MEDIA_DIR": str(tmp_path / "media"),
        "PYTHONPATH": str(ROOT),
    }
    check = subprocess.run(
        [
            *(str(gunicorn), "--config", str(DEPLOY / "gunicorn.conf.py")),
            *("--check-config", "app.factory:create_app()"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
