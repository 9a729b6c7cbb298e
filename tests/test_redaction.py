"""The redaction of public texts (services/public_view.py): phone numbers in every common
spelling, e-mail addresses written to dodge robots, and the names a citizen or an agent
gave, in any case. Each row: the text, what must vanish from its public form, what must
stay in it."""

from __future__ import annotations

import re
import time

import pytest

from models.citizen import Citizen
from services.public_view import Redaction

# The public words of the report the rows are read as: its catalog and its public place.
CATALOG = ["Nid-de-poule", "Pothole", "Voirie", "Roads"]
LABEL = "Rue de la Poterie 35500 Vitré"
DIGIT_RUNS = re.compile(r"\+?[\d(][\d ./()-]*\d")


def public_form(text: str, *, people=(), agents=(), label=LABEL) -> str:
    """The text as the public reads it when it is a citizen's published description."""
    redaction = Redaction(
        list(people),
        None,
        label,
        private_texts=[text],
        public_words=[label or "", *CATALOG],
        agents=list(agents),
    )
    return redaction.remove(text) or ""


def assert_redacted(public: str, vanish: list[str], stay: list[str]) -> None:
    runs = [re.sub(r"\D", "", run) for run in DIGIT_RUNS.findall(public)]
    for secret in vanish:
        if secret.isdigit():
            assert not any(secret in run for run in runs), (secret, public)
        else:
            assert secret.casefold() not in public.casefold(), (secret, public)
    as_written = public[:1].lower() + public[1:]  # a public text starts with a capital
    for kept in stay:
        assert kept in public or kept in as_written, (kept, public)


# (label, text, what must vanish, what must stay)
PHONES = [
    ("spaces", "Rappel au 06 11 22 33 44 svp", ["611223344"], ["Rappel au", "svp"]),
    ("dots", "Rappel au 06.11.22.33.44 svp", ["611223344"], ["Rappel au", "svp"]),
    ("dashes", "Rappel au 06-11-22-33-44 svp", ["611223344"], ["Rappel au", "svp"]),
    ("slashes", "Rappel au 06/11/22/33/44 svp", ["611223344"], ["Rappel au", "svp"]),
    ("no separator", "Rappel au 0611223344 svp", ["611223344"], ["Rappel au", "svp"]),
    ("4-3-3", "Rappel au 0611 223 344 svp", ["611223344"], ["Rappel au", "svp"]),
    ("8-2", "Rappel au 06112233 44 svp", ["611223344"], ["Rappel au", "svp"]),
    ("mixed", "Rappel au 06 11.22-33/44 svp", ["611223344"], ["Rappel au", "svp"]),
    ("no-break spaces", "Rappel au 06\u00a011\u202f22 33 44 svp", ["611223344"], ["svp"]),
    ("+33", "Rappel au +33 6 11 22 33 44 svp", ["611223344", "+33"], ["Rappel au", "svp"]),
    ("+33 glued", "Rappel au +33611223344 svp", ["611223344"], ["Rappel au", "svp"]),
    ("+33 (0)", "Rappel au +33 (0)6 11 22 33 44 svp", ["611223344", "(0)"], ["svp"]),
    ("+33(0) glued", "Rappel au +33(0)611223344 svp", ["611223344"], ["svp"]),
    ("0033", "Rappel au 0033 6 11 22 33 44 svp", ["611223344", "0033"], ["svp"]),
    ("(+33)", "Rappel au (+33) 6 11 22 33 44 svp", ["611223344", "+33"], ["svp"]),
    ("without its 0", "Rappel au 6 11 22 33 44 svp", ["611223344"], ["Rappel au", "svp"]),
    ("without its 0, 3-3-3", "Rappel au 611 223 344 svp", ["611223344"], ["svp"]),
    ("landline", "Fixe : 02.99.74.43.53.", ["299744353"], ["Fixe"]),
    ("Belgian", "Mon portable belge +32 470 12 34 56", ["470123456"], ["portable belge"]),
    ("British", "UK: +44 20 7946 0958", ["2079460958"], ["UK"]),
    ("American", "US: +1 (555) 123-4567", ["5551234567"], ["US"]),
    ("Luxembourg, short", "Lux : +352 26 12 34", ["26123"], ["Lux"]),
    ("after a word", "tél:0611223344 ou tel0611223344", ["611223344"], ["tél", "ou"]),
    ("two numbers", "06 11 22 33 44 ou 07 55 66 77 88", ["611223344", "755667788"], ["ou"]),
    ("a customer number", "Client n° 12345678 chez Enedis", ["12345678"], ["Client n°"]),
    ("an 8-digit run", "Code 1234 5678 du compteur", ["12345678"], ["du compteur"]),
]  # fmt: skip
# What is not a phone number stays: dates, house numbers, postcodes, report numbers, hours,
# amounts under 8 digits. A date followed by a number keeps the date only.
KEPT_NUMBERS = [
    ("a date", "Depuis le 12/03/2026, rien.", [], ["12/03/2026"]),
    ("a dotted date", "Vu le 12.03.2026 au matin", [], ["12.03.2026"]),
    ("an ISO date", "Signalé le 2026-03-12", [], ["2026-03-12"]),
    ("a short date and an hour", "Le 12/03 à 9 h 30", [], ["12/03", "9 h 30"]),
    ("a date and an hour", "Le 12/03/2026 14:30", [], ["12/03/2026 14:30"]),
    ("a date then a phone", "Le 12/03/2026 06 11 22 33 44", ["611223344"], ["12/03/2026"]),
    ("a house number and postcode", "Devant le 12 rue de la Poterie, 35500 Vitré", [],
     ["12 rue de la Poterie, 35500 Vitré"]),
    ("a house number range", "Du 12-14 rue de la Poterie", [], ["12-14"]),
    ("a house number next to a postcode", "Rue de la Poterie 12 35500 Vitré", [],
     ["12 35500"]),
    ("a report number", "Comme le #1042 du 12/03", [], ["#1042", "12/03"]),
    ("an amount", "Un devis de 1 250 000 euros", [], ["1 250 000"]),
    ("a size", "Trou de 30 x 40 cm, 15 cm de profondeur", [], ["30 x 40 cm", "15 cm"]),
    ("a date with a phone's look", "Le 06.11.22 33 44", ["611223344"], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "text", "vanish", "stay"),
    PHONES + KEPT_NUMBERS,
    ids=[c[0] for c in PHONES + KEPT_NUMBERS],
)
def test_phone_numbers_go_and_other_numbers_stay(label, text, vanish, stay) -> None:
    assert_redacted(public_form(text), vanish, stay)


EMAILS = [
    ("plain", "Écrivez à hugo.lemoine@gmail.com svp", ["hugo", "lemoine", "gmail"], ["svp"]),
    ("at", "Écrivez à hugo.lemoine at gmail.com svp", ["hugo", "lemoine", "gmail"], ["svp"]),
    ("[at] [dot]", "Écrivez à hugo [at] gmail [dot] com svp", ["hugo", "gmail"], ["svp"]),
    ("(at)", "Écrivez à hugo(at)gmail.com svp", ["hugo", "gmail"], ["svp"]),
    ("spaced", "Écrivez à hugo @ gmail . com svp", ["hugo", "gmail"], ["svp"]),
    ("arobase point", "Écrivez à hugo arobase orange point fr svp", ["hugo", "orange"], ["svp"]),
    ("AT DOT", "Mail: h.lemoine AT free DOT fr", ["lemoine", "free"], ["Mail"]),
    ("{at}", "h.lemoine{at}laposte.net merci", ["lemoine", "laposte"], ["merci"]),
    ("at a sentence's end", "Mon mail : hugo@gmail.com. Merci", ["gmail"], [". Merci"]),
    ("English at", "We meet at 9.30 at the town hall", [], ["We meet at 9.30 at the town hall"]),
]  # fmt: skip


@pytest.mark.parametrize(("label", "text", "vanish", "stay"), EMAILS, ids=[c[0] for c in EMAILS])
def test_email_addresses_go_however_they_are_written(label, text, vanish, stay) -> None:
    assert_redacted(public_form(text), vanish, stay)


NAMES = [
    ("the review's report", "Trou devant chez marie dupont, rappelez moi",
     ["marie", "dupont"], ["Trou devant chez", "rappelez moi"]),
    ("a first name starting a sentence", "Marie a appelé la mairie hier.",
     ["marie"], ["a appelé la mairie hier."]),
    ("a full name starting a sentence", "Marie Dupont a vu le trou.",
     ["marie", "dupont"], ["a vu le trou."]),
    ("a lowercase first name", "j'ai prévenu jean ce matin", ["jean"], ["ce matin"]),
    ("a lowercase full name", "ma voisine nathalie durand a glissé",
     ["nathalie", "durand"], ["ma voisine", "a glissé"]),
    ("M.", "Le trou devant M. martin est profond", ["martin"], ["Le trou devant M.", "profond"]),
    ("Mme", "Chez Mme durand, le trottoir", ["durand"], ["le trottoir"]),
    ("madame", "madame lefebvre a trébuché", ["lefebvre"], ["a trébuché"]),
    ("monsieur", "Signalé par monsieur bertin", ["bertin"], ["Signalé par"]),
    ("je m'appelle", "Bonsoir, je m'appelle gwendal kerouac et le trou grandit",
     ["gwendal", "kerouac"], ["et le trou grandit"]),
    ("je suis, a name", "je suis gwendal kerouac, merci", ["gwendal", "kerouac"], ["merci"]),
    ("je suis, not a name", "je suis passé devant hier", [], ["je suis passé devant hier"]),
    ("je suis, a state", "je suis inquiet.", [], ["je suis inquiet."]),
    ("je suis, two states", "je suis vraiment désolé, merci", [], ["vraiment désolé"]),
    ("I'm, a state", "I'm worried.", [], ["worried"]),
    ("my name is", "My name is john smith and the light is off", ["john", "smith"],
     ["and the light is off"]),
    ("a capitalised name", "Le chien de Gwendal aboie", ["gwendal"], ["Le chien de", "aboie"]),
    ("a lowercase street, numbered", "Trou au 3 impasse des lilas", ["lilas"],
     ["Trou au 3 impasse des"]),
    ("a lowercase street", "Trou rue du moulin vert", ["moulin", "vert"], ["Trou rue du"]),
    ("chez moi", "Devant chez moi, un trou", [], ["Devant chez moi, un trou"]),
    ("chez le", "chez le boulanger", [], ["chez le boulanger"]),
    ("the public place", "Nid-de-poule au 12 rue de la poterie, devant l'école", [],
     ["Nid-de-poule au 12 rue de la poterie, devant l'école"]),
    ("the public place, capitalised", "Rue de la Poterie, un Nid-de-poule", [],
     ["Rue de la Poterie, un Nid-de-poule"]),
    ("a street that is not the public place", "Au 4 rue Jourdan", ["jourdan"], ["Au 4 rue"]),
    ("a street, no public place", "Trou au 3 impasse des lilas", ["lilas"], ["impasse"]),
]  # fmt: skip


@pytest.mark.parametrize(("label", "text", "vanish", "stay"), NAMES, ids=[c[0] for c in NAMES])
def test_names_the_citizen_wrote_go_in_any_case(label, text, vanish, stay) -> None:
    assert_redacted(public_form(text), vanish, stay)


PEOPLE = [Citizen(channel="telegram", address="3527065", display_name="Marie Dupont")]
KNOWN = [
    ("the citizen's name, lowercase", "Le trou de marie dupont", ["marie", "dupont"], ["Le trou"]),
    ("the citizen's name, capitals", "Le trou de MARIE DUPONT", ["marie", "dupont"], ["Le trou"]),
    ("the citizen's first name first", "Marie signale un trou", ["marie"], ["signale un trou"]),
    ("the citizen's chat id", "Mon id 3527065", ["3527065"], ["Mon id"]),
    ("the agent's name", "C'est fait. Sophie Le Bihan, voirie", ["sophie", "bihan"],
     ["C'est fait.", "voirie"]),
    ("the agent's first name", "Cordialement, sophie", ["sophie"], ["Cordialement"]),
]  # fmt: skip


@pytest.mark.parametrize(("label", "text", "vanish", "stay"), KNOWN, ids=[c[0] for c in KNOWN])
def test_the_citizens_and_the_agents_names_go_in_any_case(label, text, vanish, stay) -> None:
    public = public_form(text, people=PEOPLE, agents=["Sophie Le Bihan"])
    assert_redacted(public, vanish, stay)


def test_a_name_the_citizen_gave_goes_from_the_agents_words_too() -> None:
    redaction = Redaction(
        [], None, LABEL, private_texts=["Trou devant chez gwendal kerouac"], public_words=CATALOG
    )
    assert redaction.remove("Merci, nous passerons voir Gwendal demain.") == (
        "Merci, nous passerons voir … demain."
    )


# Texts a citizen may send to make the public pages slow: each is redacted at once.
HOSTILE = [
    ("spaced dots after an at", "x at " + "a . " * 22),
    ("one long word", "a" * 10_000),
    ("dotted digits", "1." * 5_000),
    ("spaced digits", "1 " * 5_000),
    ("street after street", "3 rue de la " * 1_000),
    ("cue after cue", "chez " * 3_000),
]


@pytest.mark.parametrize(("label", "text"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_a_hostile_text_is_redacted_at_once(label, text) -> None:
    started = time.perf_counter()
    public_form(text)
    assert time.perf_counter() - started < 1.0
