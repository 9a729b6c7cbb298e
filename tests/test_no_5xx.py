"""No URL of the app answers 5xx, whatever its path values and query string.

Every GET route of `app.url_map` (new ones included, without editing this file) is called
with valid and invalid path values, with no query, with each odd parameter alone and with
bundles of them, logged in as an admin, as an agent and logged out. The simulator's JSON
actions get bodies of the wrong shape. A 4xx or a redirect is a fine answer; a 5xx, or an
exception (the test app propagates them), is a failure listed with its URL.
"""

from __future__ import annotations

import itertools
from urllib.parse import quote, urlencode

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter
from wtforms import IntegerField
from wtforms.fields.core import UnboundField

from console import forms as console_forms
from models.api_key import create_key
from models.console import ResponseTemplate
from models.report import Report, add_media, attach_media
from models.zone import PILOT, Zone
from services import links, reports
from tests.helpers import (
    TalkingCitizen,
    a_photo,
    admin_id,
    csrf_token,
    log_in_as,
    make_agent,
    make_report,
)

HUGE = "99999999999999999999"  # past any database integer
# Values of path parameters, by parameter name: valid ones first (filled in per app).
PATH_VALUES = {
    "section": ["categories", "services", "agents", "templates", "zones", "nope", "%0d%0a"],
    "code": ["fr", "en", "nid-de-poule", "xx", "%00", "x" * 300],
    "document": ["poster", "flyer", "guide", "nope"],
    "filename": ["console/console.js", "nope.css", "../../../etc/passwd", "%2e%2e/x"],
    "number": ["abc", HUGE, "-1", "%C2%B2"],
    "token": ["forged", "1-x", "%0d%0a"],
}
UNKNOWN_NAME = ["x", "0", HUGE, "%0d%0a", "é"]
# Paths no route takes: answered 404 by whoever answers them.
UNROUTED = ["/nope", "/console/nope", "/console/reports/1/nope", "/open311/v2/nope.json", "/r/"]
INTEGERS = ["0", "1", HUGE]

# Query parameters of the wrong type, of the wrong shape, or hostile.
ODD = [
    ("endpoint", "x"),
    ("_method", "DELETE"),
    ("_external", "1"),
    ("_anchor", "x"),
    ("after", "abc"),
    ("after", "2026-13-45T99:00:00|x"),
    ("after", "|"),
    ("after", HUGE),
    ("before", "abc"),
    ("before", "-1"),
    ("page", "abc"),
    ("page", "-1"),
    ("next", "/console/reports\r\nSet-Cookie: stolen=1"),
    ("next", "/console/\n"),
    ("next", "https://evil.example/"),
    ("next", "//evil.example/"),
    ("next", "/\\evil.example"),
    ("next", "javascript:alert(1)"),
    ("status", "nope"),
    ("status", "open,closed,pending"),
    ("service", "abc"),
    ("service", HUGE),
    ("category", "abc"),
    ("category", HUGE),
    ("zone", "abc"),
    ("zone", HUGE),
    ("channel", "nope"),
    ("sort", "nope"),
    ("mine", "x"),
    ("overdue", "x"),
    ("q", "%_'\"<script>"),
    ("q", "\x00"),
    ("q", "x" * 5000),
    ("q", f"#{HUGE}"),
    ("q", "፩"),  # a digit to str.isdigit, not to int()
    ("lat", "abc"),
    ("lon", "nan"),
    ("lat", "1e999"),
    ("format", "xml"),
    ("format", "nope"),
    ("days", "abc"),
    ("days", "-1"),
    ("days", HUGE),
    ("since", "abc"),
    ("since", "99999-01-01"),
    ("until", "2026-02-30"),
    ("code", "x" * 500),
    ("api_key", "wrong"),
    ("start_date", "yesterday"),
    ("end_date", "9999-12-31T23:59:59Z"),
    ("start_date", "0001-01-01T00:00:00+14:00"),
    ("service_request_id", f"1,x,{HUGE}"),
    ("service_code", "nope"),
    ("lang", "xx"),
    ("limit", "abc"),
    ("id", "abc"),
]
# Raw query strings a browser or a script may send as they are.
RAW = [
    "%ff%fe=%ff",
    "next=%0d%0aLocation:%20http://evil",
    "&&==&",
    "a[]=1&a[]=2",
]


def bundles() -> list[str]:
    """A few query strings that each carry one odd value of every parameter name."""
    by_name: dict[str, list[str]] = {}
    for name, value in ODD:
        by_name.setdefault(name, []).append(value)
    widest = max(len(v) for v in by_name.values())
    return [
        urlencode([(name, values[i % len(values)]) for name, values in by_name.items()])
        for i in range(widest)
    ]


def queries(single: bool) -> list[str]:
    """No query, the bundles and the raw ones; with `single`, each odd value alone too."""
    names = list(dict(ODD))
    # PostgreSQL takes no NUL in text: each name with one, and all of them at once.
    nul = [urlencode([(name, "\x00")]) for name in names]
    alone = [*(urlencode([pair]) for pair in ODD), *nul] if single else []
    return ["", *alone, *bundles(), *RAW, urlencode([(name, "\x00") for name in names])]


def path_values(app, rule, known: dict) -> list[dict]:
    """Every combination of valid and invalid values for the rule's path parameters."""
    choices = []
    for name in sorted(rule._converters):  # the defaults of a rule are not in its path
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            values = [*sorted(converter.items), "nope"]
        elif isinstance(converter, IntegerConverter):
            values = [*known.get(name, []), *INTEGERS]
        elif isinstance(converter, PathConverter):
            values = PATH_VALUES["filename"]
        else:
            values = [*known.get(name, []), *PATH_VALUES.get(name, UNKNOWN_NAME)]
        choices.append([(name, v) for v in dict.fromkeys(str(v) for v in values)])
    return [dict(combo) for combo in itertools.product(*choices)]


def get_urls(app, known: dict) -> list[list[str]]:
    """The URLs of every GET route, one list per route: all valid path values first."""
    return [*(urls for _rule, urls in get_routes(app, known)), *([path] for path in UNROUTED)]


def get_routes(app, known: dict) -> list[tuple]:
    """Every GET rule with its URLs (all valid path values first)."""
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods:
            continue
        urls = []
        for values in path_values(app, rule, known):
            path = rule.rule
            for name, value in values.items():
                path = path.replace(f"<{_spec(rule, name)}>", quote(value, safe="/%"))
            urls.append(path)
        routes.append((rule, urls))
    return routes


def _spec(rule, name: str) -> str:
    """The `<converter:name>` text of a parameter in the rule, as written."""
    start = rule.rule.index(f":{name}>") if f":{name}>" in rule.rule else None
    if start is None:
        return name
    opening = rule.rule.rindex("<", 0, start)
    return rule.rule[opening + 1 : start + len(name) + 1]


@pytest.fixture
def town(app):
    """Something behind every page: reports of every kind, a photo, zones, a key, a link."""
    rt = app.extensions["webleads"]
    agent = make_agent(rt, "voirie@vitre.example", name="Léa Martin")
    marie = TalkingCitizen(rt, "marie", name="Marie")
    pinned = marie.file_report()
    paul = TalkingCitizen(rt, "paul", name="Paul")
    typed = paul.file_report(location=None)
    with rt.db.transaction() as session:
        reports.change_status(session, pinned, "in_progress", message="Équipe demain")
        reports.reply(session, typed, "Bien reçu", agent_id=agent)
        media_id = add_media(session, a_photo(), None)
        attach_media(session, [media_id], pinned)
        other = make_report(session, "graffiti", lat=None, lon=None).id
        reports.change_status(session, other, "closed", message="Hors compétence")
        session.add(ResponseTemplate(title="Reçu", body="Bonjour {name}, {ref} est reçu."))
        zone = Zone(name="Centre", kind=PILOT, geometry=SQUARE)
        session.add(zone)
        key, _ = create_key(session, "CRM")
        session.flush()
        ids = {"zone_id": zone.id, "key_id": key.id}
    secret = rt.settings.SECRET_KEY
    return {
        "number": [pinned, typed, other],
        "media_id": [media_id],
        "item_id": [1],
        "token": [
            links.mint_token(secret, typed, paul.citizen.id),
            links.mint_view_token(secret, typed),
            URLSafeSerializer(secret, salt="open311-token").dumps(pinned),
        ],
        **{name: [value] for name, value in ids.items()},
        "agent": agent,
    }


SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-1.215, 48.120], [-1.200, 48.120], [-1.200, 48.128], [-1.215, 48.128],
                     [-1.215, 48.120]]],
}  # fmt: skip


def errors_of(client, calls) -> dict[str, list[str]]:
    """Calls every (URL, query string); the URLs that answered 5xx or raised, by error."""
    failures: dict[str, list[str]] = {}
    for url, query in calls:
        target = f"{url}?{query}" if query else url
        try:
            response = client.get(target)
            status = response.status_code
            response.close()  # a file sent as it is read
        except Exception as exc:  # the test app propagates a view's error
            failures.setdefault(f"{type(exc).__name__}: {str(exc)[:200]}", []).append(target)
            continue
        if status >= 500:
            failures.setdefault(str(status), []).append(target)
    return failures


def summary(failures: dict[str, list[str]]) -> str:
    """Each error once, with how many URLs gave it and the shortest of them."""
    return "\n".join(
        f"{error}\n    {len(targets)} URL(s), e.g. "
        + "\n    ".join(t[:300] for t in sorted(targets, key=len)[:4])
        for error, targets in failures.items()
    )


@pytest.mark.parametrize("who", ["admin", "agent", "logged out"])
def test_no_get_url_answers_5xx(app, town, who) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    if who != "logged out":
        log_in_as(client, admin_id(rt) if who == "admin" else town["agent"])
    routes = get_urls(app, town)
    assert len(routes) > 30 and sum(map(len, routes)) > 100  # the app's routes were found
    # Each odd parameter alone on each route, for the admin who reaches every page; the
    # bundles on every path value, for everyone.
    calls = []
    for first, *others in routes:
        calls += [(first, query) for query in queries(single=who == "admin")]
        calls += [(url, query) for url in others for query in queries(single=False)]
    failures = errors_of(client, calls)
    assert not failures, summary(failures)


@pytest.mark.parametrize("who", ["admin", "logged out"])
def test_path_names_in_the_query_string_answer_no_5xx(app, town, who) -> None:
    # `/reports/1005?number=abc` was a 500: the public site built its language link from
    # the query string over the path's own values.
    rt = app.extensions["webleads"]
    client = app.test_client()
    if who == "admin":
        log_in_as(client, admin_id(rt))
    calls = []
    for rule, (first, *_others) in get_routes(app, town):
        names = sorted(rule.arguments)
        for value in ("abc", HUGE, "1", "\x00"):
            calls += [(first, urlencode([(name, value)])) for name in names]
            calls.append((first, urlencode([(name, value) for name in names])))
    assert len(calls) > 50
    failures = errors_of(client, calls)
    assert not failures, summary(failures)


# The simulator's actions read JSON the page builds; a script may send anything.
SIMULATOR_BODIES = [
    {"location": ["north", "west"]},
    {"location": [None, 1]},
    {"location": [[48.1], [-1.2]]},
    {"location": [{"lat": 1}, 2]},
    {"location": ["1e999", "0"]},
    {"location": "48.1,-1.2"},
    {"location": [48.1246, -1.2082, 3]},
    {"choice": ["a", "b"]},
    {"choice": {"x": 1}},
    {"text": ["hello"]},
    {"text": None, "lang": ["fr"]},
    {"lang": {"fr": 1}},
    [1, 2],
    "hello",
    42,
    None,
]


@pytest.mark.parametrize("action", ["say", "language", "poll"])
def test_the_simulator_takes_any_json_without_5xx(app, town, action) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    headers = {"X-CSRFToken": csrf_token(client)}
    failures = []
    for body in SIMULATOR_BODIES:
        try:
            response = client.post(f"/console/simulator/{action}", json=body, headers=headers)
        except Exception as exc:
            failures.append(f"{body!r}: {type(exc).__name__}: {exc}")
            continue
        if response.status_code >= 500:
            failures.append(f"{body!r}: {response.status_code}")
    raw = client.post(f"/console/simulator/{action}", data=b"\xff{", headers=headers,
                      content_type="application/json")  # fmt: skip
    assert raw.status_code < 500
    assert failures == []


# --- numbers of any size in the console's forms -------------------------------------------


def console_page(client, number: int) -> str:
    return client.get(f"/console/reports/{number}").get_data(as_text=True)


def test_approving_a_photo_past_any_number_is_refused_politely(app, town) -> None:
    client = app.test_client()
    log_in_as(client, admin_id(app.extensions["webleads"]))
    number = town["number"][0]
    form = {"action": f"approve:{HUGE}", "csrf_token": csrf_token(client)}
    assert client.post(f"/console/reports/{number}/public", data=form).status_code == 303
    assert "Action inconnue." in console_page(client, number)


def test_merging_into_a_number_past_any_report_is_refused_politely(app, town) -> None:
    client = app.test_client()
    log_in_as(client, admin_id(app.extensions["webleads"]))
    number = town["number"][0]
    for target in (f"#{HUGE}", "9" * 5000):
        form = {"merge-target": target, "csrf_token": csrf_token(client)}
        assert client.post(f"/console/reports/{number}/merge", data=form).status_code == 303
        assert "Écrivez un numéro\u202f: #1042" in console_page(client, number)
    with app.extensions["webleads"].db.reading() as session:
        assert session.get(Report, number).status != "duplicate"


# Where each console form that takes a number is posted, its fields' prefix, and what else
# it needs to get as far as that number.
FORM_POSTS = {
    "AssignForm": ("/console/reports/{n}/assign", "assign-", {"service": "1"}),
    "RecategoriseForm": ("/console/reports/{n}/category", "recat-", {}),
    "MergeForm": ("/console/reports/{n}/merge", "merge-", {"target": "#1"}),
    "CategoryForm": ("/console/admin/categories/new", "", {
        "code": "fuzz", "name_fr": "Essai", "name_en": "Test", "service_id": "1",
        "kind": "problem", "sla_hours": "72", "position": "0"}),
    "AgentForm": ("/console/admin/agents/new", "", {
        "email": "fuzz@ville.fr", "role": "agent", "password": "correct horse battery"}),
    "TemplateForm": ("/console/admin/templates/new", "", {"title": "Essai", "body": "Bonjour"}),
}  # fmt: skip
# The fields that hold a number without being a number field of a form class.
OTHER_NUMBER_FIELDS = [
    ("MergeForm", "target", "#{}"),
    ("PublicForm", "action", "approve:{}"),
    ("PublicForm", "action", "withdraw:{}"),
]
FORM_POSTS["PublicForm"] = ("/console/reports/{n}/public", "", {})


def number_fields() -> list[tuple[str, str, str]]:
    """(form, field, how the number is written) for every field of console/forms.py that
    is read as a number (an IntegerField, or a choice coerced to one), and the others."""
    found = []
    for name, form in vars(console_forms).items():
        if not (isinstance(form, type) and issubclass(form, FlaskForm)):
            continue
        for field, unbound in vars(form).items():
            if not isinstance(unbound, UnboundField):
                continue
            coerced = unbound.kwargs.get("coerce", str) is not str
            if issubclass(unbound.field_class, IntegerField) or coerced:
                found.append((name, field, "{}"))
    return [*found, *OTHER_NUMBER_FIELDS]


def test_every_number_field_of_the_console_is_fuzzed() -> None:
    assert {form for form, _, _ in number_fields()} <= set(FORM_POSTS)
    assert len(number_fields()) >= 10


NUMBER_TEXT = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from([HUGE, "9" * 5000, "²", "٣", "፩", "-1", "0", "1e9", " 7 ", "", "None"]),
    st.text(alphabet="0123456789#²٣፩- x", max_size=30),
)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=st.sampled_from(number_fields()), value=NUMBER_TEXT)
def test_console_number_fields_of_any_size_answer_no_5xx(app, town, where, value) -> None:
    form_name, field, written = where
    path, prefix, needed = FORM_POSTS[form_name]
    client = app.test_client()
    log_in_as(client, admin_id(app.extensions["webleads"]))
    data = {f"{prefix}{name}": v for name, v in needed.items()}
    data[f"{prefix}{field}"] = written.format(value)
    data["csrf_token"] = csrf_token(client)
    url = path.format(n=town["number"][0])
    try:
        status = client.post(url, data=data).status_code
    except Exception as exc:  # the test app propagates a view's error
        pytest.fail(f"{url} {field}={value[:40]!r}: {type(exc).__name__}: {exc}")
    assert status < 500, (url, field, value[:40])
