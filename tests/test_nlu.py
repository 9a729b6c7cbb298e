"""One sentence: a free message read as a report (category and place), on every channel,
with its unsure, not-a-report and emergency paths; the threshold; the CLI."""

from __future__ import annotations

import pytest

from tests.conftest import _make_app
from tests.helpers import TalkingCitizen


@pytest.fixture
def local_rt(database_url, tmp_path):
    """The app with GEOCODER=local: the demo's BAN addresses, no network."""
    app = _make_app(database_url, tmp_path, GEOCODER="local")
    yield app.extensions["webleads"]
    app.extensions["webleads"].db.dispose()


def test_dev_channel_one_sentence_files_a_report_with_its_place(local_rt) -> None:
    marie = TalkingCitizen(local_rt)
    question = marie.say("le lampadaire devant le 12 rue de la Poterie clignote depuis lundi")
    assert question[-1].text == "Lampadaire en panne, 12 Rue de la Poterie : c'est bien ça ?"
    assert [label for _, label in question[-1].choices] == ["Oui", "Une autre catégorie"]
    assert "photo" in marie.texts("oui")  # the photo is what is missing
    summary = marie.texts(choice="skip")
    assert "Catégorie : Lampadaire en panne" in summary
    assert "Description : le lampadaire devant le 12 rue de la Poterie clignote" in summary
    assert "Lieu : 12 Rue de la Poterie 35500 Vitré" in summary
    assert "enregistré" in marie.texts(choice="yes")


def test_sms_first_message_files_in_three_exchanges(local_rt) -> None:
    phone = TalkingCitizen(local_rt, "+33612345678", channel="sms", name=None)
    first = phone.say("ya un gros tro bd des rochers")
    assert first[-1].text.startswith("Nid-de-poule, Boulevard des Rochers : c'est bien ça ?")
    summary = phone.texts("oui")
    assert "ajouter une photo avec le lien" in summary
    assert "Lieu : Boulevard des Rochers 35500 Vitré" in summary
    done = phone.texts("1")
    assert "enregistré" in done and "/r/" in done  # the link to add a photo and a pin
