"""A Tableau REST API on loopback, for the local run's `tableau` steps: the calls that
tableauserverclient (TSC) 0.41 makes when the Tableau provider's TableauOperator (5.6.0)
refreshes a workbook or data source and waits for it, and no other.

Each answer is shaped as the Tableau REST API reference gives it
(help.tableau.com/current/api/rest_api/en-us/REST/, below REF) and as TSC's own test assets
hold it (tableau/server-client-python test/assets/, below ASSET), in the namespace
http://tableau.com/api (TSC namespace.py), with the XML declaration TSC looks for before it
reads the namespace:
1. GET /api/2.4/serverInfo, unauthenticated (TSC Server.use_server_version): 200, serverInfo
   with productVersion and restApiVersion REST_API_VERSION (REF rest_api_ref_server.htm,
   Server Info; ASSET server_info_get.xml). TSC then calls /api/<that version>/...
2. POST /api/<v>/auth/signin, tsRequest/credentials name, password and site contentUrl: 200,
   credentials token with site id and contentUrl and user id (REF
   rest_api_ref_authentication.htm, Sign In, and rest_api_concepts_auth.htm; ASSET
   auth_sign_in.xml); a wrong name, password or site: 401, error 401001 (ASSET
   auth_sign_in_error.xml).
3. To match by name: GET /api/<v>/sites/<site-id>/workbooks (or datasources)
   ?pageSize=100&pageNumber=N, as TSC's Pager asks page after page until
   pageSize * pageNumber >= totalAvailable: 200, pagination and that page of the list (REF
   rest_api_ref_workbooks_and_views.htm, Query Workbooks for Site; rest_api_ref_data_sources.htm,
   Query Data Sources; rest_api_concepts_paging.htm; ASSET workbook_get.xml,
   datasource_get.xml); pageSize 1 to 1000.
4. POST /api/<v>/sites/<site-id>/workbooks/<id>/refresh (or datasources), with the body
   <tsRequest><extractRefresh/></tsRequest> from API 3.25 and none before
   (TSC request_factory.py refresh_req): 202, job mode="Asynchronous" type="RefreshExtract"
   naming the content (REF Update Workbook Now, Update Data Source Now; ASSET
   workbook_refresh.xml, datasource_refresh.xml). While a refresh of the same content is
   unfinished: 409, error 409093 (TSC DUPLICATE_EXTRACT_JOB_CODE, server/endpoint/
   exceptions.py). An id the site does not have: 404, error 404004 "Resource not found".
5. GET /api/<v>/sites/<site-id>/jobs/<job-id>: 200, the job; while it runs, progress 0 and no
   finishCode (TSC reads that as -1, pending: models/job_item.py); JOB_SECONDS after it
   started, progress 100, completedAt and finishCode 0, or 1 with notes when a failure was
   asked for (REF rest_api_ref_jobs_tasks_and_schedules.htm, Query Job; ASSET
   job_get_by_id_inprogress.xml, job_get_by_id_failed_workbook.xml).
6. POST /api/<v>/auth/signout: 204, and the token signs nothing more (REF Sign Out).
Calls 3 to 6 need the X-Tableau-Auth header of a signed-in token (REF
rest_api_concepts_auth.htm), and 3 to 5 a site id that token signed in to: else 401, error
401002, or 404, error 404000 for an unknown site.

A failure is asked for on the server, not in the config: `POST /glueflow-local/fail?find=X`
(or `TableauApi.fail_next`) makes the next refresh of the content whose id or name is X end
with finishCode 1 (failed), or the `finishCode` given (2: cancelled). The server's address
is the host of any tableau connection's secret.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from xml.etree import ElementTree as ET  # builds answers only; requests go through defusedxml

from defusedxml.ElementTree import ParseError, fromstring

from glueflow_local.serving import reply, serve

NS = "http://tableau.com/api"
# The version the Sign In page's examples use ("POST http://my-server/api/3.27/auth/signin",
# REF rest_api_concepts_auth.htm); from 3.25 TSC sends a refresh its extractRefresh body.
REST_API_VERSION = "3.27"
JOB_SECONDS = 3.0  # how long a refresh runs: past the local run's first poll (2 s)
# The site a connection's extra names, for steps that name none.
CONNECTION_SITE = "glueflow-local"
LOGIN = "glueflow-local"
KINDS = {"workbooks": "workbook", "datasources": "datasource"}  # list element -> item element
ET.register_namespace("", NS)


def luid(*parts: str) -> str:
    """A stable LUID (a UUID, as Tableau's ids are) for a named thing of this server."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "glueflow-local/tableau/" + "/".join(parts)))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Content:
    """A workbook or published data source of a site."""

    kind: str  # "workbooks" or "datasources", as in the URI
    id: str
    name: str


@dataclass
class Job:
    id: str
    content: Content
    started: float  # time.monotonic()
    created_at: str
    finish_code: int  # when it has finished: 0 success, else what a failure asked for


@dataclass
class Site:
    content_url: str
    id: str
    contents: list[Content] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    """One request: its route's match, query, headers and body."""

    found: re.Match[str]
    query: dict[str, str]
    headers: Any
    body: bytes

    def __getitem__(self, name: str) -> str:
        return self.found[name]


Answer = tuple[int, bytes | None]


class TableauApi:
    """The server's state (sites, their contents, tokens, jobs) and its answers."""

    def __init__(self, password: str | None = None, job_seconds: float | None = None) -> None:
        self.login = LOGIN
        self.password = password or secrets.token_urlsafe(16)
        self.job_seconds = JOB_SECONDS if job_seconds is None else job_seconds
        self.sites: dict[str, Site] = {}  # by contentUrl
        self.tokens: dict[str, Site] = {}
        self.jobs: dict[str, Job] = {}
        self.failing: dict[str, int] = {}  # id or name -> finishCode of its next refresh
        self.calls: list[tuple[str, str]] = []  # (method, path?query), for tests
        self._lock = threading.Lock()
        self._server: Any = None
        self.url = ""

    # --- what it knows ------------------------------------------------------------------

    def add(self, site: str, kind: str, *, id: str | None = None, name: str | None = None
            ) -> Content:  # fmt: skip
        """A workbook or data source of `site` (its contentUrl), by id, name or both; the
        other is made up, stably."""
        if kind not in KINDS:
            raise ValueError(f"no Tableau content kind {kind!r}: use {sorted(KINDS)}")
        where = self.sites.setdefault(site, Site(site, luid("site", site)))
        for content in where.contents:
            if content.kind == kind and (content.id == id or content.name == name):
                return content
        content = Content(kind, id or luid(site, kind, name or ""),
                          name or f"{KINDS[kind]} {(id or '')[:8]}")  # fmt: skip
        where.contents.append(content)
        return content

    def fail_next(self, find: str, finish_code: int = 1) -> None:
        """The next refresh of the content with this id or name ends with `finish_code`
        (1 failed; 2 cancelled; another to see what the client makes of it)."""
        with self._lock:
            self.failing[find] = finish_code

    # --- serving ------------------------------------------------------------------------

    def start(self) -> str:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, xml = api.answer(self.command, self.path, self.headers, body)
                if xml is None:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                reply(self, status, xml, Content_Type="application/xml;charset=UTF-8")

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self._server, self.url = serve(Handler)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> Answer:
        """The status and body (None: none) for one request."""
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query))
        with self._lock:
            self.calls.append((method, target))
            for verb, pattern, handler in ROUTES:
                found = pattern.fullmatch(parts.path)
                if found and verb == method:
                    return handler(self, Call(found, query, headers, body))
        return error(404, "404000", "Not Found", f"{method} {parts.path} is not served here")

    # --- the calls (under the lock) -----------------------------------------------------

    def server_info(self, call: Call) -> Answer:
        info = ET.SubElement(root := response(), tag("serverInfo"))
        ET.SubElement(info, tag("productVersion"), build="glueflow-local").text = "glueflow-local"
        ET.SubElement(info, tag("restApiVersion")).text = REST_API_VERSION
        return 200, serialized(root)

    def sign_in(self, call: Call) -> Answer:
        request = parsed(call.body)
        credentials = request.find("credentials") if request is not None else None
        if credentials is None or credentials.find("site") is None:
            return error(400, "400000", "Bad Request", "no tsRequest/credentials/site")
        site = self.sites.get(credentials.find("site").get("contentUrl", ""))
        signed_in = (credentials.get("name"), credentials.get("password")) == (
            self.login, self.password)  # fmt: skip
        if not signed_in or site is None:
            return error(401, "401001", "Signin Error", "Error signing in to Tableau Server")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = site
        root = response()
        signed = ET.SubElement(root, tag("credentials"), token=token)
        ET.SubElement(signed, tag("site"), id=site.id, contentUrl=site.content_url)
        ET.SubElement(signed, tag("user"), id=luid("user", self.login))
        return 200, serialized(root)

    def sign_out(self, call: Call) -> Answer:
        if self.tokens.pop(call.headers.get("X-Tableau-Auth", ""), None) is None:
            return unauthorized()
        return 204, None

    def query_contents(self, call: Call) -> Answer:
        site = self._site(call)
        if isinstance(site, tuple):
            return site
        try:
            size = int(call.query.get("pageSize", 100))
            number = int(call.query.get("pageNumber", 1))
        except ValueError:
            size = number = 0
        if not (1 <= size <= 1000 and number >= 1):
            return error(400, "400000", "Bad Request", "pageSize is 1-1000, pageNumber 1 or more")
        kind = call["kind"]
        contents = [c for c in site.contents if c.kind == kind]
        root = response()
        ET.SubElement(root, tag("pagination"), pageNumber=str(number), pageSize=str(size),
                      totalAvailable=str(len(contents)))  # fmt: skip
        listed = ET.SubElement(root, tag(kind))
        for content in contents[(number - 1) * size : number * size]:
            item = ET.SubElement(listed, tag(KINDS[kind]), id=content.id, name=content.name,
                                 contentUrl=re.sub(r"\W", "", content.name),
                                 createdAt="2026-01-01T00:00:00Z",
                                 updatedAt="2026-01-01T00:00:00Z")  # fmt: skip
            ET.SubElement(item, tag("project"), id=luid("project", "default"), name="default")
            ET.SubElement(item, tag("owner"), id=luid("user", self.login))
            ET.SubElement(item, tag("tags"))
        return 200, serialized(root)

    def refresh(self, call: Call) -> Answer:
        site = self._site(call)
        if isinstance(site, tuple):
            return site
        if call.body.strip():  # API 3.25 and later: <tsRequest><extractRefresh .../></tsRequest>
            request = parsed(call.body)
            if request is None or request.find("extractRefresh") is None:
                return error(400, "400000", "Bad Request", "no tsRequest/extractRefresh")
        content = next((c for c in site.contents
                        if c.kind == call["kind"] and c.id == call["id"]), None)  # fmt: skip
        what = KINDS[call["kind"]]
        if content is None:
            said = f"no {what} {call['id']} on site {site.content_url!r}"
            return error(404, "404004", "Resource not found", said)
        if any(j.content == content and not self._finished(j) for j in self.jobs.values()):
            said = f"a refresh of {what} {content.name!r} is already queued"
            return error(409, "409093", "Resource Conflict", said)
        code = self.failing.pop(content.id, None)
        code = self.failing.pop(content.name, code)
        job = Job(str(uuid.uuid4()), content, time.monotonic(), now(), code or 0)
        self.jobs[job.id] = job
        return 202, serialized(self._job(job))

    def job(self, call: Call) -> Answer:
        site = self._site(call)
        if isinstance(site, tuple):
            return site
        job = self.jobs.get(call["job"])
        if job is None or job.content not in site.contents:
            return error(404, "404004", "Resource not found", f"no job {call['job']}")
        return 200, serialized(self._job(job))

    def arm_failure(self, call: Call) -> Answer:
        try:
            code = int(call.query.get("finishCode", 1))
        except ValueError:
            code = 0
        if not call.query.get("find") or code == 0:
            return error(400, "400000", "Bad Request", "find=<id or name>, finishCode not 0")
        self.failing[call.query["find"]] = code
        return 204, None

    # --- helpers ------------------------------------------------------------------------

    def _site(self, call: Call) -> Site | Answer:
        """The site the call's token signed in to, if it is the one in its URI."""
        site = self.tokens.get(call.headers.get("X-Tableau-Auth", ""))
        if site is None:
            return unauthorized()
        if site.id != call["site"]:
            return error(404, "404000", "Site not found", f"no site id {call['site']}")
        return site

    def _finished(self, job: Job) -> bool:
        return time.monotonic() - job.started >= self.job_seconds

    def _job(self, job: Job) -> ET.Element:
        """The job element as Update ... Now (at once) and Query Job (later) answer it."""
        root = response()
        attributes = {"id": job.id, "mode": "Asynchronous", "type": "RefreshExtract",
                      "createdAt": job.created_at, "startedAt": job.created_at}  # fmt: skip
        if self._finished(job):
            attributes |= {"progress": "100", "completedAt": now(),
                           "finishCode": str(job.finish_code)}  # fmt: skip
        else:
            attributes["progress"] = "0"
        element = ET.SubElement(root, tag("job"), attributes)
        refresh = ET.SubElement(element, tag("extractRefreshJob"))
        what = KINDS[job.content.kind]
        ET.SubElement(refresh, tag(what), id=job.content.id, name=job.content.name)
        if self._finished(job) and job.finish_code:
            ET.SubElement(refresh, tag("notes")).text = (
                f"glueflow-local: this refresh was asked to end with finishCode "
                f"{job.finish_code} (POST /glueflow-local/fail)"
            )
        return root


VERSION = r"/api/(?P<version>\d+\.\d+)"
SITE = VERSION + r"/sites/(?P<site>[0-9a-fA-F-]{36})"
ROUTES = [
    ("GET", re.compile(VERSION + r"/serverInfo"), TableauApi.server_info),
    ("POST", re.compile(VERSION + r"/auth/signin"), TableauApi.sign_in),
    ("POST", re.compile(VERSION + r"/auth/signout"), TableauApi.sign_out),
    ("GET", re.compile(SITE + r"/(?P<kind>workbooks|datasources)"), TableauApi.query_contents),
    ("POST", re.compile(SITE + r"/(?P<kind>workbooks|datasources)/(?P<id>[^/]+)/refresh"),
     TableauApi.refresh),
    ("GET", re.compile(SITE + r"/jobs/(?P<job>[^/]+)"), TableauApi.job),
    ("POST", re.compile(r"/glueflow-local/fail"), TableauApi.arm_failure),
]  # fmt: skip


def tag(name: str) -> str:
    return f"{{{NS}}}{name}"


def response() -> ET.Element:
    return ET.Element(tag("tsResponse"))


def serialized(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def parsed(body: bytes) -> Any:
    """A tsRequest body (TSC sends it without a namespace), or None."""
    try:
        root = fromstring(body)
    except ParseError:
        return None
    return root if root.tag == "tsRequest" else None


def error(status: int, code: str, summary: str, detail: str) -> Answer:
    """An error as the reference's error tables and TSC's XMLError read it: tsResponse/error
    with its code, a summary and a detail."""
    root = response()
    problem = ET.SubElement(root, tag("error"), code=code)
    ET.SubElement(problem, tag("summary")).text = summary
    ET.SubElement(problem, tag("detail")).text = detail
    return status, serialized(root)


def unauthorized() -> Answer:
    return error(401, "401002", "Unauthorized Access",
                 "The authentication token provided in the request header was invalid or has "
                 "expired.")  # fmt: skip


def serve_steps(local: Any, steps: list[dict[str, Any]]) -> TableauApi:
    """One server for the local run's tableau steps: the sites and contents they name (a step
    without a site_id uses its connection's, CONNECTION_SITE), and each connection's secret
    filled with its address and sign-in, as Airflow's tableau connection holds them
    (TableauHook: "{schema}://{host}", login, password, extra site_id)."""
    api = TableauApi()
    for step in steps:
        site = step.get("site_id") or CONNECTION_SITE
        by = {step["match_with"]: step["find"]}
        api.add(site, step["resource"], **by)
    api.sites.setdefault(CONNECTION_SITE, Site(CONNECTION_SITE, luid("site", CONNECTION_SITE)))
    host = api.start().removeprefix("http://")
    local.on_stop(api.stop)
    for conn in sorted({step["connection"] for step in steps}):
        local.put_connection(conn, {
            "conn_type": "tableau", "host": host, "schema": "http",
            "login": api.login, "password": api.password,
            "extra": {"site_id": CONNECTION_SITE},
        })  # fmt: skip
    return api
