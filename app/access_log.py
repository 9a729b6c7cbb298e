"""Access logs without secrets: the link page's token and Open311's api_key are masked.

The path of the SMS citizens' page (`/r/<token>`) is a credential for 24 hours, and an
`api_key` in a query string is a tool's key: an access log readable by the host's staff
or shipped to a log service must not hold them. The filter rewrites the record itself,
so every handler (file, syslog, journald) gets the masked line. It sits on the loggers
of werkzeug (`webleads run`, the dev server), of gunicorn (access and error logs) and of
the app (Flask's "Exception on <path>"); create_app installs it, in whichever process
builds the app (gunicorn's workers, or its master with --preload, whose workers inherit
it).
"""

from __future__ import annotations

import logging
import re

from services.links import LINK_PATH

MASK = "***"
_SECRETS = (
    # The token is one path segment (and whatever follows up to a space, quote or query).
    (re.compile(re.escape(LINK_PATH) + r"[^\s\"?#]+"), LINK_PATH + MASK),
    (re.compile(r"(?i)(\bapi_key=)[^\s\"&#]*"), r"\g<1>" + MASK),
)
# The access logs, and the error logs that name the request ("Exception on /r/...",
# gunicorn's "Error handling request /r/...").
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def mask(line: str) -> str:
    """Returns the line with link tokens and API keys replaced by ***."""
    for pattern, replacement in _SECRETS:
        line = pattern.sub(replacement, line)
    return line


class MaskSecrets(logging.Filter):
    """Masks link tokens and API keys in every record of the logger it is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install(*loggers: logging.Logger) -> None:
    """Puts the filter on the access loggers and these (once, however many apps are built)."""
    for logger in (*map(logging.getLogger, LOGGERS), *loggers):
        if not any(isinstance(f, MaskSecrets) for f in logger.filters):
            logger.addFilter(MaskSecrets())
