"""The launch kit: PDFs rendered to images, their QR codes decoded back to the links."""

from __future__ import annotations

import io
import os
import subprocess

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp
from PIL import Image

from app.cli import cli
from app.factory import create_app
from models.audit import admin_changes
from services import pilot, town_logo
from services.audit import Actor
from services.launchkit import LaunchKitError, agent_guide_pdf, flyer_pdf, kit_for, poster_pdf
from tests.conftest import base_config
from tests.fakes.telegram_api import DEFAULT_BOT_USERNAME, FakeTelegramAPI
from tests.helpers import admin_id, csrf_token, log_in_as

SMS_URL = "sms:+33612345678?body=Bonjour"
SITE_URL = "https://webleads.example.org/reports"


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
    assert codes == sorted(["https://t.me/VitreBot", SMS_URL, SITE_URL])
    assert "Signalez-le à la ville de Vitré" in text
    assert "06 12 34 56 78" in text
    assert "choisissez le type de problème" in text and "Recevez un numéro" in text
    # ... and where residents see what is already reported, and follow it.
    flat = " ".join(text.split())
    assert "Déjà signalé ? Voyez les signalements" in flat and "/reports" in flat, flat
    assert "SUIVRE" in flat
    assert "signalez aussi sur https://webleads.example.org/signaler" in flat, flat
    assert "Envoyez SUPPRIMER (ou /supprimer sur Telegram)" in flat  # its command menu


def test_during_a_pilot_the_telegram_code_carries_the_invitation(kit_app) -> None:
    rt = kit_app.extensions["webleads"]
    with rt.db.transaction() as session:
        pilot.add_code(session, Actor("admin@vitre.example"), "Centre", "Quartier du centre")
        pilot.set_opening(session, Actor("admin@vitre.example"), "1er juin 2026")
    rt.catalog.invalidate()
    codes, text = read_pdf(poster_pdf(kit(kit_app)))
    assert codes == sorted(["https://t.me/VitreBot?start=centre", SMS_URL, SITE_URL])
    assert "Phase pilote" in text and "1er juin 2026" in text and "CENTRE" in text


def test_the_agents_guide(kit_app) -> None:
    codes, text = read_pdf(agent_guide_pdf(kit(kit_app)))
    assert codes == []
    assert "Guide de l’agent – Vitré" in text
    assert "https://webleads.example.org/console/login" in text
    assert "Clos" in text and "Doublon" in text
    # The field crews' phone: linking it, their list, closing with a photo.
    flat = " ".join(text.split())
    assert "Mon téléphone" in flat and "/agent CODE" in flat and "/taches" in flat
    assert "fait 1042" in flat and "photo" in flat and "sans photo" in flat
    assert "Telegram ou SMS" in flat  # the channels the town has, from the registry


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
    assert codes == sorted([f"https://t.me/{DEFAULT_BOT_USERNAME}", SITE_URL])
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
    assert codes == sorted(["https://t.me/VitreBot?start=quartier-nord", SMS_URL, SITE_URL])


def test_nothing_to_print_without_a_channel(sqlite_app) -> None:
    with pytest.raises(LaunchKitError, match="Nothing to print"):
        kit(sqlite_app)
    result = sqlite_app.test_cli_runner().invoke(cli, ["launch-kit"])
    assert result.exit_code != 0 and "Nothing to print" in result.output


# --- what a print shop checks -------------------------------------------------------------


@pytest.mark.parametrize("make", [poster_pdf, flyer_pdf, agent_guide_pdf],
                         ids=["poster", "flyer", "guide"])  # fmt: skip
def test_every_font_is_embedded(kit_app, make, tmp_path) -> None:
    """pdffonts, as a print shop's preflight: every font embedded (and subset)."""
    path = tmp_path / "kit.pdf"
    path.write_bytes(make(kit(kit_app)))
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]  # fmt: skip
    assert listing, "the document names its fonts"
    for row in listing:
        emb, sub = row.split()[-5:-3]
        assert (emb, sub) == ("yes", "yes"), row


@pytest.mark.parametrize("make", [poster_pdf, flyer_pdf], ids=["poster A4", "flyer A5"])
def test_the_page_is_filled_to_its_foot(kit_app, make, tmp_path) -> None:
    """pdftoppm renders the page: each third of it carries ink (no empty lower third)."""
    path = tmp_path / "kit.pdf"
    path.write_bytes(make(kit(kit_app)))
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", str(path),
                    str(tmp_path / "page")], check=True)  # fmt: skip
    page = Image.open(tmp_path / "page.png").convert("L")
    thirds = [page.crop((0, page.height * i // 3, page.width, page.height * (i + 1) // 3))
              for i in range(3)]  # fmt: skip
    inked = [sum(1 for v in third.getdata() if v < 200) / (third.width * third.height)
             for third in thirds]  # fmt: skip
    assert all(share > 0.05 for share in inked), inked


def test_the_examples_are_the_towns_own_categories(kit_app) -> None:
    _, text = read_pdf(poster_pdf(kit(kit_app)))
    flat = " ".join(text.split())
    assert "Nid-de-poule, trottoir abîmé" in flat
    assert "banc" not in flat.lower()  # the demo town has no bench category


def test_the_logo_uploaded_in_the_console_is_printed(kit_app, tmp_path) -> None:
    rt = kit_app.extensions["webleads"]
    client = kit_app.test_client()
    log_in_as(client, admin_id(rt))
    token = csrf_token(client)
    refused = client.post(
        "/console/admin/launch-kit/logo",
        follow_redirects=True,
        data={"csrf_token": token, "logo": (io.BytesIO(b"GIF89a..."), "l.gif")},
    )
    assert "PNG ou JPEG" in refused.get_data(as_text=True)
    before = images_in(poster_pdf(kit(kit_app)))
    logo = io.BytesIO()  # noise: about 1.5 MB, over the app's 1 MB form limit
    Image.frombytes("RGB", (900, 600), os.urandom(900 * 600 * 3)).save(logo, "PNG")
    assert 1024 * 1024 < logo.tell() < town_logo.LOGO_MAX_BYTES
    logo.seek(0)
    saved = client.post(
        "/console/admin/launch-kit/logo",
        follow_redirects=True,
        data={"csrf_token": token, "logo": (logo, "logo.png")},
    )
    assert "Logo enregistré" in saved.get_data(as_text=True)
    printed = kit(kit_app)
    assert Image.open(io.BytesIO(printed.logo)).size == (600, 400)  # made small for print
    assert images_in(poster_pdf(printed)) == before + 1
    assert images_in(flyer_pdf(printed)) == before + 1
    with rt.db.reading() as session:
        [row] = [r for r in admin_changes(session) if r.thing == "logo"]
    assert row.action == "updated" and row.actor == "admin@vitre.example"


def images_in(data: bytes) -> int:
    """How many pictures the first page draws (the QR codes, the logo)."""
    document = pdfium.PdfDocument(data)
    try:
        kinds = [obj.type for obj in document[0].get_objects()]
    finally:
        document.close()
    return kinds.count(pdfium_c.FPDF_PAGEOBJ_IMAGE)
