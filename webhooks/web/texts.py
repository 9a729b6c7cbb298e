"""The words of the web channel's pages (the bot's own words come from the engine)."""

from __future__ import annotations

from dataclasses import dataclass

from services.media import MAX_PHOTO_BYTES
from services.texts import N_, translate

# A sentence, a description or an address; longer is refused, politely.
MAX_TEXT = 1000


@dataclass(frozen=True)
class Page:
    """The words of a page that says one thing (web/problem.html), or asks for one click
    (web/confirm.html: its button)."""

    title: str
    message: str
    button: str | None = None

    def translated(self, language: str, **values) -> dict[str, str]:
        """The page's title, message (its placeholders filled) and button, translated."""
        words = {
            "title": translate(language, self.title),
            "message": translate(language, self.message, **values),
        }
        if self.button is not None:
            words["button"] = translate(language, self.button)
        return words


# The label of the step page's text field (routes.TEXT_LABELS: by the question asked).
SENTENCE = N_("Describe the problem in one sentence")
DESCRIBE = N_("Describe the problem")
PLACE = N_("Address or landmark")
PLACE_AGAIN = N_("Or type the address again")
ANSWER = N_("Your answer")

EXPIRED = Page(
    title=N_("Your session has ended"),
    message=N_(
        "This page was left open for too long, or your browser does not keep cookies. "
        "Nothing that was not confirmed has been filed. You can start again."
    ),
)
REFUSED_TITLE = N_("This form could not be sent")
REFUSALS = {
    "honeypot": N_(
        "This form could not be sent. If you are a person, leave the field “Website” empty "
        "and send it again."
    ),
    "throttled": N_(
        "Many forms were sent from your connection in a short time. Please wait a few "
        "minutes, then try again."
    ),
    "too_long": N_("Your message is too long: at most {max_text} characters, please."),
    "too_big": N_("This picture is too large (the limit is {limit} MB). Choose a smaller one."),
    "store_down": N_(
        "Your photo could not be saved just now; nothing was lost. Please send it again in a "
        "minute."
    ),
    "bad_email": N_("This e-mail address does not look right. Please check it."),
    "no_report": N_("An e-mail address can be given once your report is registered."),
}


def refusal(language: str, reason: str) -> str:
    return translate(language, REFUSALS[reason], max_text=MAX_TEXT,
                     limit=MAX_PHOTO_BYTES // (1024 * 1024))  # fmt: skip
