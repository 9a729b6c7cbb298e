"""The launch kit: PDFs rendered to images, their QR codes decoded back to the links."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import zxingcpp

from bot.app import create_app
from bot.cli import cli
from services import pilot
from services.audit import Actor
from services.launchkit import LaunchKitError, agent_guide_pdf, flyer_pdf, kit_for, poster_pdf
from tests.conftest import base_config
from tests.fakes.telegram_api import DEFAULT_BOT_USERNAME, FakeTelegramAPI

SMS_URL = "sms:+33612345678?body=Bonjour"


@pytest.fixture
def kit_app(database_url, tmp_path):
    """The app on each backend, with a bot name and a town SMS number."""
    app = create_app(
        {
            **base_config(database_url, tmp_path),
            "TELEGRAM_BOT_USERNAME": "VitreBot",
            "TWILIO_FROM_NUMBER": "+33612345678",
        }
    )
    yield app
    app.extensions["webleads"].db.dispose()


def read_pdf(data: bytes) -> tuple[list[str], str]:
    """Renders each page, decodes its QR codes; returns (the codes' texts, the text)."""
    document = pdfium.PdfDocument(data)
    codes, text = [], ""
    try:
        for page in document:
            image = page.render(scale=2).to_pil()
            codes += [result.text for result in zxingcpp.read_barcodes(image)]
            text += page.get_textpage().get_text_range()
    finally:
        document.close()
    return sorted(codes), text


def kit(app, code=None):
    return kit_for(app.extensions["webleads"], code)


@pytest.mark.parametrize("make", [poster_pdf, flyer_pdf], ids=["poster A4", "flyer A5"])
def test_the_qr_codes_open_the_bot_and_the_sms(kit_app, make) -> None:
    codes, text = read_pdf(make(kit(kit_app)))
    assert codes == ["https://t.me/VitreBot", SMS_URL]
    assert "Signalez-le à la ville de Vitré" in text
    assert "06 12 34 56 78" in text
    assert "1. Choisissez le type de problème" in text and "3. Recevez un numéro" in text
    # ... and where residents see what is already reported, and follow it.
    flat = " ".join(text.split())
    assert "Déjà signalé ? Voyez les signalements" in flat and "/reports" in flat, flat
    assert "SUIVRE" in flat


def test_during_a_pilot_the_telegram_code_carries_the_invitation(kit_app) -> None:
    rt = kit_app.extensions["webleads"]
    with rt.db.transaction() as session:
        pilot.add_code(session, Actor("admin@vitre.example"), "Centre", "Quartier du centre")
        pilot.set_opening(session, Actor("admin@vitre.example"), "1er juin 2026")
    rt.catalog.invalidate()
    codes, text = read_pdf(poster_pdf(kit(kit_app)))
    assert codes == ["https://t.me/VitreBot?start=centre", SMS_URL]
    assert "Phase pilote" in text and "1er juin 2026" in text and "CENTRE" in text


def test_the_agents_guide(kit_app) -> None:
    codes, text = read_pdf(agent_guide_pdf(kit(kit_app)))
    assert codes == []
    assert "Guide de l'agent - Vitré" in text
    assert "https://webleads.example.org/console/login" in text
    assert "Clos" in text and "Doublon" in text


def test_the_bot_name_comes_from_telegram_when_not_set(sqlite_url, tmp_path) -> None:
    with FakeTelegramAPI() as fake:
        app = create_app(
            {
                **base_config(sqlite_url, tmp_path),
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_WEBHOOK_SECRET": "s",
                "TELEGRAM_API_BASE_URL": fake.base_url,
            }
        )
        try:
            codes, _ = read_pdf(flyer_pdf(kit(app)))
        finally:
            app.extensions["webleads"].db.dispose()
    assert codes == [f"https://t.me/{DEFAULT_BOT_USERNAME}"]
    assert len(fake.calls_to("getMe")) == 1  # asked once, with no database session open


def test_the_command_writes_the_three_files(kit_app, tmp_path) -> None:
    out = tmp_path / "kit"
    result = kit_app.test_cli_runner().invoke(
        cli, ["launch-kit", "--out", str(out), "--code", "Quartier-Nord"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "affiche-A4.pdf",
        "flyer-A5.pdf",
        "guide-agents.pdf",
    ]
    assert "Telegram QR code: https://t.me/VitreBot?start=quartier-nord" in result.output
    codes, _ = read_pdf((out / "affiche-A4.pdf").read_bytes())
    assert codes == ["https://t.me/VitreBot?start=quartier-nord", SMS_URL]


def test_nothing_to_print_without_a_channel(sqlite_app) -> None:
    with pytest.raises(LaunchKitError, match="Nothing to print"):
        kit(sqlite_app)
    result = sqlite_app.test_cli_runner().invoke(cli, ["launch-kit"])
    assert result.exit_code != 0 and "Nothing to print" in result.output
