"""dbt Cloud, answered on this machine: the calls of the dbt Cloud provider's
DbtCloudRunJobOperator (apache-airflow-providers-dbt-cloud 4.9.3), over HTTPS on loopback.

The provider's hook always calls `https://<connection host>/api/v2/accounts/...` (hooks/dbt.py
`get_conn` and `get_request_url_params`), so the stand-in speaks TLS, with a certificate for
127.0.0.1 from a CA made here; the local Airflow trusts it through a CA bundle (certifi's
bundle plus that CA) named by REQUESTS_CA_BUNDLE (requests, the operator's calls) and
SSL_CERT_FILE (OpenSSL's default verify paths, which aiohttp's default SSL context loads when
aiohttp is imported: the trigger's calls).

It serves what the operator calls, as the Administrative API v2 answers
(https://docs.getdbt.com/dbt-cloud/api-v2): every answer is `{"status": {"code",
"is_success", "user_message", "developer_message"}, "data": ...}`, the run in `data` with its
numeric `status` (1 Queued, 2 Starting, 3 Running, 10 Success, 20 Error, 30 Cancelled) and the
fields the provider reads (`id`, `href`, `status`) among those a real run has. The reference
page renders an OpenAPI description not held here; the shapes follow a run recorded from the
live API (data-mie/dbt-cloud-cli README, `dbt-cloud job run`), the 401 body dbt Cloud answers a
bad token with (open-metadata/OpenMetadata's dbt Cloud connection tests, "captured against the
live API"), and the run URL the provider's own tests use (apache/airflow
providers/dbt/cloud/tests/unit/dbt/cloud/operators/test_dbt.py, EXPECTED_JOB_RUN_OP_EXTRA_LINK).

- POST /api/v2/accounts/{a}/jobs/{j}/run/  (trigger_job_run): a new run, Queued
- GET  /api/v2/accounts/{a}/runs/{r}/      (get_job_run, and the trigger's get_job_details)
- POST /api/v2/accounts/{a}/runs/{r}/cancel/  (cancel_job_run: execution_timeout, on_kill)

A run is Queued, Starting, then Running, and ends Success after `RUN_S` seconds, unless the
next run of its job was asked to fail: `POST /glueflow/jobs/{j}/fail-next-run` (no token; the
stand-in's own control, for tests and scenarios) makes it end Error.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from glueflow_local.serving import reply

# How long a run takes here, by status: Queued, Starting, then Running until done.
QUEUED_S, STARTING_S, RUN_S = 0.5, 0.5, 2.0
STATUS = {1: "Queued", 2: "Starting", 3: "Running", 10: "Success", 20: "Error", 30: "Cancelled"}
PROJECT_ID = 1  # one project per account here; a run's URL names it
# The account of the connections' login: a step without `account_id` runs its job there.
DEFAULT_ACCOUNT = 1
FIRST_RUN_ID = 70_000_001

_RUN = re.compile(r"^/api/v2/accounts/(\d+)/runs/(\d+)/$")
_CANCEL = re.compile(r"^/api/v2/accounts/(\d+)/runs/(\d+)/cancel/$")
_TRIGGER = re.compile(r"^/api/v2/accounts/(\d+)/jobs/(\d+)/run/$")
_FAIL_NEXT = re.compile(r"^/glueflow/jobs/(\d+)/fail-next-run$")


@dataclass
class Run:
    id: int
    account_id: int
    job_id: int
    cause: str
    steps_override: list[str] | None
    schema_override: str | None
    created: float
    fails: bool
    cancelled_at: float | None = None
    body: dict[str, Any] = field(default_factory=dict)

    def status(self, now: float) -> int:
        """The run's status at `now`: its lifecycle by elapsed time, or Cancelled."""
        ends = self.created + QUEUED_S + STARTING_S + RUN_S
        if self.cancelled_at is not None and self.cancelled_at < ends:
            return 30
        elapsed = now - self.created
        if elapsed < QUEUED_S:
            return 1
        if elapsed < QUEUED_S + STARTING_S:
            return 2
        if elapsed < QUEUED_S + STARTING_S + RUN_S:
            return 3
        return 20 if self.fails else 10


class DbtCloudStandIn:
    """The server, its tokens and accounts, and the runs it started."""

    def __init__(self, workdir: Path, tokens: set[str], accounts: set[int]) -> None:
        self.tokens = tokens
        self.accounts = accounts
        self.runs: dict[int, Run] = {}
        self.fail_next: set[int] = set()  # job ids whose next run ends Error
        self.calls: list[tuple[str, str]] = []  # (method, path), as received
        self._lock = threading.Lock()
        self.ca_pem, context = make_tls(workdir)
        self.server = _TlsServer(("127.0.0.1", 0), _handler(self), context)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        # Polled every 50 ms, not 0.5 s, as glueflow_local/serving.py: stop() waits for a poll.
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next_run(self, job_id: int) -> None:
        with self._lock:
            self.fail_next.add(job_id)

    def run_url(self, run: Run) -> str:
        return (
            f"https://{self.host}/#/accounts/{run.account_id}/projects/{PROJECT_ID}/runs/{run.id}/"
        )

    def trigger(self, account: int, job: int, body: dict[str, Any]) -> Run:
        with self._lock:
            run = Run(
                id=FIRST_RUN_ID + len(self.runs), account_id=account, job_id=job,
                cause=str(body.get("cause")), steps_override=body.get("steps_override"),
                schema_override=body.get("schema_override"), created=time.time(),
                fails=job in self.fail_next, body=body,
            )  # fmt: skip
            self.fail_next.discard(job)
            self.runs[run.id] = run
        return run

    def as_data(self, run: Run) -> dict[str, Any]:
        """The run as dbt Cloud's v2 API gives it (the fields of a run recorded from the
        live API that say what it is and where it stands)."""
        now = time.time()
        status = run.status(now)
        done = status in (10, 20, 30)
        started = run.created + QUEUED_S + STARTING_S
        finished = run.cancelled_at if status == 30 else started + RUN_S
        return {
            "id": run.id,
            "trigger_id": run.id,
            "account_id": run.account_id,
            "environment_id": 1,
            "project_id": PROJECT_ID,
            "job_definition_id": run.job_id,
            "job_id": run.job_id,
            "status": status,
            "status_humanized": STATUS[status],
            # null for an errored run too, as dbt Cloud's webhook examples show it ("Examples
            # of JSON payloads", Webhooks for your jobs: "runStatusMessage": "None")
            "status_message": None,
            "git_branch": "main",
            "created_at": _when(run.created),
            "updated_at": _when(min(now, finished) if done else now),
            "started_at": _when(started) if now >= started else None,
            "finished_at": _when(finished) if done else None,
            "in_progress": not done,
            "is_complete": done,
            "is_success": status == 10,
            "is_error": status == 20,
            "is_cancelled": status == 30,
            "href": self.run_url(run),
            "job": None,
            "trigger": None,
            "run_steps": [],
        }

    def answer(self, method: str, path: str, token: str | None, body: bytes) -> tuple[int, Any]:
        """(HTTP status, JSON body) for one request."""
        self.calls.append((method, path))
        if method == "POST" and (found := _FAIL_NEXT.fullmatch(path)):
            self.fail_next_run(int(found[1]))
            return 200, envelope(200, {"job_id": int(found[1]), "fail_next_run": True})
        if token not in self.tokens:
            return 401, envelope(401, None, "Invalid token.")
        routes = ((_TRIGGER, "POST", self._trigger), (_RUN, "GET", self._run),
                  (_CANCEL, "POST", self._cancel))  # fmt: skip
        route = next(((m, allowed, act) for pattern, allowed, act in routes
                      if (m := pattern.fullmatch(path))), None)  # fmt: skip
        if route is None:
            return 404, envelope(404, None, "Not found.")
        found, allowed, act = route
        if method != allowed:
            return 405, envelope(405, None, f"Method {method} not allowed.")
        if int(found[1]) not in self.accounts:
            return 403, envelope(403, None, "Access denied: Token is not scoped to account.")
        return act(int(found[1]), int(found[2]), body)

    def _trigger(self, account: int, job: int, body: bytes) -> tuple[int, Any]:
        try:
            sent = json.loads(body or b"{}")
        except ValueError:
            sent = None
        if not isinstance(sent, dict):
            return 400, envelope(400, None, "The request body is not a JSON object.")
        return 200, envelope(200, self.as_data(self.trigger(account, job, sent)))

    def _run(self, account: int, run_id: int, body: bytes) -> tuple[int, Any]:
        run = self.runs.get(run_id)
        if run is None or run.account_id != account:
            return 404, envelope(404, None, "Not found.")
        return 200, envelope(200, self.as_data(run))

    def _cancel(self, account: int, run_id: int, body: bytes) -> tuple[int, Any]:
        run = self.runs.get(run_id)
        if run is None or run.account_id != account:
            return 404, envelope(404, None, "Not found.")
        with self._lock:
            if run.status(time.time()) in (1, 2, 3):
                run.cancelled_at = time.time()
        return 200, envelope(200, self.as_data(run))


def envelope(code: int, data: Any, message: str = "Success!") -> dict[str, Any]:
    """dbt Cloud's answer around its data (its `status` object)."""
    return {
        "status": {
            "code": code,
            "is_success": 200 <= code < 300,
            "user_message": message,
            "developer_message": "" if code < 300 else None,
        },
        "data": data,
    }


def _when(epoch: float) -> str:
    """A time as the v2 API writes it: "2021-11-26 16:49:20.535987+00:00"."""
    return str(datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC))


class _TlsServer(ThreadingHTTPServer):
    """TLS per connection, in the connection's own thread: a client that stalls or refuses
    the certificate holds up no one else."""

    def __init__(self, address: Any, handler: Any, context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            secure = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client went away or did not trust us: nothing to answer
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer is no error of the stand-in's


def _handler(standin: DbtCloudStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            given = token.strip() if scheme in ("Token", "Bearer") else None
            path = self.path.split("?", 1)[0]
            status, answer = standin.answer(self.command, path, given, body)
            reply(self, status, json.dumps(answer).encode(), Content_Type="application/json")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    return Handler


def make_tls(workdir: Path) -> tuple[str, ssl.SSLContext]:
    """A CA and a certificate it signs for 127.0.0.1 (and localhost), written under
    `workdir`; the CA's PEM and the server's SSL context."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Glueflow local stand-in CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    folder = workdir / "dbt_cloud"
    folder.mkdir(parents=True, exist_ok=True)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    (folder / "ca.pem").write_text(ca_pem)
    chain = folder / "server.pem"
    chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    private = folder / "server.key"
    private.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, private)
    return ca_pem, context


def trust(local: Any, ca_pem: str) -> Path:
    """Make the local Airflow's processes trust `ca_pem` besides the public CAs: a bundle of
    certifi's CAs (what requests trusts by default) and it, named by REQUESTS_CA_BUNDLE and
    SSL_CERT_FILE in `local.process_env`. Another stand-in's bundle there is added to."""
    import certifi

    named = local.process_env.get("SSL_CERT_FILE")
    bundle = Path(named) if named else local.workdir / "standin-ca-bundle.pem"
    if not bundle.exists():
        bundle.write_text(Path(certifi.where()).read_text())
    if ca_pem not in bundle.read_text():
        with bundle.open("a") as out:
            out.write("\n" + ca_pem)
    local.process_env.update({"REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle)})
    return bundle


def start(
    local: Any, steps: list[dict[str, Any]], default_account: int = DEFAULT_ACCOUNT
) -> DbtCloudStandIn:
    """The stand-in for `steps` (manifest entries of dbt_cloud steps), stopped with `local`:
    each connection's secret holds its host, a token of its own and `default_account` (the
    login, which a step without `account_id` runs in); a run may be in that account or in any
    a step names."""
    connections = sorted({step["connection"] for step in steps})
    tokens = {f"dbt-local-token-{conn}" for conn in connections}
    accounts = {default_account} | {s["account_id"] for s in steps if s.get("account_id")}
    standin = DbtCloudStandIn(local.workdir, tokens, accounts)
    local.on_stop(standin.stop)
    trust(local, standin.ca_pem)
    for conn in connections:
        local.put_connection(conn, {
            "conn_type": "dbt_cloud", "host": standin.host, "login": str(default_account),
            "password": f"dbt-local-token-{conn}",
        })  # fmt: skip
    return standin
