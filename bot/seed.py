"""The demo town, Vitré (Ille-et-Vilaine, 35500, INSEE 35360): services, categories, boundary."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlmodel import Session

from bot.placing import import_zone
from bot.security import hash_password
from models.agent import Agent, AgentService, agent_by_email
from models.catalog import IDEA, PROBLEM, Category, Service, category_by_code, service_by_code
from models.settings import set_setting
from models.zone import BOUNDARY, zone_by_name

TOWN = {"town_name": "Vitré", "town_insee": "35360", "town_postcode": "35500"}

SERVICES = [
    ("voirie", "Voirie", "Roads"),
    ("eclairage", "Éclairage public", "Street lighting"),
    ("proprete", "Propreté", "Street cleaning"),
    ("espaces-verts", "Espaces verts", "Parks and green spaces"),
    ("participation", "Démocratie participative", "Citizen participation"),
]

# code, fr, en, service, kind, SLA hours, photo required
CATEGORIES = [
    ("nid-de-poule", "Nid-de-poule", "Pothole", "voirie", PROBLEM, 72, False),
    ("trottoir", "Trottoir abîmé", "Damaged pavement", "voirie", PROBLEM, 120, False),
    ("signalisation", "Panneau ou marquage", "Road sign or marking", "voirie", PROBLEM, 72, False),
    ("lampadaire", "Lampadaire en panne", "Broken streetlight", "eclairage", PROBLEM, 48, False),
    (
        "dechets",
        "Dépôt sauvage ou poubelle pleine",
        "Litter or overflowing bin",
        "proprete",
        PROBLEM,
        48,
        False,
    ),
    ("graffiti", "Tag ou graffiti", "Graffiti", "proprete", PROBLEM, 120, False),
    (
        "espaces-verts",
        "Parc, arbre ou espace vert",
        "Park, tree or green space",
        "espaces-verts",
        PROBLEM,
        120,
        False,
    ),
    ("idee", "Idée pour la ville", "Idea for the town", "participation", IDEA, 336, False),
]

ADMIN_EMAIL = "admin@vitre.example"
BOUNDARY_FILE = Path(__file__).parent / "data" / "vitre-boundary.geojson"


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
    for position, (code, fr, en, service, kind, sla, photo) in enumerate(CATEGORIES):
        if category_by_code(session, code) is None:
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
                )
            )
    if zone_by_name(session, TOWN["town_name"], BOUNDARY) is None:
        import_zone(session, BOUNDARY_FILE, BOUNDARY, TOWN["town_name"])
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
