"""SQLModel tables and the named queries beside them. No select() outside models/."""

from models.agent import Agent, AgentService
from models.api_key import ApiKey
from models.catalog import Category, Service
from models.citizen import Citizen, Conversation
from models.console import LoginAttempt, ResponseTemplate
from models.db import Database, utcnow
from models.messaging import InboundMessage, Outbox
from models.pilot import PilotAllow, PilotDemand, PilotInvite
from models.report import Follower, Media, Report, ReportEvent
from models.settings import TownSetting
from models.zone import Zone

__all__ = [
    "Agent",
    "AgentService",
    "ApiKey",
    "Category",
    "Citizen",
    "Conversation",
    "Database",
    "Follower",
    "InboundMessage",
    "LoginAttempt",
    "Media",
    "Outbox",
    "PilotAllow",
    "PilotDemand",
    "PilotInvite",
    "Report",
    "ReportEvent",
    "ResponseTemplate",
    "Service",
    "TownSetting",
    "Zone",
    "utcnow",
]
