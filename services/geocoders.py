"""Which geocoder GEOCODER names: the national address API (ban), Nominatim, the town's
imported addresses (local, no network) or none."""

from __future__ import annotations

import logging

from services.geo import BanGeocoder, NoGeocoder, NominatimGeocoder
from services.geo_local import LocalGeocoder

log = logging.getLogger(__name__)


def make_geocoder(settings, db=None):
    """Builds the geocoder GEOCODER names (ban, nominatim, local, none; unset: see below)."""
    choice = settings.GEOCODER or _unset_choice(settings, db)
    if choice == "ban":
        return BanGeocoder(settings.GEOCODER_URL or None)
    if choice == "nominatim":
        return NominatimGeocoder(settings.GEOCODER_URL or None)
    if choice == "local":
        if db is None:
            raise ValueError("GEOCODER=local searches the database: make_geocoder needs db")
        return LocalGeocoder(db)
    return NoGeocoder()


def _unset_choice(settings, db) -> str:
    """GEOCODER left unset: ban, except in development once addresses are imported.

    `make run` then geocodes the demo town's addresses (seed-demo imports them) without
    network; production keeps the documented default, the national address service.
    """
    if settings.is_production or db is None:
        return "ban"
    from sqlalchemy.exc import SQLAlchemyError

    from models.address import has_addresses

    try:
        with db.reading() as session:
            imported = has_addresses(session)
    except SQLAlchemyError:  # not migrated yet (`webleads init-db` is running)
        return "ban"
    if not imported:
        return "ban"
    log.warning("GEOCODER is not set: searching the addresses imported with geo import-ban "
                "or seed-demo (GEOCODER=local, no network); set GEOCODER=ban for the "
                "national address service")  # fmt: skip
    return "local"
