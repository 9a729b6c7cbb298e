"""The public site: the town's page, the reports on a map and in a list, one report's
page with its follow buttons, the map's GeoJSON and an Atom feed (README, "The public site").

Server-rendered and usable without JavaScript (the map only enhances the list). What a
report shows is its public view (services/public_view.py): never a name, phone number or
chat id; the citizen's words and photos only once the town made them public; a hidden
report is a 404. Pages are in French by default and in English (`?lang=en`), with the
bot's catalog (services/translations: residents read the same words in their chat), so a
page's address says its language and a shared cache can keep each (ETag, Cache-Control).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Registers the public site (after the console: its `int` converter bounds numbers)."""
    from public.body_page import bp as body_page
    from public.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(body_page)  # /b/<token>: another body answers (services/bodies)
