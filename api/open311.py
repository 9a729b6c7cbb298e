"""The Open311 GeoReport v2 server, under /open311/v2/, in JSON and XML.

The town's other tools (a CRM, a works-management system, a map, FixMyStreet) read the
reports and file new ones here. Vocabulary: an Open311 *service* is one of our
categories (`service_code` = the category's code, `group` = the town's service), a
*service request* is a report (`service_request_id` = its number).

Privacy: a read without `api_key` shows the report's public view (services/public_view.py):
category, pin, the geocoder's street, status, dates and the agents' public words
(`status_notes`) without anyone's name, number or typed address; hidden reports do not
exist. An `api_key` has a scope (models/api_key.py): its view, `public` (exactly the
keyless read) or `full` (the town's own tools: the report as the town keeps it, the
citizen's description, the address as given, the agents' words as sent; photos stay in
the console, no `media_url`), and its communes: a key limited to some communes neither
reads (404, as if the report did not exist) nor files (403) outside them. Contact fields
sent with a new request (email, names, phone) are not stored.

The OpenAPI description is `open311.yaml` beside this module, served at
/open311/v2/openapi.json.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, request
from itsdangerous import BadSignature, URLSafeSerializer
from shapely.geometry import Point

from models.api_key import ApiKey, check_key
from models.db import utcnow
from models.open311_queries import (
    RequestFilter,
    find_requests,
    last_public_messages,
    statuses_of_kind,
)
from models.question import Kind, Question
from models.report import Report, Status
from services import reports, urgency
from services.catalog import Snapshot
from services.channels import Channel, register
from services.public_view import PublicReport, public_reports
from services.runtime import current_runtime
from services.types import clean_text

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
OPENAPI_FILE = Path(__file__).with_name("open311.yaml")
CHANNEL = "open311"
# Reports filed by other tools through this API: a source the console can filter on.
register(Channel(name=CHANNEL, labels={"en": "Open311"}, for_citizens=False))
FORMATS = "any(json, xml)"
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

# Our statuses -> GeoReport's two.
STATUS_MAP = {
    Status.NEW: "open",
    Status.ACKNOWLEDGED: "open",
    Status.IN_PROGRESS: "open",
    Status.RESOLVED: "closed",
    Status.CLOSED: "closed",
    Status.DUPLICATE: "closed",
}
STATUS_KINDS = {"open": {"open"}, "closed": {"fixed", "closed"}}
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000
MAX_ADDRESS = 255
TOKEN_SALT = "open311-token"
W3C_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[Tt](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?$"
)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# Characters XML 1.0 cannot carry, even escaped.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# The fields of a request, in the order of the spec's examples.
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")


class Open311Error(Exception):
    """An error answered as the spec's list of {code, description}."""

    def __init__(self, code: int, *descriptions: str) -> None:
        super().__init__(descriptions[0] if descriptions else str(code))
        self.code = code
        self.descriptions = descriptions


# --- routes --------------------------------------------------------------------------


@bp.get(f"/discovery.<{FORMATS}:fmt>")
def discovery(fmt: str) -> Response:
    """Lists this endpoint, its specification and formats (Open311 service discovery)."""
    base = current_runtime().settings.PUBLIC_BASE_URL.rstrip("/") + bp.url_prefix
    body = {
        "changeset": "2026-01-01T00:00:00Z",
        "contact": "",
        "key_service": "",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": "2026-01-01T00:00:00Z",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    if fmt == "json":
        return _json(body)
    root = _element("discovery", {k: v for k, v in body.items() if k != "endpoints"})
    endpoints = ET.SubElement(root, "endpoints")
    for endpoint in body["endpoints"]:
        node = _element("endpoint", {k: v for k, v in endpoint.items() if k != "formats"})
        formats = ET.SubElement(node, "formats")
        for name in endpoint["formats"]:
            ET.SubElement(formats, "format").text = name
        endpoints.append(node)
    return _xml(root)


@bp.get(f"/services.<{FORMATS}:fmt>")
def services(fmt: str) -> Response:
    """Lists the categories citizens report in, as Open311 services."""
    snapshot, language = _snapshot()
    try:
        _jurisdiction(snapshot, request.args)
    except Open311Error as exc:
        return _errors(fmt, exc)
    items = [_service(snapshot, c, language) for c in snapshot.categories]
    return _list(fmt, "services", "service", items)


@bp.get(f"/services/<code>.<{FORMATS}:fmt>")
def service_definition(code: str, fmt: str) -> Response:
    """A service's extra attributes: its category's short questions (404 when unknown)."""
    snapshot, language = _snapshot()
    category = snapshot.by_code.get(code)
    if category is None:
        return _errors(fmt, Open311Error(404, f"service_code {code} not found"))
    attributes = [_attribute(q, order, language) for order, q in enumerate(category.questions, 1)]
    if fmt == "json":
        return _json({"service_code": code, "attributes": attributes})
    root = _element("service_definition", {"service_code": code})
    nodes = ET.SubElement(root, "attributes")
    for attribute in attributes:
        node = _element("attribute", {k: v for k, v in attribute.items() if k != "values"})
        values = ET.SubElement(node, "values")
        for value in attribute["values"]:
            values.append(_element("value", value))
        nodes.append(node)
    return _xml(root)


@bp.get(f"/requests.<{FORMATS}:fmt>")
def list_requests(fmt: str) -> Response:
    """Reports matching the standard filters (90 days and 1000 requests at most)."""
    try:
        reader = _reader(request.args.get("api_key"))
        commune = _jurisdiction(_snapshot()[0], request.args)
        found = _requests(replace(_filter(request.args), commune=commune), reader)
    except Open311Error as exc:
        return _errors(fmt, exc)
    return _list(fmt, "service_requests", "request", found)


@bp.get(f"/requests/<number>.<{FORMATS}:fmt>")
def one_request(number: str, fmt: str) -> Response:
    """One report, as a list of one request."""
    try:
        reader = _reader(request.args.get("api_key"))
        commune = _jurisdiction(_snapshot()[0], request.args)
        if not _is_number(number):
            raise Open311Error(404, f"service_request_id {number} not found")
        found = _requests(RequestFilter(ids=(int(number),), commune=commune), reader)
        if not found:
            raise Open311Error(404, f"service_request_id {number} not found")
    except Open311Error as exc:
        return _errors(fmt, exc)
    return _list(fmt, "service_requests", "request", found)


@bp.post(f"/requests.<{FORMATS}:fmt>")
def create_request(fmt: str) -> Response:
    """Files a report sent by a tool holding an api_key; returns its number and token."""
    # Control characters (NUL among them, which PostgreSQL refuses) are never meant.
    form = {name: clean_text(value) for name, value in request.values.items()}
    rt = current_runtime()
    try:
        _refuse_too_long(request.values)
        with rt.db.transaction() as session:
            key = check_key(session, form.get("api_key", ""))
            if key is None:
                raise Open311Error(
                    403, "Invalid api_key received -- can't proceed with create_request."
                )
            snapshot = rt.catalog.get(session)
            commune = _jurisdiction(snapshot, form)
            fields = _new_request(form, snapshot)
            # The place decides the commune; a request given by address keeps the one asked.
            commune = snapshot.zones.commune_at(fields["lat"], fields["lon"]) or commune
            if not key.covers(commune):
                raise Open311Error(403, _outside_scope(key, commune))
            report = reports.file_external_report(
                session, channel=CHANNEL, note=_note(key, form), commune=commune, **fields
            )
            why = urgency.reasons(fields["category"], fields["answers"], fields["description"],
                                  urgency.danger_words(snapshot.settings))  # fmt: skip
            urgency.make_urgent(session, report, why)
            number = report.id
    except Open311Error as exc:
        return _errors(fmt, exc)
    item = {
        "service_request_id": str(number),
        "token": _tokens().dumps(number),
        "service_notice": "",
        "account_id": None,
    }
    return _list(fmt, "service_requests", "request", [item])


@bp.get(f"/tokens/<token>.<{FORMATS}:fmt>")
def token(token: str, fmt: str) -> Response:
    """The request a token stands for."""
    try:
        number = _tokens().loads(token)
    except BadSignature:
        return _errors(fmt, Open311Error(404, f"token {token} not found"))
    item = {"service_request_id": str(number), "token": token}
    return _list(fmt, "service_requests", "request", [item])


@bp.app_errorhandler(404)
def not_found(error):
    """An unknown path or format under /open311/ is answered in the spec's error list."""
    if not request.path.startswith(bp.url_prefix + "/"):
        return error
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return _errors(fmt, Open311Error(404, f"{request.path} not found"))


@bp.get("/openapi.json")
def openapi() -> Response:
    """This API's OpenAPI 3 description, with this town's service codes."""
    import copy

    document = copy.deepcopy(_openapi_document())
    document["servers"] = [{"url": current_runtime().settings.PUBLIC_BASE_URL.rstrip("/")}]
    snapshot, _ = _snapshot()
    post = document["paths"]["/open311/v2/requests.{format}"]["post"]
    form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    form["properties"]["service_code"]["enum"] = [c.code for c in snapshot.categories]
    return _json(document)


@cache
def _openapi_document() -> dict:
    import yaml

    return yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))


# --- reading -------------------------------------------------------------------------


def _snapshot() -> tuple[Snapshot, str]:
    rt = current_runtime()
    with rt.db.reading() as session:
        return rt.catalog.get(session), rt.settings.DEFAULT_LANGUAGE


def _service(snapshot: Snapshot, category, language: str) -> dict:
    service = snapshot.services[category.service_id]
    return {
        "service_code": category.code,
        "service_name": category.name(language),
        "description": category.name(language),
        "metadata": bool(category.questions),  # its questions: GET services/{code}
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys([category.name_fr, category.name_en])),
        "group": service.name(language),
    }


# A question's kind -> the Open311 datatype of its attribute.
DATATYPES = {
    Kind.YES_NO: "singlevaluelist",
    Kind.CHOICE: "singlevaluelist",
    Kind.NUMBER: "number",
    Kind.TEXT: "string",
}
YES_NO_VALUES = {"fr": ("Oui", "Non"), "en": ("Yes", "No")}


def _attribute(question: Question, order: int, language: str) -> dict:
    """A category's question as a service definition's attribute (never required)."""
    if question.kind == Kind.YES_NO:
        yes, no = YES_NO_VALUES.get(language, YES_NO_VALUES["en"])
        values = [{"key": "yes", "name": yes}, {"key": "no", "name": no}]
    else:
        values = [{"key": o.code, "name": o.label(language)} for o in question.options]
    return {
        "variable": True,
        "code": question.code,
        "datatype": DATATYPES[question.kind],
        "required": False,
        "datatype_description": None,
        "order": order,
        "description": question.wording(language),
        "values": values,
    }


def _answers(form, category, problems: list[str]) -> list[dict]:
    """The `attribute[code]` values a new request carries, read as the chat reads them."""
    answers = []
    for question in category.questions if category is not None else ():
        given = (form.get(f"attribute[{question.code}]") or "").strip()
        if not given:
            continue
        as_choice = question.kind in (Kind.YES_NO, Kind.CHOICE)
        value = urgency.check(question, **({"choice": given} if as_choice else {"text": given}))
        if value.value is None:
            problems.append(f"attribute[{question.code}] is not a valid {question.kind} answer.")
        else:
            answers.append(urgency.answer_of(question, value.value))
    return answers


def _reader(api_key: str | None) -> ApiKey | None:
    """The tool reading, when it gave its api_key (its scope then says what it reads)."""
    if api_key is None:
        return None
    with current_runtime().db.transaction() as session:
        key = check_key(session, api_key)
    if key is None:
        raise Open311Error(403, "Invalid api_key.")
    return key


def _filter(args) -> RequestFilter:
    """Reads the standard filters; every one is checked, even those ids make moot."""
    start, end = _date(args, "start_date"), _date(args, "end_date")
    statuses: set[str] = set()
    for word in _split(args.get("status")):
        if word not in STATUS_KINDS:
            raise Open311Error(400, "status must be open or closed.")
        statuses.update(statuses_of_kind(STATUS_KINDS[word]))
    ids = _split(args.get("service_request_id"))
    if not all(_is_number(i) for i in ids):
        raise Open311Error(400, "service_request_id must be numbers, comma separated.")
    if ids:  # the spec: with ids, the other filters do not apply
        return RequestFilter(ids=tuple(int(i) for i in ids))
    if start is None:
        anchor, window = end or utcnow(), timedelta(days=DEFAULT_DAYS)
        start = anchor - window if anchor > EARLIEST + window else EARLIEST
    return RequestFilter(
        # No code has a NUL, and PostgreSQL refuses one in a query.
        service_codes=tuple(_split((args.get("service_code") or "").replace("\x00", ""))),
        start=start,
        end=end,
        statuses=tuple(sorted(statuses)),
        limit=MAX_REQUESTS,
    )


def _jurisdiction(snapshot: Snapshot, args) -> str | None:
    """jurisdiction_id: the commune's INSEE code, required when there are several."""
    given = (args.get("jurisdiction_id") or "").strip()
    codes = [insee for insee, _, _ in snapshot.zones.communes]
    if not codes:
        return None  # one town: the spec makes jurisdiction_id optional, as it was here
    if not given:
        if len(codes) > 1:
            raise Open311Error(
                400, f"jurisdiction_id is required: the INSEE code of one of {', '.join(codes)}."
            )
        return None
    if given not in codes:
        raise Open311Error(404, f"jurisdiction_id {given[:16]} not found")
    return given


def _is_number(text: str) -> bool:
    """A report number as written in a URL: ASCII digits, nine at most."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _date(args, name: str) -> datetime | None:
    """Reads a W3C datetime ('2026-03-01T08:15:30Z', '2026-03-01'); no offset means UTC."""
    text = (args.get(name) or "").strip().replace(" ", "+")  # a '+' sent unencoded
    match = W3C_DATETIME.match(text)
    if not text:
        return None
    if match is None:
        raise Open311Error(400, f"{name} is not a W3C datetime (2026-03-01T08:15:30Z).")
    day, clock, fraction, offset = match.groups()
    # Python has no leap second and no more than microseconds.
    clock = (clock or "00:00:00").replace(":60", ":59")
    fraction = (fraction or "")[:7]
    offset = "+00:00" if not offset or offset in "Zz" else offset
    try:
        value = datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}")
        return value.astimezone(UTC)
    except ValueError as exc:
        raise Open311Error(400, f"{name} is not a valid date ({exc}).") from exc
    except OverflowError:
        return (
            datetime.min.replace(tzinfo=UTC) if day < "1970" else datetime.max.replace(tzinfo=UTC)
        )


def _requests(f: RequestFilter, reader: ApiKey | None) -> list[dict]:
    """The requests the filter finds within the key's communes: their public view, or the
    town's record for a key that reads it."""
    rt = current_runtime()
    language = rt.settings.DEFAULT_LANGUAGE
    if reader is not None and reader.communes:
        f = replace(f, communes=tuple(reader.communes))
    with rt.db.reading() as session:
        rows = find_requests(session, f)
        postcode = rt.catalog.get(session).settings.get("town_postcode")
        if reader is None or not reader.reads_full_record:
            views = public_reports(session, rows)
            base = rt.settings.PUBLIC_BASE_URL.rstrip("/")
            return [_public_request(view, postcode, language, base) for view in views]
        notes = last_public_messages(session, [report.id for report, _, _ in rows])
    return [_request(*row, notes.get(row[0].id), postcode, language) for row in rows]


def _public_request(view: PublicReport, postcode, language: str, base_url: str) -> dict:
    """A request as anyone may read it: the report's public view."""
    values = {
        "service_request_id": str(view.number),
        "status": STATUS_MAP[view.status],
        "status_notes": view.latest_words,
        "service_name": view.category_names[language],
        "service_code": view.category_code,
        # The citizen's words only once the town made them public (the public site's rules).
        "description": view.description,
        "agency_responsible": view.service_names[language],
        "service_notice": None,
        "requested_datetime": _w3c(view.created_at),
        "updated_datetime": _w3c(view.updated_at),
        "expected_datetime": _w3c(view.expected_at) if view.expected_at else None,
        "address": view.place.label,
        "address_id": None,
        "zipcode": postcode,
        "lat": view.place.lat,
        "long": view.place.lon,
        "media_url": (
            f"{base_url}/reports/{view.number}/photos/{view.media_ids[0]}"
            if view.media_ids
            else None
        ),
    }
    return {name: values[name] for name in REQUEST_FIELDS}


def _request(report: Report, category, service, notes, postcode, language: str) -> dict:
    """A request as the town keeps it, for a tool holding an api_key."""
    status = STATUS_MAP[report.status]
    expected = (
        _w3c(report.created_at + timedelta(hours=category.sla_hours)) if status == "open" else None
    )
    values = {
        "service_request_id": str(report.id),
        "status": status,
        "status_notes": notes,
        "service_name": category.name(language),
        "service_code": category.code,
        "description": report.description,
        "agency_responsible": service.name(language),
        "service_notice": None,
        "requested_datetime": _w3c(report.created_at),
        "updated_datetime": _w3c(report.updated_at),
        "expected_datetime": expected,
        "address": report.address,
        "address_id": None,
        "zipcode": postcode,
        "lat": report.lat,
        "long": report.lon,
        "media_url": None,  # photos are shown to the town's logged-in agents only
    }
    return {name: values[name] for name in REQUEST_FIELDS}


def _w3c(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- writing -------------------------------------------------------------------------


def _refuse_too_long(sent) -> None:
    """A description or an address longer than allowed is refused as it was sent (the
    OpenAPI description's maxLength), before control characters are taken out of it;
    never cut short."""
    problems = [
        f"{name} is longer than {limit} characters."
        for name, limit in (("address_string", MAX_ADDRESS), ("description", MAX_DESCRIPTION))
        if len(sent.get(name) or "") > limit
    ]
    if problems:
        raise Open311Error(400, *problems)


def _new_request(form, snapshot: Snapshot) -> dict:
    """Checks a new request's fields; raises Open311Error(400) listing what is wrong."""
    problems: list[str] = []
    code = (form.get("service_code") or "").strip()
    category = snapshot.by_code.get(code)
    if not code:
        problems.append("service_code is required.")
    elif category is None:
        problems.append(f"service_code {code} is not a service here.")
    lat, lon, address = _location(form, snapshot, problems)
    description = (form.get("description") or "").strip()
    answers = _answers(form, category, problems)
    if problems:
        raise Open311Error(400, *problems)
    return {
        "category": category,
        "description": description,
        "answers": answers,
        "lat": lat,
        "lon": lon,
        "address": address,
    }


def _location(form, snapshot: Snapshot, problems: list[str]):
    """lat and long, or address_string (kept as text, placed on the map later)."""
    lat_text, lon_text = form.get("lat"), form.get("long")
    address = (form.get("address_string") or "").strip() or None  # its length: as sent
    if lat_text is None and lon_text is None:
        if address is None:
            problems.append("A location is required: lat and long, or address_string.")
        return None, None, address
    try:
        lat, lon = float(lat_text or ""), float(lon_text or "")
    except ValueError:
        problems.append("lat and long must both be decimal degrees.")
        return None, None, address
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        problems.append("lat and long must both be decimal degrees.")
        return None, None, address
    boundary = snapshot.zones.boundary
    if boundary is not None and not boundary.covers(Point(lon, lat)):
        problems.append(f"This place is outside {snapshot.area_name or 'the town'}.")
    return lat, lon, address


def _outside_scope(key: ApiKey, commune: str | None) -> str:
    where = f"jurisdiction_id {commune}" if commune else "a place with no jurisdiction_id"
    return f"This api_key files requests only in {', '.join(key.communes)}, not in {where}."


def _note(key: ApiKey, form) -> str:
    note = f"Filed through Open311 by {key.name}."
    media_url = (form.get("media_url") or "").strip()
    if media_url.startswith(("https://", "http://")):
        # Not fetched: a URL from another system is for an agent to open, if they trust it.
        note += f" Photo: {media_url[:500]}"
    return note


def _tokens() -> URLSafeSerializer:
    return URLSafeSerializer(current_runtime().settings.SECRET_KEY, salt=TOKEN_SALT)


# --- formats -------------------------------------------------------------------------


def _list(fmt: str, root: str, item: str, items: list[dict], status: int = 200) -> Response:
    if fmt == "json":
        return _json(items, status)
    node = ET.Element(root)
    for values in items:
        node.append(_element(item, values))
    return _xml(node, status)


def _errors(fmt: str, exc: Open311Error) -> Response:
    items = [{"code": exc.code, "description": text} for text in exc.descriptions]
    return _list(fmt, "errors", "error", items, exc.code)


def _element(name: str, values: dict) -> ET.Element:
    node = ET.Element(name)
    for key, value in values.items():
        child = ET.SubElement(node, key)
        if isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = NOT_XML.sub("", str(value))
    return node


def _json(body, status: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, content_type=CONTENT_TYPES["json"])


def _xml(root: ET.Element, status: int = 200) -> Response:
    text = ET.tostring(root, encoding="unicode")
    body = f'<?xml version="1.0" encoding="utf-8"?>\n{text}'
    return Response(body, status=status, content_type=CONTENT_TYPES["xml"])
