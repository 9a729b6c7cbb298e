"""The demo town, Vitré (Ille-et-Vilaine, 35500, INSEE 35360): services, categories, boundary."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlmodel import Session

from models.agent import Agent, AgentService, agent_by_email
from models.catalog import IDEA, PROBLEM, Category, Service, category_by_code, service_by_code
from models.report import Status
from models.settings import set_setting
from models.zone import BOUNDARY, zone_by_name
from services.placing import import_zone
from services.security import hash_password

TOWN = {"town_name": "Vitré", "town_insee": "35360", "town_postcode": "35500"}

SERVICES = [
    ("voirie", "Voirie", "Roads"),
    ("eclairage", "Éclairage public", "Street lighting"),
    ("proprete", "Propreté", "Street cleaning"),
    ("espaces-verts", "Espaces verts", "Parks and green spaces"),
    ("participation", "Démocratie participative", "Citizen participation"),
]

# code, fr, en, service, kind, SLA hours, photo required, keywords (what residents call it,
# and the keys of the shipped examples it learns from: services/nlu/data/examples_*.tsv)
CATEGORIES = [
    (
        "nid-de-poule",
        "Nid-de-poule",
        "Pothole",
        "voirie",
        PROBLEM,
        72,
        False,
        "pothole, nid-de-poule, trou, chaussée",
    ),
    (
        "trottoir",
        "Trottoir abîmé",
        "Damaged pavement",
        "voirie",
        PROBLEM,
        120,
        False,
        "pavement, trottoir",
    ),
    (
        "signalisation",
        "Panneau ou marquage",
        "Road sign or marking",
        "voirie",
        PROBLEM,
        72,
        False,
        "sign, panneau, marquage au sol, feu tricolore",
    ),
    (
        "lampadaire",
        "Lampadaire en panne",
        "Broken streetlight",
        "eclairage",
        PROBLEM,
        48,
        False,
        "streetlight, lampadaire, éclairage public",
    ),
    (
        "dechets",
        "Dépôt sauvage ou poubelle pleine",
        "Litter or overflowing bin",
        "proprete",
        PROBLEM,
        48,
        False,
        "litter, déchets, poubelle, dépôt sauvage",
    ),
    ("graffiti", "Tag ou graffiti", "Graffiti", "proprete", PROBLEM, 120, False, "graffiti, tag"),
    (
        "espaces-verts",
        "Parc, arbre ou espace vert",
        "Park, tree or green space",
        "espaces-verts",
        PROBLEM,
        120,
        False,
        "greenery, arbre, pelouse, parc",
    ),
    ("idee", "Idée pour la ville", "Idea for the town", "participation", IDEA, 336, False, "idea"),
]

# The demo's short questions (models/question.py), asked after the description. Not in
# seed_demo: the tests' town walks its conversations without them (tests/test_questions.py
# seeds them).
QUESTIONS = {
    "nid-de-poule": [
        {
            "code": "deeper_than_10cm",
            "kind": "yesno",
            "fr": "Le trou fait-il plus de 10\u202fcm\u202f?",
            "en": "Is the hole deeper than 10 cm?",
            "urgent_if_yes": True,
        }
    ],
    "lampadaire": [
        {
            "code": "pole_number",
            "kind": "text",
            "fr": "Numéro sur le poteau\u202f?",
            "en": "Number on the pole?",
        }
    ],
    "signalisation": [
        {
            "code": "what_is_damaged",
            "kind": "choice",
            "fr": "Qu’est-ce qui est touché\u202f?",
            "en": "What is affected?",
            "options": [
                {"code": "traffic_light", "fr": "Feu tricolore", "en": "Traffic light"},
                {"code": "sign", "fr": "Panneau", "en": "Road sign"},
                {"code": "marking", "fr": "Marquage au sol", "en": "Road marking"},
            ],
            "urgent_options": ["traffic_light"],
        }
    ],
}


def seed_questions(session: Session) -> int:
    """Gives the demo's categories their questions, where they have none; returns how many."""
    count = 0
    for code, questions in QUESTIONS.items():
        category = category_by_code(session, code)
        if category is not None and not category.questions:
            category.questions = questions
            session.add(category)
            count += 1
    session.flush()
    return count


ADMIN_EMAIL = "admin@vitre.example"
BOUNDARY_FILE = Path(__file__).parent / "data" / "vitre-boundary.geojson"
# The demo town's addresses in the BAN's CSV format (and a neighbour's, Fougères, so that
# "rue de Vitré" is said to be there), for GEOCODER=local.
ADDRESSES_FILE = Path(__file__).parent / "data" / "adresses-demo.csv"


def seed_demo(session: Session) -> str | None:
    """Creates what is missing of the demo town; returns the admin password if created."""
    for key, value in TOWN.items():
        set_setting(session, key, value)
    services = {}
    for code, fr, en in SERVICES:
        service = service_by_code(session, code)
        if service is None:
            service = Service(code=code, name_fr=fr, name_en=en)
            session.add(service)
            session.flush()
        services[code] = service
    for position, (code, fr, en, service, kind, sla, photo, words) in enumerate(CATEGORIES):
        existing = category_by_code(session, code)
        if existing is not None and not existing.keywords:
            existing.keywords = words  # a demo seeded before categories had keywords
        if existing is None:
            session.add(
                Category(
                    code=code,
                    name_fr=fr,
                    name_en=en,
                    service_id=services[service].id,
                    kind=kind,
                    sla_hours=sla,
                    photo_required=photo,
                    position=position,
                    keywords=words,
                )
            )
    if zone_by_name(session, TOWN["town_name"], BOUNDARY) is None:
        import_zone(session, BOUNDARY_FILE, BOUNDARY, TOWN["town_name"])
    seed_addresses(session)
    password = None
    if agent_by_email(session, ADMIN_EMAIL) is None:
        password = secrets.token_urlsafe(12)
        admin = Agent(
            email=ADMIN_EMAIL,
            name="Admin Vitré",
            role="admin",
            password_hash=hash_password(password),
        )
        session.add(admin)
        session.flush()
        for service in services.values():
            session.add(AgentService(agent_id=admin.id, service_id=service.id))
    session.flush()
    return password


def seed_addresses(session: Session) -> int:
    """Imports the demo communes' addresses, except for a commune that has some already."""
    from models.address import commune_counts
    from services.ban_import import import_ban_rows, open_ban

    known: dict[str, bool] = {}

    def missing(row: dict) -> bool:
        code = row["code_insee"]
        if code not in known:
            known[code] = commune_counts(session, code)[0] > 0
        return not known[code]

    return import_ban_rows(session, filter(missing, open_ban(ADDRESSES_FILE))).addresses


# A few reports for the console to show on first run: (days ago, category, description,
# address, lat, lon, statuses it went through, agent's public words at the last one).
DEMO_REPORTS = [
    (
        21,
        "nid-de-poule",
        "Gros nid-de-poule devant la boulangerie, les vélos l'évitent.",
        "3 Rue de Paris 35500 Vitré",
        48.12440,
        -1.20520,
        [Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED],
        "Rebouché à l'enrobé à froid ce matin.",
    ),
    (
        16,
        "lampadaire",
        "Le lampadaire clignote toute la nuit.",
        "12 Rue de la Poterie 35500 Vitré",
        48.12460,
        -1.20820,
        [Status.ACKNOWLEDGED, Status.RESOLVED],
        "Ampoule et ballast changés.",
    ),
    (
        12,
        "dechets",
        "Sacs poubelle déposés au pied du conteneur à verre.",
        "Place de la République 35500 Vitré",
        48.12284,
        -1.20632,
        [Status.ACKNOWLEDGED, Status.CLOSED],
        "Le dépôt relève de la collecte du jeudi : il a été enlevé lors de la tournée.",
    ),
    (
        9,
        "graffiti",
        "Tag sur le mur de l'école, côté cour.",
        "5 Rue Garangeau 35500 Vitré",
        48.12330,
        -1.20930,
        [Status.ACKNOWLEDGED, Status.IN_PROGRESS],
        "L'entreprise de nettoyage passe lundi.",
    ),
    (
        6,
        "trottoir",
        "Dalle du trottoir soulevée par une racine, risque de chute.",
        "2 Allée des Tilleuls 35500 Vitré",
        48.11745,
        -1.21640,
        [Status.ACKNOWLEDGED],
        None,
    ),
    (
        4,
        "espaces-verts",
        "Branche cassée au-dessus de l'aire de jeux.",
        "Boulevard des Rochers 35500 Vitré",
        48.11900,
        -1.20260,
        [Status.IN_PROGRESS],
        "Zone balisée ; élagage prévu jeudi.",
    ),
    (
        3,
        "signalisation",
        "Panneau stop tourné vers le mur.",
        "1 Rue de Fougères 35500 Vitré",
        48.12525,
        -1.20890,
        [],
        None,
    ),
    (
        2,
        "lampadaire",
        "Trois lampadaires éteints d'affilée.",
        "Boulevard de Laval 35500 Vitré",
        48.12293,
        -1.20293,
        [],
        None,
    ),
    (
        1,
        "nid-de-poule",
        "Trou profond à l'entrée du parking.",
        "Place du Château 35500 Vitré",
        48.12379,
        -1.21052,
        [],
        None,
    ),
    (
        0,
        "idee",
        "Des bancs à l'ombre le long du boulevard Louis Giroux.",
        None,
        None,
        None,
        [],
        None,
    ),
]
STATUS_COLUMNS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.IN_PROGRESS: "in_progress_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}
DEMO_CITIZENS = ["Camille", "Louis", "Manon", "Hugo", "Léa", "Nathan", "Chloé", "Jules"]


# Demo reports that carry a photo (their index in DEMO_REPORTS): drawn at seed time.
PHOTOS = {0: "nid-de-poule", 1: "lampadaire", 3: "graffiti", 8: "nid-de-poule"}
# The demo report on the public site with its description and photo (#1001, resolved).
PUBLISHED = 0


def seed_demo_reports(session: Session, settings=None) -> int:
    """Files the demo reports once (only into a town that has none); returns how many.

    With the settings, some carry a photo (stored like any citizen's) and one is
    published on the public site with its description and photo.
    """
    from datetime import timedelta

    from models.citizen import Citizen, Conversation, State
    from models.db import utcnow
    from models.report import count_reports, report_events
    from services import reports
    from services.catalog import _category

    if count_reports(session):
        return 0
    now = utcnow()
    for i, (days, code, text, address, lat, lon, steps, words) in enumerate(DEMO_REPORTS):
        citizen = Citizen(
            channel="dev", address=f"demo-{i}", display_name=DEMO_CITIZENS[i % len(DEMO_CITIZENS)]
        )
        session.add(citizen)
        session.flush()
        session.add(Conversation(citizen_id=citizen.id, state=State.IDLE))
        draft = {
            "description": text,
            "address": address,
            "lat": lat,
            "lon": lon,
            "geolocated": lat is not None,
        }
        if settings is not None and i in PHOTOS:
            draft["media_ids"] = [_demo_photo(session, settings, PHOTOS[i], i, citizen.id)]
        report = reports.file_report(
            session, citizen, draft, _category(category_by_code(session, code))
        )
        report.created_at = report.updated_at = now - timedelta(days=days, hours=3)
        session.add(report)
        for n, status in enumerate(steps):
            last = n == len(steps) - 1
            reports.change_status(session, report.id, status, message=words if last else None)
        # The story took days: spread its events and step times after the filing.
        for k, event in enumerate(report_events(session, report.id)):
            event.created_at = min(report.created_at + timedelta(hours=20 * k), now)
            session.add(event)
            column = STATUS_COLUMNS.get(event.to_status or "")
            if column and k:
                setattr(report, column, event.created_at)
                report.updated_at = report.last_public_update_at = event.created_at
        session.add(report)
        if settings is not None and i == PUBLISHED:
            _publish(session, report.id)
    session.flush()
    return len(DEMO_REPORTS)


def _publish(session: Session, number: int) -> None:
    """Puts a demo report on the public site, its words and its photo approved."""
    from models.report import media_of_report
    from services import moderation

    moderation.publish(session, number, agent_id=None)
    for media in media_of_report(session, number):
        moderation.approve_photo(session, number, media.id, approved=True, agent_id=None)


def _demo_photo(session: Session, settings, kind: str, seed: int, citizen_id: int) -> int:
    """Draws a picture of the problem and stores it as a citizen's photo; returns its id."""
    from models.report import add_media
    from services.media import store_photo

    return add_media(session, store_photo(demo_picture(kind, seed), settings), citizen_id)


def demo_picture(kind: str, seed: int = 0) -> bytes:
    """A JPEG drawn with Pillow (no download): a street scene hinting at the problem."""
    import io
    import random

    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    width, height = 800, 600
    image = Image.new("RGB", (width, height), (150, 190, 225))  # sky
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 250, width, height), fill=(92, 92, 96))  # the road
    draw.polygon([(0, 250), (width, 250), (width, 300), (0, 330)], fill=(185, 180, 170))
    for x in range(0, width, 120):  # the road's centre line
        draw.rectangle((x + 20, 440, x + 80, 452), fill=(235, 235, 230))
    for _ in range(900):  # the asphalt's grain
        x, y = rng.randrange(width), rng.randrange(300, height)
        shade = rng.randrange(70, 120)
        draw.point((x, y), fill=(shade, shade, shade + 4))
    if kind == "nid-de-poule":
        draw.ellipse((280, 380, 560, 500), fill=(45, 40, 38))
        draw.ellipse((300, 392, 540, 488), fill=(70, 64, 58))
    elif kind == "lampadaire":
        draw.rectangle((560, 40, 575, 300), fill=(60, 65, 70))
        draw.rectangle((520, 30, 615, 50), fill=(60, 65, 70))
        draw.ellipse((525, 45, 560, 70), fill=(200, 200, 120))
        image = image.point(lambda v: int(v * 0.55))  # dusk
    elif kind == "graffiti":
        draw.rectangle((0, 60, width, 300), fill=(205, 190, 160))  # the school's wall
        for _ in range(6):
            points = [(rng.randrange(100, 700), rng.randrange(90, 270)) for _ in range(4)]
            colour = rng.choice([(200, 30, 60), (30, 90, 200), (20, 20, 20)])
            draw.line(points, fill=colour, width=14, joint="curve")
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


# Ready-made public messages for the console's picker: (title, status, category, body).
# Placeholders are those of the console's templates: {name}, {ref}, {category},
# {address}, {service}.
TEMPLATES = [
    (
        "Bien reçu",
        "acknowledged",
        None,
        "Votre signalement {ref} ({category}) est arrivé au service {service}, qui va "
        "l'examiner dans les meilleurs délais.",
    ),
    (
        "Intervention programmée",
        "in_progress",
        None,
        "Une équipe du service {service} va intervenir ({address}) dans les prochains jours.",
    ),
    (
        "Nid-de-poule rebouché",
        "resolved",
        "nid-de-poule",
        "Le trou a été rebouché à l'enrobé à froid ; une réfection plus durable est prévue "
        "avec les travaux de voirie de l'année.",
    ),
    (
        "Réglé, merci",
        "resolved",
        None,
        "Merci {name} de nous l'avoir signalé : c'est réglé. N'hésitez pas à recommencer.",
    ),
    (
        "Hors compétence de la ville",
        "closed",
        None,
        "Ce lieu ne relève pas de la ville : nous avons transmis votre signalement au "
        "gestionnaire concerné.",
    ),
]


def seed_templates(session: Session) -> int:
    """Creates the demo's response templates, in a town that has none; returns how many."""
    from models.console import all_templates
    from services.admin import save_template
    from services.audit import Actor

    if all_templates(session):
        return 0
    actor = Actor.command_line()
    for title, status, code, body in TEMPLATES:
        category = category_by_code(session, code) if code else None
        save_template(
            session,
            actor,
            None,
            title=title,
            status=status,
            category_id=category.id if category else None,
            body=body,
            active=True,
        )
    return len(TEMPLATES)


# The demo's field crew: an agent of the Voirie whose phone is the dev-channel chat
# `webleads chat --as Claire`; the open pothole report is assigned to her.
CREW_EMAIL = "claire.martin@vitre.example"
CREW_CHAT = "Claire"
CREW_TASK = 8  # index in DEMO_REPORTS: "Trou profond à l'entrée du parking"


def seed_crew(session: Session, secret_key: str) -> bool:
    """Creates the crew agent and links her dev-channel chat, once; True if created now."""
    from models.citizen import Citizen, Conversation, State, find_citizen
    from services import crew_links, reports

    if agent_by_email(session, CREW_EMAIL) is not None:
        return False
    voirie = service_by_code(session, "voirie")
    agent = Agent(
        email=CREW_EMAIL,
        name="Claire Martin",
        role="agent",
        password_hash=hash_password(secrets.token_urlsafe(16)),
    )
    session.add(agent)
    session.flush()
    session.add(AgentService(agent_id=agent.id, service_id=voirie.id))
    chat = find_citizen(session, "dev", CREW_CHAT)
    if chat is None:
        chat = Citizen(channel="dev", address=CREW_CHAT, display_name=CREW_CHAT)
        session.add(chat)
        session.flush()
        session.add(Conversation(citizen_id=chat.id, state=State.IDLE))
        session.flush()
    crew_links.link_chat(
        session, chat, crew_links.issue_code(session, agent.id, secret_key), secret_key
    )
    from models.report import Report

    number = first_report_number(session) + CREW_TASK
    report = session.get(Report, number)
    if report is not None and report.service_id == voirie.id:
        reports.assign(session, number, service_id=voirie.id, assignee_id=agent.id, agent_id=None)
    return True


def first_report_number(session: Session) -> int:
    """The number of the first report filed in this database (#1001 on a fresh one)."""
    from sqlalchemy import func, select

    from models.report import Report

    first = session.execute(select(func.min(Report.id))).scalar()
    return first if first is not None else FIRST_NUMBER


FIRST_NUMBER = 1001  # models/report.py: the numbers start there


def next_report_number(session: Session) -> int:
    """The number the next report filed will get."""
    from sqlalchemy import func, select

    from models.report import Report

    last = session.execute(select(func.max(Report.id))).scalar()
    return last + 1 if last is not None else FIRST_NUMBER
