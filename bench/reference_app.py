"""The reference for bench/webhook.py: a bare Flask webhook doing the minimum a step does.

It parses the same Telegram update and does one select, one update, one insert and one
commit on the same database, through SQLModel, in the same gunicorn setup as the real
webhook. `gunicorn 'bench.reference_app:create_app()'`.
"""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import select, update
from sqlmodel import Session

from models.citizen import Citizen, Conversation
from models.db import Database, utcnow
from models.messaging import InboundMessage


def create_app() -> Flask:
    app = Flask(__name__)
    db = Database(os.environ["DATABASE_URL"])

    @app.post("/webhooks/telegram")
    def webhook():
        data = request.get_json(force=True, silent=True)
        if not isinstance(data, dict) or "update_id" not in data:
            return "", 400
        chat = str(data["message"]["chat"]["id"])
        with Session(db.engine, expire_on_commit=False) as session:
            citizen = session.scalar(
                select(Citizen).where(Citizen.channel == "telegram", Citizen.address == chat)
            )
            session.execute(
                update(Conversation)
                .where(Conversation.citizen_id == (citizen.id if citizen else -1))
                .values(updated_at=utcnow())
            )
            session.add(InboundMessage(channel="ref", external_id=str(data["update_id"])))
            session.commit()
        return "", 200

    return app
