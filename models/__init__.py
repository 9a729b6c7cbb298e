"""SQLModel tables and the named queries beside them. No select() outside models/."""

from models.agent import Agent, AgentService
from models.catalog import Category, Service
from models.citizen import Citizen, Conversation
from models.db import Database, utcnow
from models.messaging import InboundMessage, Outbox
from models.report import Follower, Media, Report, ReportEvent
from models.settings import TownSetting
from models.zone import Zone

__all__ = [
    "Agent",
    "AgentService",
    "Category",
    "Citizen",
    "Conversation",
    "Database",
    "Follower",
    "InboundMessage",
    "Media",
    "Outbox",
    "Report",
    "ReportEvent",
    "Service",
    "TownSetting",
    "Zone",
    "utcnow",
]
