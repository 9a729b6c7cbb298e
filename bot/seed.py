"""The demo town, Vitré (Ille-et-Vilaine, 35500, INSEE 35360): services, categories, boundary."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlmodel import Session

from models.agent import Agent, AgentService, agent_by_email
from models.catalog import IDEA, PROBLEM, Category, Service, category_by_code, service_by_code
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
    from services.geo_local import import_ban_rows, open_ban

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
        ["acknowledged", "in_progress", "resolved"],
        "Rebouché à l'enrobé à froid ce matin.",
    ),
    (
        16,
        "lampadaire",
        "Le lampadaire clignote toute la nuit.",
        "12 Rue de la Poterie 35500 Vitré",
        48.12460,
        -1.20820,
        ["acknowledged", "resolved"],
        "Ampoule et ballast changés.",
    ),
    (
        12,
        "dechets",
        "Sacs poubelle déposés au pied du conteneur à verre.",
        "Place de la République 35500 Vitré",
        48.12284,
        -1.20632,
        ["acknowledged", "closed"],
        "Le dépôt relève de la collecte du jeudi : il a été enlevé lors de la tournée.",
    ),
    (
        9,
        "graffiti",
        "Tag sur le mur de l'école, côté cour.",
        "5 Rue Garangeau 35500 Vitré",
        48.12330,
        -1.20930,
        ["acknowledged", "in_progress"],
        "L'entreprise de nettoyage passe lundi.",
    ),
    (
        6,
        "trottoir",
        "Dalle du trottoir soulevée par une racine, risque de chute.",
        "2 Allée des Tilleuls 35500 Vitré",
        48.11745,
        -1.21640,
        ["acknowledged"],
        None,
    ),
    (
        4,
        "espaces-verts",
        "Branche cassée au-dessus de l'aire de jeux.",
        "Boulevard des Rochers 35500 Vitré",
        48.11900,
        -1.20260,
        ["in_progress"],
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
    "acknowledged": "acknowledged_at",
    "in_progress": "in_progress_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}
DEMO_CITIZENS = ["Camille", "Louis", "Manon", "Hugo", "Léa", "Nathan", "Chloé", "Jules"]


def seed_demo_reports(session: Session) -> int:
    """Files the demo reports once (only into a town that has none); returns how many."""
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
    session.flush()
    return len(DEMO_REPORTS)
