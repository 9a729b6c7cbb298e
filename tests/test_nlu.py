"""One sentence: a free message read as a report (category and place), on every channel,
with its unsure, not-a-report and emergency paths; the threshold; the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.cli import cli as webleads_cli
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
    sure = "Lampadaire en panne, 12 Rue de la Poterie\u202f: c’est bien ça\u202f?"
    assert question[-1].text == sure
    assert [label for _, label in question[-1].choices] == ["Oui", "Une autre catégorie"]
    assert "photo" in marie.texts("oui")  # the photo is what is missing
    summary = marie.texts(choice="skip")
    assert "Catégorie\u202f: Lampadaire en panne" in summary
    assert "Description\u202f: le lampadaire devant le 12 rue de la Poterie clignote" in summary
    assert "Lieu\u202f: 12 Rue de la Poterie 35500 Vitré" in summary
    assert "enregistré" in marie.texts(choice="yes")


def test_sms_first_message_files_in_three_exchanges(local_rt) -> None:
    phone = TalkingCitizen(local_rt, "+33612345678", channel="sms", name=None)
    first = phone.say("ya un gros tro bd des rochers")
    sure = "Nid-de-poule, Boulevard des Rochers\u202f: c’est bien ça\u202f?"
    assert first[-1].text.startswith(sure)
    summary = phone.texts("oui")
    assert "ajouter une photo avec le lien" in summary
    assert "Lieu\u202f: Boulevard des Rochers 35500 Vitré" in summary
    done = phone.texts("1")
    assert "enregistré" in done and "/r/" in done  # the link to add a photo and a pin


def test_unsure_offers_the_likeliest_then_every_category(rt) -> None:
    marie = TalkingCitizen(rt)
    offer = marie.say("c est sale et abime")[-1]
    assert offer.text == "Est-ce l’un de ceux-ci\u202f?"
    values = [value for value, _ in offer.choices]
    assert len(values) == 4 and values[-1] == "guess:more"
    assert {"cat:nid-de-poule", "cat:dechets"} <= set(values)
    every = marie.say(choice="guess:more")[-1]
    assert len(every.choices) == 8  # the demo's seven problems and its idea
    asks = marie.texts(choice="cat:trottoir")
    assert "photo" in asks  # the message is the description: not asked again
    marie.say(choice="skip")
    marie.say(location=(48.1246, -1.2082))
    assert "Description\u202f: c est sale et abime" in marie.texts()  # nothing more, already there


def test_another_category_offers_the_others(rt) -> None:
    marie = TalkingCitizen(rt)
    marie.say("le trottoir est cassé devant chez moi")
    offer = marie.say(choice="guess:no")[-1]
    assert "cat:trottoir" not in [value for value, _ in offer.choices]
    marie.say(choice="guess:more")
    assert "photo" in marie.texts(choice="cat:espaces-verts")


@pytest.mark.parametrize("said", ["bonjour", "merci !", "test", "Bonjour, est-ce que la mairie "
                                  "est ouverte le samedi ?", "xqzvw blorf"])  # fmt: skip
def test_not_a_report_gets_the_welcome_and_files_nothing(rt, said) -> None:
    marie = TalkingCitizen(rt)
    replies = marie.say(said)
    assert replies[0].text.startswith("Bonjour Marie\u202f!")
    assert replies[-1].text == "Que souhaitez-vous signaler\u202f?"
    assert marie.state == "menu"


def _shipped_model():
    """The model trained from the shipped examples, a category for each of their keys."""
    from services.nlu.classifier import (
        BUILT_IN,
        CategoryWords,
        Model,
        shipped_keys,
        training_set,
    )

    keys = sorted(shipped_keys() - set(BUILT_IN))
    return Model.train(*training_set([CategoryWords(k, k, k, k) for k in keys]))


def test_politeness_alone_is_not_read_and_the_model_would_have_said_the_same() -> None:
    """A greeting or thanks alone (`Bonjour !`, `bjr`, `merci madame`) gets the welcome
    without the model being run: the model itself finds no report in any politeness word
    alone or any two of them, so the short cut moves no verdict."""
    from itertools import permutations

    from services.nlu.place import Gazetteer
    from services.nlu.reader import Reader, Verdict
    from services.nlu.text import POLITE, only_politeness

    reader = Reader(_shipped_model(), Gazetteer([]), None)
    # (`svp` is spelt out as `s il vous plait` first: the model reads it.)
    polite = sorted(w for w in POLITE if only_politeness(w))
    assert len(polite) >= 20
    said = [*polite, *(" ".join(pair) for pair in permutations(polite, 2))]
    said += ["Bonjour !", "bjr", "Merci, cordialement.", "slt"]
    for message in said:
        assert only_politeness(message), message
        assert reader.read(message).verdict == Verdict.NONE, message
    for message in ["bonjour, un trou", "merci de réparer le lampadaire", "", "12", "svp"]:
        assert not only_politeness(message), message


def test_an_emergency_gets_the_numbers_at_once_and_a_report_only_if_wanted(rt) -> None:
    phone = TalkingCitizen(rt, "+33612345678", channel="sms", name=None)
    first = phone.say("ça sent le gaz très fort rue de la poterie !!")
    assert "112" in first[0].text and "18 (pompiers)" in first[0].text
    assert "GRDF 0 800 47 33 33" in first[0].text
    assert "Enedis 09 726 750 35" in first[0].text  # Vitré's département, Ille-et-Vilaine
    assert first[-1].text.startswith("Si vous voulez aussi le signaler à la mairie")
    assert phone.state == "guess_pick"
    assert phone.texts("menu") == "Que souhaitez-vous signaler\u202f?"  # nothing was filed
    with rt.db.reading() as session:
        assert session.scalar(text("SELECT count(*) FROM report WHERE channel = 'sms'")) == 0


def test_a_message_at_the_menu_and_after_telegram_start_is_read(rt) -> None:
    tg = TalkingCitizen(rt, "3527065", channel="telegram")
    tg.say("/start")
    assert tg.state == "menu"
    question = tg.say("Lampadaire éteint rue Baudrairie depuis hier soir")[-1]
    assert question.text == "Lampadaire en panne, Rue Baudrairie\u202f: c’est bien ça\u202f?"
    assert [v for v, _ in question.choices] == ["guess:yes", "guess:no"]
    assert "photo" in tg.texts(choice="guess:yes")


def test_a_category_name_typed_at_the_menu_still_chooses_it(rt) -> None:
    marie = TalkingCitizen(rt)
    marie.say("bonjour")
    assert "Décrivez le problème" in marie.texts("Lampadaire")


def test_the_threshold_decides_one_question_or_a_choice() -> None:
    from services.nlu.reader import NONE_FROM, SURE, Verdict, decide

    def ranked(p, none=0.0):
        return [("lampadaire", p), ("trottoir", 1 - p - none), ("none", none)]

    assert SURE == 0.5
    assert decide(ranked(SURE), "un lampadaire", known=True) == Verdict.SURE
    assert decide(ranked(SURE - 0.01), "un lampadaire", known=True) == Verdict.UNSURE
    assert decide(ranked(0.45, none=NONE_FROM), "un lampadaire", known=True) == Verdict.NONE
    assert decide(ranked(0.9), "xqzvw", known=False) == Verdict.NONE
    assert decide(ranked(0.9), "odeur de gaz", known=True) == Verdict.EMERGENCY


def test_the_confidence_is_the_predicted_class_probability(rt) -> None:
    from services.nlu import reader

    with rt.db.reading() as session:
        reading = reader.read(session, rt.catalog.get(session), "lampadaire grillé")
    assert reading.category == "lampadaire"
    assert reading.confidence == max(p for _, p in reading.ranked) >= 0.5


def invoke(rt_app, *args):
    from app.cli import cli

    return rt_app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_guess_and_eval(app, tmp_path) -> None:
    guess = invoke(app, "nlu", "guess", "ya un gros tro bd des rochers").output
    assert "Verdict: sure (model: shipped examples)" in guess
    assert "nid-de-poule" in guess.splitlines()[1]
    assert "Place: Boulevard des Rochers" in guess
    sheet = tmp_path / "eval.tsv"
    sheet.write_text(
        "text\tcategory\tstreet\n"
        "lampadaire en panne rue pasteur\tlampadaire\tRue Pasteur\n"
        "bonjour\tnone\t\n"
        "odeur de gaz\temergency\t\n",
        encoding="utf-8",
    )
    out = invoke(app, "nlu", "eval", str(sheet)).output
    assert "Top-1: 100.0%  Top-3: 100.0%" in out
    assert "Place found: 100.0%  right: 100.0% (of 1 naming one)" in out
    assert "Emergencies answered: 1/1" in out
    assert "lampadaire          1/1" in out


def test_cli_train_scores_and_activate_is_audited(app) -> None:
    from app.seed import seed_demo_reports
    from models.db import utcnow

    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        seed_demo_reports(session)
        session.execute(text("UPDATE report SET seen_by_agent_at = :now"), {"now": utcnow()})
    out = invoke(app, "nlu", "train").output
    assert "Version 1 stored (not active)" in out
    assert "of the town's reports" in out
    assert "Activate it with `webleads nlu activate 1`." in out
    assert "Version 1 is now the reader in use." in invoke(app, "nlu", "activate", "1").output
    assert "(model: version 1)" in invoke(app, "nlu", "guess", "lampadaire éteint").output
    with rt.db.reading() as session:
        row = session.execute(text("SELECT thing, changes FROM adminchange")).all()[-1]
    assert row[0] == "reader"
    result = app.test_cli_runner().invoke(webleads_cli, ["nlu", "activate", "9"])
    assert result.exit_code != 0 and "There is no version 9." in result.output


def test_whatsapp_first_message_asks_with_quick_replies(wa_app, twilio) -> None:
    from tests.whatsapp_support import WhatsApp

    wa = WhatsApp(wa_app, twilio)
    wa.text("There is a massive pothole on rue de Paris near number 20, please fix")
    (question,) = wa.inbox()
    assert question["body"] == "Pothole, Rue de Paris: is that right?"
    assert question["kind"] == "twilio/quick-reply"
    assert question["buttons"] == [("guess:yes", "Yes"), ("guess:no", "Another category")]
    wa.press("guess:yes", "Yes")
    (photo_question,) = wa.inbox()
    assert photo_question["buttons"] == [("skip", "Skip")]
    wa.press("skip", "Skip")
    summary = wa.inbox()[-1]
    assert "Description: There is a massive pothole on rue de Paris" in summary["body"]
    assert "Place: Rue de Paris (not located on the map)" in summary["body"]  # GEOCODER=none


def test_with_a_networked_geocoder_the_worker_places_the_guessed_street(
    database_url, tmp_path, addok
) -> None:
    app = _make_app(database_url, tmp_path, GEOCODER="ban", GEOCODER_URL=addok.base_url)
    try:
        rt = app.extensions["webleads"]
        marie = TalkingCitizen(rt)
        marie.say("tag sur la vitrine au 3 rue Garangeau")
        assert "photo" in marie.texts("oui")  # the worker looked it up meanwhile (run_jobs)
        summary = marie.texts(choice="skip")
        assert "Lieu\u202f: 3 Rue Garangeau 35500 Vitré" in summary
        assert "pas encore placé" not in summary
        paul = TalkingCitizen(rt, "paul", name="Paul")
        paul.say("tag sur la vitrine au 5 rue Garangeau")  # no number 5 in the BAN
        assert paul.texts("oui") == "Est-ce Rue Garangeau 35500 Vitré\u202f?"
    finally:
        app.extensions["webleads"].db.dispose()


def test_new_report_instead_of_adding_reads_the_message(rt) -> None:
    marie = TalkingCitizen(rt)
    marie.file_report()
    offer = marie.say("Lampadaire éteint rue Pasteur depuis hier")[-1]
    assert "cat:" not in str(offer.choices) and offer.choices[-1][0] == "new"
    question = marie.say(choice="new")[-1]
    assert question.text == "Lampadaire en panne, Rue Pasteur\u202f: c’est bien ça\u202f?"


def test_a_message_is_scored_with_scikit_learns_own_probabilities() -> None:
    """The reader scores one message itself, without scikit-learn's input checks (2 ms a
    message): the same numbers as the pipeline's predict_proba, on every shipped and
    evaluation text, so no verdict can move."""
    from pathlib import Path

    from services.nlu.classifier import read_examples
    from services.nlu.text import normalise

    model = _shipped_model()
    evaluation = Path(__file__).parent.parent / "bench" / "data" / "nlu_eval.tsv"
    texts = [t for t, _ in read_examples()] + [
        row.split("\t")[0] for row in evaluation.read_text(encoding="utf-8").splitlines()[1:]
    ]
    texts += ["", "1", "#1001", "xqzvw blorf", "é" * 300]
    for said in texts:
        ranked, _ = model.read(said)
        expected = model.pipeline.predict_proba([normalise(said)])[0]
        assert dict(ranked) == dict(zip(model.classes, map(float, expected), strict=True)), said
