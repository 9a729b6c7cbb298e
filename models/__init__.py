"""SQLModel tables and the named queries beside them. No select() outside models/."""

from models.address import Address, NameWord, Street, StreetWord
from models.agent import Agent, AgentService
from models.api_key import ApiKey
from models.audit import AdminChange
from models.body import Body, BodyForward, BodyRoute
from models.catalog import Category, Service
from models.citizen import Citizen, Conversation
from models.commune import AgentCommune, CommuneRoute
from models.console import LoginThrottle, ResponseTemplate
from models.crew import AgentChat, CodeGuess, FieldAction, LinkCode, ServiceDigest, ServiceHead
from models.daily_figure import DailyFigure
from models.db import Database, utcnow
from models.jobs import HeldInbound, Job
from models.mail_thread import MailMessage
from models.messaging import InboundMessage, Outbox
from models.nlu import NluExample, NluModel
from models.oncall import OnCallPage, OnCallService, OnCallShift
from models.open311_forward import Open311Forward
from models.pilot import PilotAllow, PilotDemand, PilotInvite
from models.report import Follower, Media, Report, ReportEvent
from models.settings import TownSetting
from models.web_contact import WebContact
from models.zone import Zone

__all__ = [
    "Address",
    "AdminChange",
    "Agent",
    "AgentChat",
    "AgentCommune",
    "AgentService",
    "ApiKey",
    "Body",
    "BodyForward",
    "BodyRoute",
    "Category",
    "Citizen",
    "CodeGuess",
    "CommuneRoute",
    "Conversation",
    "DailyFigure",
    "Database",
    "FieldAction",
    "Follower",
    "HeldInbound",
    "InboundMessage",
    "Job",
    "LinkCode",
    "LoginThrottle",
    "MailMessage",
    "Media",
    "NameWord",
    "NluExample",
    "NluModel",
    "OnCallPage",
    "OnCallService",
    "OnCallShift",
    "Open311Forward",
    "Outbox",
    "PilotAllow",
    "PilotDemand",
    "PilotInvite",
    "Report",
    "ReportEvent",
    "ResponseTemplate",
    "Service",
    "ServiceDigest",
    "ServiceHead",
    "Street",
    "StreetWord",
    "TownSetting",
    "WebContact",
    "Zone",
    "utcnow",
]
