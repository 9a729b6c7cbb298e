"""The Open311 GeoReport v2 server: the spec's shapes in JSON and XML, valid and invalid
input, the API keys, and schemathesis against the OpenAPI description."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from app.cli import cli
from models.api_key import KeyView, create_key, revoke_key
from models.report import Report, get_report, report_events
from services import reports
from tests.helpers import make_report

BASE = "/open311/v2"
POTERIE = {"lat": "48.1246", "long": "-1.2082"}

# The element names and their order in the GeoReport v2 wiki's examples.
SPEC_SERVICE = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
SPEC_REQUEST = [
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
]
SPEC_CREATED = ["service_request_id", "service_notice", "account_id"]  # (+ token, ours)
SPEC_TOKEN = ["service_request_id", "token"]
SPEC_ERROR = ["code", "description"]


@pytest.fixture
def api_key(rt) -> str:
    """The key of one of the town's own tools: it reads the full record."""
    with rt.db.transaction() as session:
        _, key = create_key(session, "CRM voirie", view=KeyView.FULL)
    return key


def xml_items(response, root: str, item: str) -> list[dict]:
    """Parses an XML answer, checking the root and item element names of the spec."""
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.get_data(as_text=True).startswith('<?xml version="1.0" encoding="utf-8"?>')
    tree = ET.fromstring(response.get_data())
    assert tree.tag == root
    assert all(child.tag == item for child in tree)
    return [{field.tag: field.text for field in child} for child in tree]


def items(response, fmt: str, root: str, item: str) -> list[dict]:
    if fmt == "xml":
        return xml_items(response, root, item)
    assert response.content_type == "application/json; charset=utf-8"
    return response.get_json()


def post(client, fmt: str, **form):
    return client.post(f"{BASE}/requests.{fmt}", data=form)


# --- services -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_are_the_categories(client, fmt) -> None:
    services = items(client.get(f"{BASE}/services.{fmt}"), fmt, "services", "service")
    assert [list(s) for s in services] == [SPEC_SERVICE] * len(services)
    pothole = next(s for s in services if s["service_code"] == "nid-de-poule")
    metadata = "false" if fmt == "xml" else False
    assert pothole == {
        "service_code": "nid-de-poule",
        "service_name": "Nid-de-poule",
        "description": "Nid-de-poule",
        "metadata": metadata,
        "type": "realtime",
        "keywords": "Nid-de-poule, Pothole",
        "group": "Voirie",
    }
    assert {s["service_code"] for s in services} >= {"lampadaire", "graffiti", "idee"}


def test_service_definition_and_unknown_service(client) -> None:
    assert client.get(f"{BASE}/services/lampadaire.json").get_json() == {
        "service_code": "lampadaire",
        "attributes": [],
    }
    tree = ET.fromstring(client.get(f"{BASE}/services/lampadaire.xml").get_data())
    assert [child.tag for child in tree] == ["service_code", "attributes"]
    for fmt in ("json", "xml"):
        response = client.get(f"{BASE}/services/piscine.{fmt}")
        assert response.status_code == 404
        errors = items(response, fmt, "errors", "error")
        assert [list(e) for e in errors] == [SPEC_ERROR]
        assert str(errors[0]["code"]) == "404"


# --- posting --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_tool_files_a_report(client, rt, api_key, fmt) -> None:
    response = post(
        client,
        fmt,
        api_key=api_key,
        service_code="lampadaire",
        description="Lampadaire éteint depuis 3 jours",
        email="jean@example.org",
        first_name="Jean",
        last_name="Dupont",
        phone="0612345678",
        media_url="https://crm.example.org/photo/1.jpg",
        **POTERIE,
    )
    assert response.status_code == 200
    [created] = items(response, fmt, "service_requests", "request")
    assert list(created) == ["service_request_id", "token", "service_notice", "account_id"]
    number = int(created["service_request_id"])
    with rt.db.reading() as session:
        report = get_report(session, number)
        events = report_events(session, number)
    assert (report.channel, report.citizen_id, report.status) == ("open311", None, "new")
    assert report.description == "Lampadaire éteint depuis 3 jours"
    assert (report.lat, report.lon, report.geolocated) == (48.1246, -1.2082, True)
    note = events[0].internal_note
    assert note == "Filed through Open311 by CRM voirie. Photo: https://crm.example.org/photo/1.jpg"
    assert "Dupont" not in repr(report) and "jean@" not in note  # contact details not kept
    token = items(
        client.get(f"{BASE}/tokens/{created['token']}.{fmt}"), fmt, "service_requests", "request"
    )
    assert token == [{"service_request_id": str(number), "token": created["token"]}]
    assert [list(t) for t in token] == [SPEC_TOKEN]


def test_an_address_string_is_kept_to_place_later(client, rt, api_key) -> None:
    response = post(
        client,
        "json",
        api_key=api_key,
        service_code="nid-de-poule",
        address_string="12 rue de la Poterie",
    )
    number = int(response.get_json()[0]["service_request_id"])
    with rt.db.reading() as session:
        report = get_report(session, number)
    assert (report.address, report.lat, report.geolocated) == ("12 rue de la Poterie", None, False)


BAD_POSTS = [
    ("no api_key", {"service_code": "lampadaire", **POTERIE}, None, 403, ["Invalid api_key"]),
    (
        "wrong api_key",
        {"service_code": "lampadaire", **POTERIE},
        "wl_wrong",
        403,
        ["Invalid api_key"],
    ),
    ("no service_code", dict(POTERIE), "KEY", 400, ["service_code is required."]),
    (
        "unknown service_code",
        {"service_code": "piscine", **POTERIE},
        "KEY",
        400,
        ["service_code piscine is not a service here."],
    ),
    (
        "no location",
        {"service_code": "lampadaire"},
        "KEY",
        400,
        ["A location is required: lat and long, or address_string."],
    ),
    (
        "lat without long",
        {"service_code": "lampadaire", "lat": "48.12"},
        "KEY",
        400,
        ["lat and long must both be decimal degrees."],
    ),
    (
        "not a number",
        {"service_code": "lampadaire", "lat": "north", "long": "-1.2"},
        "KEY",
        400,
        ["lat and long must both be decimal degrees."],
    ),
    (
        "outside the town",
        {"service_code": "lampadaire", "lat": "48.8566", "long": "2.3522"},
        "KEY",
        400,
        ["This place is outside Vitré."],
    ),
    (
        "address too long",
        {"service_code": "lampadaire", "address_string": "12 rue de la Poterie " + "*" * 250},
        "KEY",
        400,
        ["address_string is longer than 255 characters."],
    ),
    (
        "too long as sent, control characters counted (schemathesis found it)",
        {
            "service_code": "lampadaire",
            "address_string": "\x17" + "*" * 255,
            "description": "\x17" * 4001,
        },
        "KEY",
        400,
        [
            "address_string is longer than 255 characters.",
            "description is longer than 4000 characters.",
        ],
    ),
    (
        "two problems",
        {"service_code": "piscine"},
        "KEY",
        400,
        [
            "service_code piscine is not a service here.",
            "A location is required: lat and long, or address_string.",
        ],
    ),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("label", "form", "key", "status", "descriptions"), BAD_POSTS, ids=[row[0] for row in BAD_POSTS]
)
def test_bad_posts_are_refused_with_the_spec_errors(
    client, rt, api_key, fmt, label, form, key, status, descriptions
) -> None:
    if key == "KEY":
        form = {**form, "api_key": api_key}
    elif key:
        form = {**form, "api_key": key}
    response = post(client, fmt, **form)
    assert response.status_code == status
    errors = items(response, fmt, "errors", "error")
    assert [str(e["code"]) for e in errors] == [str(status)] * len(descriptions)
    assert all(e["description"].startswith(d) for e, d in zip(errors, descriptions, strict=True))
    with rt.db.reading() as session:
        assert session.get(Report, 1001) is None


def test_a_revoked_key_no_longer_works(client, rt, api_key) -> None:
    with rt.db.transaction() as session:
        assert revoke_key(session, "CRM voirie")
    response = post(client, "json", api_key=api_key, service_code="lampadaire", **POTERIE)
    assert response.status_code == 403


# --- reading --------------------------------------------------------------------------


@pytest.fixture
def three_reports(rt):
    """#1001 new, #1002 in progress with a public message, #1003 resolved; one old."""
    with rt.db.transaction() as session:
        fresh = make_report(session, "nid-de-poule", description="Trou, appelez le 0612345678")
        working = make_report(session, "lampadaire", description="Lampe")
        done = make_report(session, "graffiti", description="Tag")
        old = make_report(
            session, "graffiti", description="Vieux", created_at=_now() - timedelta(days=120)
        )
        numbers = fresh.id, working.id, done.id, old.id
    with rt.db.transaction() as session:
        reports.change_status(session, numbers[1], "acknowledged", message="Bien reçu")
        reports.change_status(
            session, numbers[1], "in_progress", message="Équipe demain", note="interne"
        )
        reports.add_note(session, numbers[1], "note interne", agent_id=None)
        reports.change_status(session, numbers[2], "resolved", message="Effacé")
    return numbers


def _now():
    from models.db import utcnow

    return utcnow()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_requests_have_the_spec_fields_and_statuses(client, three_reports, fmt) -> None:
    fresh, working, done, _old = three_reports
    found = items(client.get(f"{BASE}/requests.{fmt}"), fmt, "service_requests", "request")
    assert [list(r) for r in found] == [SPEC_REQUEST] * 3  # the 120-day-old one is left out
    by_id = {int(r["service_request_id"]): r for r in found}
    assert set(by_id) == {fresh, working, done}
    assert by_id[fresh]["status"] == "open" and by_id[fresh]["status_notes"] in (None, "")
    assert by_id[working]["status"] == "open"
    assert by_id[working]["status_notes"] == "Équipe demain"  # the last public words
    assert by_id[done]["status"] == "closed" and by_id[done]["status_notes"] == "Effacé"
    assert by_id[working]["agency_responsible"] == "Éclairage public"
    assert by_id[working]["requested_datetime"].endswith("Z")
    assert by_id[done]["expected_datetime"] in (None, "")
    # The citizen's words go only to a tool with a key.
    assert all(r["description"] in (None, "") for r in found)


def test_a_key_holder_reads_the_descriptions(client, three_reports, api_key) -> None:
    fresh = three_reports[0]
    found = client.get(f"{BASE}/requests/{fresh}.json?api_key={api_key}").get_json()
    assert found[0]["description"] == "Trou, appelez le 0612345678"
    assert client.get(f"{BASE}/requests/{fresh}.json?api_key=nope").status_code == 403


FILTERS = [
    ("status open", "status=open", ["fresh", "working"]),
    ("status closed", "status=closed", ["done"]),
    ("both statuses", "status=open,closed", ["fresh", "working", "done"]),
    ("by service code", "service_code=graffiti,lampadaire", ["working", "done"]),
    ("ids win over filters", "service_request_id={old},{fresh}&status=closed", ["fresh", "old"]),
    ("an old window", "start_date={start}&end_date={end}", ["old"]),
    ("the future", "start_date=2999-01-01T00:00:00Z", []),
    ("start after end", "start_date=2026-02-01&end_date=2026-01-01", []),
]


@pytest.mark.parametrize(("label", "query", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_request_filters(client, three_reports, label, query, expected) -> None:
    names = dict(zip(["fresh", "working", "done", "old"], three_reports, strict=True))
    start = (_now() - timedelta(days=130)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (_now() - timedelta(days=110)).strftime("%Y-%m-%d")
    url = f"{BASE}/requests.json?" + query.format(start=start, end=end, **names)
    found = client.get(url).get_json()
    assert sorted(int(r["service_request_id"]) for r in found) == sorted(names[n] for n in expected)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/requests.{fmt}?status=pending", 400),
        ("/requests.{fmt}?start_date=yesterday", 400),
        ("/requests.{fmt}?start_date=2026-02-30", 400),
        ("/requests.{fmt}?service_request_id=12a", 400),
        ("/requests/99999.{fmt}", 404),
        ("/requests/abc.{fmt}", 404),
        ("/requests/99999999999999999999.{fmt}", 404),
        ("/requests/%C2%B2.{fmt}", 404),
        ("/tokens/forged.{fmt}", 404),
        ("/nothing.{fmt}", 404),
    ],
)
def test_bad_reads_answer_the_spec_errors(client, fmt, url, status) -> None:
    response = client.get(BASE + url.format(fmt=fmt))
    assert response.status_code == status
    errors = items(response, fmt, "errors", "error")
    assert [list(e) for e in errors] == [SPEC_ERROR] and str(errors[0]["code"]) == str(status)


def test_one_request_by_number(client, three_reports) -> None:
    working = three_reports[1]
    found = xml_items(client.get(f"{BASE}/requests/{working}.xml"), "service_requests", "request")
    assert [r["service_request_id"] for r in found] == [str(working)]
    assert found[0]["lat"] == "48.1246" and found[0]["long"] == "-1.2082"


def test_discovery(client) -> None:
    body = client.get(f"{BASE}/discovery.json").get_json()
    endpoint = body["endpoints"][0]
    assert endpoint["url"] == "https://webleads.example.org/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    tree = ET.fromstring(client.get(f"{BASE}/discovery.xml").get_data())
    assert [f.text for f in tree.iter("format")] == ["text/xml", "application/json"]


# --- keys from the command line ---------------------------------------------------------


def test_api_keys_from_the_command_line(app, client) -> None:
    runner = app.test_cli_runner()
    out = runner.invoke(cli, ["api-key", "create", "CRM"], catch_exceptions=False).output
    key = out.strip().splitlines()[-1]
    assert key.startswith("wl_") and len(key) > 40
    assert "exists" in runner.invoke(cli, ["api-key", "create", "CRM"]).output
    listing = runner.invoke(cli, ["api-key", "list"]).output
    assert "CRM" in listing and key[:9] in listing and key not in listing
    assert post(client, "json", api_key=key, service_code="graffiti", **POTERIE).status_code == 200
    assert "last used: 20" in runner.invoke(cli, ["api-key", "list"]).output
    assert "revoked" in runner.invoke(cli, ["api-key", "revoke", "CRM"]).output
    assert post(client, "json", api_key=key, service_code="graffiti", **POTERIE).status_code == 403
    assert runner.invoke(cli, ["api-key", "revoke", "CRM"]).exit_code != 0


# --- the OpenAPI description, checked by schemathesis ---------------------------------


def test_the_api_matches_its_openapi_description(sqlite_app) -> None:
    """Fuzzes every operation with valid and invalid input; every answer must match."""
    rt = sqlite_app.extensions["webleads"]
    with rt.db.transaction() as session:
        make_report(session, "nid-de-poule")
        _, key = create_key(session, "schemathesis")
    schema = schemathesis.openapi.from_wsgi(f"{BASE}/openapi.json", sqlite_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation.as_strategy(mode), key)


def fuzz(strategy, key: str) -> None:
    @given(case=strategy)
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        posting = case.method == "POST" and isinstance(case.body, dict)
        # Half the posts carry a real key, so the happy path is fuzzed too.
        if posting and "api_key" in case.body and len(str(case.body)) % 2 == 0:
            case.body["api_key"] = key
        # A schema-valid place may still be outside the town's outline: refused, rightly.
        excluded = [positive_data_acceptance] if case.method == "POST" else []
        case.call_and_validate(excluded_checks=excluded)

    check()
