"""A report filed at the counter or on the phone (/console/reports/new): the resident gets
the number and the news on their channel, as the chat's users do; the agent is named in
the history and the audit log; the form keeps what was typed when something is wrong."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.cli import cli
from models.catalog import category_by_code
from models.citizen import find_citizen
from models.messaging import messages_for_report
from models.report import count_reports, get_report, media_of_report, report_events
from services.audit import audit_rows
from services.media import photo_store
from tests.helpers import consistent, csrf_token, jpeg_with_gps, log_in_as, make_agent, run_jobs
from tests.sms_support import Phone

NEW = "/console/reports/new"


def category_id(rt, code: str = "nid-de-poule") -> int:
    with rt.db.reading() as session:
        return category_by_code(session, code).id


def desk(app, *, services=("voirie",)):
    """Claire Martin, an agent of the roads service, logged in with the console in French."""
    rt = app.extensions["webleads"]
    client = app.test_client()
    agent = make_agent(rt, "claire@vitre.example", name="Claire Martin", services=services)
    log_in_as(client, agent)
    client.get("/console/language/fr")
    return rt, client


def file(client, photo: bytes | None = None, **fields):
    data = {"csrf_token": csrf_token(client), "way_in": "counter", "contact": "none", **fields}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo), "photo.jpg")
    return client.post(NEW, data=data, content_type="multipart/form-data")


def filed_number(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_a_resident_at_the_counter_gets_the_number_and_the_news_by_sms(sms_app, twilio):
    rt, client = desk(sms_app)
    form = client.get(NEW).get_data(as_text=True)
    assert "Nouveau signalement" in form and 'name="address_sms"' in form
    response = file(
        client,
        photo=jpeg_with_gps(),
        category=category_id(rt),
        description="Trou profond devant la boulangerie",
        lat="48.124600",
        lon="-1.208200",
        contact="sms",
        address_sms="06 12 34 56 78",
    )
    number = filed_number(response)
    run_jobs(rt)  # the photo is decoded by the worker, as the link page's are
    with rt.db.reading() as session:
        report = get_report(session, number)
        resident = find_citizen(session, "sms", "+33612345678")
        photos = media_of_report(session, number)
        created = report_events(session, number)[0]
        audit = [r for r in audit_rows(session) if r.report == f"#{number}"]
    assert (report.channel, report.citizen_id, report.geolocated) == ("counter", resident.id, True)
    assert (created.kind, created.citizen_id) == ("created", resident.id)
    assert [(r.agent, r.action) for r in audit] == [("claire@vitre.example", "created")]
    assert len(photos) == 1  # stored without its EXIF (the GPS of the phone that took it)
    kept = Image.open(io.BytesIO(photo_store(rt.settings).get(photos[0].path)))
    assert not kept.getexif()
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "Déposé au guichet par Claire Martin" in page
    assert "Guichet" in client.get("/console/dashboard").get_data(as_text=True)

    phone = Phone(sms_app, twilio, "+33612345678")
    (ack,) = phone.inbox()  # the pin and the photo are there: no link to add them
    assert f"#{number} is registered" in ack
    client.post(
        f"/console/reports/{number}/status",
        data={
            "csrf_token": csrf_token(client),
            "status-status": "in_progress",
            "status-message": "Une équipe passe lundi.",
        },
    )
    (news,) = phone.inbox()
    assert f"#{number}" in news and "Une équipe passe lundi." in news
    assert f"#{number}" in phone.says(f"#{number}")  # and they follow it from their phone
    consistent(rt)


def test_a_call_with_no_contact_is_filed_for_nobody_to_hear(app):
    rt, client = desk(app)
    number = filed_number(
        file(
            client,
            way_in="phone_call",
            category=category_id(rt),
            description="Nid-de-poule rue de la Poterie",
            place="devant la mairie annexe",
        )
    )
    with rt.db.reading() as session:
        report = get_report(session, number)
        sent = messages_for_report(session, number)
    assert (report.channel, report.citizen_id, sent) == ("phone_call", None, [])
    # No geocoder: the place is kept as typed, flagged for an agent to place.
    assert (report.address, report.lat, report.geolocated) == (
        "devant la mairie annexe",
        None,
        False,
    )
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "Déposé par téléphone par Claire Martin" in page and "lieu à préciser" in page
    consistent(rt)


def test_an_agent_files_only_in_their_services_and_communes(app, communes):
    rt, runner = communes
    _rt, client = desk(app)

    assert runner.invoke(cli, ["commune", "attach", "claire@vitre.example", "35360"]).exit_code == 0
    streetlight = category_id(rt, "lampadaire")
    page = client.get(NEW).get_data(as_text=True)
    assert f'value="{streetlight}"' not in page  # the lighting service's: not offered
    refused = file(client, category=streetlight, description="Lampadaire éteint",
                   place="rue de la Poterie", keep_typed="1")  # fmt: skip
    assert refused.status_code == 400 and "Choisissez une catégorie." in refused.get_data(True)
    # A pothole in Étrelles goes to Étrelles' own roads service: not hers.
    refused = file(client, category=category_id(rt), description="Trou à Étrelles",
                   lat="48.12", lon="-1.15")  # fmt: skip
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "en dehors des vôtres" in text
    assert "Trou à Étrelles" in text
    with rt.db.reading() as session:
        assert not [r for r in audit_rows(session) if r.action == "created"]


@pytest.fixture
def geo_app(database_url, tmp_path, twilio, addok):
    """The SMS app with a real addok geocoder: the network guard (conftest) fails a test
    during which it was asked inside a transaction."""
    from tests.sms_support import make_sms_app

    app = make_sms_app(database_url, tmp_path, twilio, GEOCODER="ban",
                       GEOCODER_URL=addok.base_url)  # fmt: skip
    yield app
    app.extensions["webleads"].db.dispose()


def test_a_typed_place_is_looked_up_or_kept_as_typed_when_unknown(geo_app):
    rt, client = desk(geo_app)
    pothole = {"category": category_id(rt), "description": "Trou profond"}
    number = filed_number(file(client, place="12 rue de la Poterie", **pothole))
    unknown = file(client, place="derrière le vieux lavoir", **pothole)
    assert unknown.status_code == 400 and "n’a pas été trouvé" in unknown.get_data(True)
    kept = filed_number(file(client, place="derrière le vieux lavoir", keep_typed="1", **pothole))
    with rt.db.reading() as session:
        found, typed = get_report(session, number), get_report(session, kept)
    assert found.geolocated and found.lat == pytest.approx(48.1246, abs=0.001)
    assert "Poterie" in found.address
    assert (typed.address, typed.lat, typed.geolocated) == ("derrière le vieux lavoir", None, False)


def jpeg(size: int) -> bytes:
    return b"\xff\xd8\xff" + b"\0" * size


@pytest.mark.parametrize(
    ("label", "fields", "photo", "says"),
    [
        ("no category", {"category": ""}, None, "Choisissez une catégorie."),
        ("too long", {"description": "x" * 4001}, None, "La description est trop longue"),
        ("bad number", {"address_sms": "12"}, None, "Ce n’est pas un numéro de mobile"),
        ("30 MB photo", {}, jpeg(30 * 1024 * 1024), "Cette photo est trop grande"),
        ("not a photo", {}, b"%PDF-1.4", "Ce fichier n’est pas une photo"),
        ("outside", {"place": "", "lat": "48.8566", "lon": "2.3522"}, None, "en dehors de"),
    ],
)  # fmt: skip
def test_bad_inputs_are_refused_politely_and_keep_what_was_typed(
    sms_app, label, fields, photo, says
):
    rt, client = desk(sms_app)
    typed = {"category": str(category_id(rt)), "description": "Trou profond près du lavoir",
             "place": "12 rue de la Poterie", "contact": "sms", "address_sms": "06 12 34 56 78",
             **fields}  # fmt: skip
    response = file(client, photo=photo, **typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:2000]
    assert says in page
    for name in ("description", "place", "address_sms", "lat"):
        if typed.get(name) and len(typed[name]) < 100:
            assert f"{typed[name]}</textarea>" in page or f'value="{typed[name]}"' in page
    with rt.db.reading() as session:
        assert count_reports(session) == 0


def test_an_email_channel_is_offered_once_registered(sqlite_app):
    """The choices come from the channel registry: a channel whose spec says agents may
    type an e-mail address for it is offered, and the resident is reached there."""
    from services.channels import Channel, register, unregister

    rt, client = desk(sqlite_app)
    assert 'type="email"' not in client.get(NEW).get_data(as_text=True)

    def address(text: str, region: str) -> str | None:
        return text.lower() if "@" in text else None

    register(Channel(name="testmail", labels={"en": "e-mail"}, typed_by_agent="email",
                     identity=address))  # fmt: skip
    try:
        form = client.get(NEW).get_data(as_text=True)
        assert 'type="email"' in form and "Adresse e-mail" in form
        typed = {"category": category_id(rt), "description": "Tag sur le mur de l’école",
                 "place": "école Jean Guéhenno", "keep_typed": "1",
                 "contact": "testmail"}  # fmt: skip
        refused = file(client, address_testmail="pas une adresse", **typed)
        assert "Ce n’est pas une adresse e-mail." in refused.get_data(as_text=True)
        number = filed_number(file(client, address_testmail="Marie@Example.org", **typed))
        with rt.db.reading() as session:
            (ack,) = messages_for_report(session, number)
        assert (ack.channel, ack.address) == ("testmail", "marie@example.org")
        assert f"#{number}" in ack.payload["text"]
    finally:
        unregister("testmail")
