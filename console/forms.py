"""The console's forms: every one carries its CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from console.present import channel_label
from models.agent import ROLES
from models.catalog import IDEA, PROBLEM
from models.db import read_number
from models.zone import BOUNDARY, PILOT
from services import channels
from services.agents import EMAIL_RE
from services.runtime import current_runtime
from services.types import clean_text

MESSAGE_MAX = 1500  # an SMS update stays within a few segments; Telegram allows 4096
# Agents' words go to citizens, the public site and its Atom feed (XML, which has no place
# for U+0001 or U+000B): control characters are dropped as they come in, as Open311's are.
WORDS = (clean_text,)


def _row_id(value) -> int:
    """A row's id as a form sends it; past nine digits (or not a number) the field says
    "not a valid choice" rather than the database overflowing."""
    if isinstance(value, int):
        return value
    number = read_number(str(value))
    if number is None:
        raise ValueError(value)
    return number


def _coerce_optional_int(value):
    return _row_id(value) if value not in (None, "", "None") else None


# --- report actions ------------------------------------------------------------------


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), validators=[DataRequired()])
    message = TextAreaField(
        _l("Message to the citizen"),
        validators=[Optional(), Length(max=MESSAGE_MAX)],
        filters=WORDS,
    )
    note = TextAreaField(
        _l("Internal note (not sent)"), validators=[Optional(), Length(max=4000)], filters=WORDS
    )


class ReplyForm(FlaskForm):
    message = TextAreaField(
        _l("Message to the citizen"),
        validators=[DataRequired(), Length(max=MESSAGE_MAX)],
        filters=WORDS,
    )


class NoteForm(FlaskForm):
    note = TextAreaField(
        _l("Internal note"), validators=[DataRequired(), Length(max=4000)], filters=WORDS
    )


class PublicForm(FlaskForm):
    """The public site's moderation of one report (the buttons say which action)."""

    text = TextAreaField(
        _l("Public text"), validators=[Optional(), Length(max=2000)], filters=WORDS
    )


class AssignForm(FlaskForm):
    service = SelectField(_l("Service"), coerce=_row_id, validators=[DataRequired()])
    assignee = SelectField(_l("Agent"), coerce=_coerce_optional_int, validators=[Optional()])


class RecategoriseForm(FlaskForm):
    category = SelectField(_l("Category"), coerce=_row_id, validators=[DataRequired()])


class MergeForm(FlaskForm):
    target = StringField(
        _l("Duplicate of report"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*#?[0-9]{1,9}\s*$", message=_l("Write a number: #1042")),
        ],
    )
    message = TextAreaField(
        _l("Message to the citizen"),
        validators=[Optional(), Length(max=MESSAGE_MAX)],
        filters=WORDS,
    )


# --- admin ---------------------------------------------------------------------------

CODE = Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lower-case letters, digits and dashes."))


class ServiceForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32), CODE])
    name_fr = StringField(
        _l("Name (French)"), validators=[DataRequired(), Length(max=128)], filters=WORDS
    )
    name_en = StringField(
        _l("Name (English)"), validators=[DataRequired(), Length(max=128)], filters=WORDS
    )
    active = BooleanField(_l("Active"), default=True)


QUESTION_KINDS = [
    ("", _l("No question")),
    ("yesno", _l("Yes or no")),
    ("choice", _l("A choice among listed options")),
    ("number", _l("A number")),
    ("text", _l("A short text")),
]


class CategoryForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32), CODE])
    name_fr = StringField(
        _l("Name (French)"), validators=[DataRequired(), Length(max=128)], filters=WORDS
    )
    name_en = StringField(
        _l("Name (English)"), validators=[DataRequired(), Length(max=128)], filters=WORDS
    )
    service_id = SelectField(_l("Service"), coerce=_row_id, validators=[DataRequired()])
    kind = SelectField(
        _l("Kind"), choices=[(PROBLEM, _l("Problem")), (IDEA, _l("Idea"))], default=PROBLEM
    )
    sla_hours = IntegerField(
        _l("SLA (hours)"), default=72, validators=[InputRequired(), NumberRange(1, 24 * 365)]
    )
    position = IntegerField(
        _l("Menu position"), default=0, validators=[Optional(), NumberRange(-9999, 9999)]
    )
    photo_required = BooleanField(_l("Photo required"))
    ask_if_fixed = BooleanField(_l("Ask the citizen whether it is fixed"), default=True)
    description_public = BooleanField(_l("Citizens' descriptions public on the public site"))
    keywords = StringField(
        _l("Keywords for the free-text reader"), validators=[Optional(), Length(max=500)]
    )
    urgent_by_default = BooleanField(_l("Every report of this category is urgent"))
    urgent_sla_hours = IntegerField(
        _l("Deadline of an urgent report (hours)"),
        default=4,
        validators=[Optional(), NumberRange(1, 24 * 30)],
    )
    # Up to two short questions asked after the description (models/question.py).
    q1_kind = SelectField(_l("Question 1"), choices=QUESTION_KINDS, default="")
    q1_fr = StringField(_l("Question 1 (French)"), validators=[Optional(), Length(max=120)])
    q1_en = StringField(_l("Question 1 (English)"), validators=[Optional(), Length(max=120)])
    q1_options = TextAreaField(
        _l("Question 1: the choices, one per line"), validators=[Optional(), Length(max=1000)]
    )
    q1_urgent = StringField(_l("Question 1: urgent when"), validators=[Optional(), Length(max=200)])
    q2_kind = SelectField(_l("Question 2"), choices=QUESTION_KINDS, default="")
    q2_fr = StringField(_l("Question 2 (French)"), validators=[Optional(), Length(max=120)])
    q2_en = StringField(_l("Question 2 (English)"), validators=[Optional(), Length(max=120)])
    q2_options = TextAreaField(
        _l("Question 2: the choices, one per line"), validators=[Optional(), Length(max=1000)]
    )
    q2_urgent = StringField(_l("Question 2: urgent when"), validators=[Optional(), Length(max=200)])
    active = BooleanField(_l("Active"), default=True)


class DangerWordsForm(FlaskForm):
    words = TextAreaField(
        _l("Danger words, one per line"), validators=[Optional(), Length(max=8000)]
    )


class AgentForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=255), Regexp(EMAIL_RE, message=_l("Not an email."))],
    )
    name = StringField(_l("Name"), validators=[Optional(), Length(max=128)])
    role = SelectField(_l("Role"), choices=[(r, r) for r in ROLES], default="agent")
    services = SelectMultipleField(_l("Services"), coerce=_row_id)
    password = PasswordField(
        _l("Password (leave empty to keep it)"), validators=[Optional(), Length(min=10, max=512)]
    )
    active = BooleanField(_l("Active"), default=True)


class TemplateForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=128)], filters=WORDS)
    status = SelectField(_l("For the status"), validators=[Optional()])
    category_id = SelectField(
        _l("For the category"), coerce=_coerce_optional_int, validators=[Optional()]
    )
    body = TextAreaField(
        _l("Message"), validators=[DataRequired(), Length(max=MESSAGE_MAX)], filters=WORDS
    )
    active = BooleanField(_l("Active"), default=True)

    def validate_body(self, field) -> None:
        import string

        from console.present import PLACEHOLDERS

        try:
            names = {n for _, n, _, _ in string.Formatter().parse(field.data) if n is not None}
        except ValueError as exc:
            raise ValidationError(_l("Unbalanced braces in the message.")) from exc
        unknown = names - set(PLACEHOLDERS)
        if unknown:
            raise ValidationError(
                _l("Unknown placeholder(s): %(names)s", names=", ".join(sorted(unknown)))
            )


class ZoneForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=128)])
    kind = SelectField(
        _l("Kind"),
        choices=[(BOUNDARY, _l("Town boundary")), (PILOT, _l("Pilot zone"))],
        default=PILOT,
    )
    geojson = FileField(
        _l("GeoJSON file"),
        validators=[FileRequired(), FileAllowed(["geojson", "json"], _l("A .geojson file."))],
    )


# --- rollout: the pilot, API keys, the audit log ---------------------------------------


class PilotSwitchForm(FlaskForm):
    on = HiddenField(validators=[AnyOf(("1", "0"))])


class PilotServicesForm(FlaskForm):
    services = SelectMultipleField(
        _l("Services offered during the pilot"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("None ticked: every service is offered."),
    )


class PilotOpeningForm(FlaskForm):
    opens_on = StringField(
        _l("Opens to everyone on"),
        validators=[Optional(), Length(max=64)],
        description=_l("As residents will read it, e.g. “1er juin 2026”. Empty: “soon”."),
    )


class InviteForm(FlaskForm):
    code = StringField(_l("Invite code"), validators=[DataRequired(), Length(max=32)])
    label = StringField(_l("Label"), validators=[Optional(), Length(max=128)])

    def validate_code(self, field) -> None:
        from services import words
        from services.pilot import PilotError, normalise_code
        from services.texts import fold

        try:
            normalise_code(field.data)
        except PilotError as exc:
            if words.parse(fold(field.data).strip()) is not None:
                raise ValidationError(
                    _l("The bot already understands this word: choose another code.")
                ) from exc
            raise ValidationError(
                _l("3 to 32 letters, digits, “-” or “_”, with at least one letter.")
            ) from exc


def allowlist_channels() -> str:
    """The channels an allowlist entry may name, in the agent's language: "SMS, Telegram"."""
    return ", ".join(channel_label(c.name) for c in channels.on_allowlists())


class AllowForm(FlaskForm):
    identity = StringField(validators=[DataRequired(), Length(max=64)])
    label = StringField(_l("Label"), validators=[Optional(), Length(max=128)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        named = allowlist_channels()
        self.identity.label.text = _(
            "Phone number, user id or address (%(channels)s)", channels=named
        )

    def validate_identity(self, field) -> None:
        from services.pilot import PilotError, identity

        try:
            identity(field.data, current_runtime().settings.DEFAULT_REGION)
        except PilotError as exc:
            channels_named = allowlist_channels()
            raise ValidationError(
                _(
                    "Not a phone number, user id or address of %(channels)s.",
                    channels=channels_named,
                )
            ) from exc


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name of the tool"),
        validators=[DataRequired(), Length(max=128)],
        description=_l("Who will use the key, e.g. “GMAO voirie”."),
    )
    full = BooleanField(
        _l("Reads the town's full record"),
        description=_l(
            "The citizens' descriptions, the typed addresses and the agents' words as sent. "
            "Unticked: only what the public site shows."
        ),
    )
    communes = SelectMultipleField(
        _l("Communes"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("None ticked: every commune."),
    )


class AuditForm(FlaskForm):
    """The audit export's period (a GET download: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    since = DateField(_l("From"), validators=[DataRequired()])
    until = DateField(_l("To (included)"), validators=[DataRequired()])

    def validate_until(self, field) -> None:
        if self.since.data and field.data and field.data < self.since.data:
            raise ValidationError(_l("The end comes before the start."))
