"""The launch kit: an A4 poster, an A5 flyer (QR codes to the bot) and the agents' guide.

PDFs in French with the town's name, made with fpdf2 and qrcode. With several communes
(an intercommunalité), one kit names the intercommunalité and one per commune names it
and points to its reports on the public site; all carry the same bot (the citizen's place
decides the commune). While a pilot with
invite codes is on, the Telegram QR code carries the pilot's code (`?start=CODE`), so
whoever scans the poster is let in. The SMS QR code opens the phone's messages to the
town's number with "Bonjour" typed.

fpdf2's built-in fonts cover Latin-1 (French letters with accents included); anything
else in a town's name is written with its closest Latin-1 spelling.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import qrcode
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M
from sqlmodel import Session

from models.commune import commune_by_insee
from services import channels
from services.channels import Invite
from services.runtime import Runtime

FILES = {"poster": "affiche-A4.pdf", "flyer": "flyer-A5.pdf", "guide": "guide-agents.pdf"}
FONT = "Helvetica"
# An intercommunalité's poster lists its communes up to this many (else: how many).
LISTED_COMMUNES = 12
# Page sizes in mm (fpdf2 warns about its own A5 since it corrected it).
PAGES = {"A4": (210, 297), "A5": (148, 210)}
INK = (33, 37, 41)
ACCENT = (0, 83, 155)  # a calm blue, readable in black and white too

HOW_TO = (
    "Choisissez le type de problème : nid-de-poule, lampadaire, dépôt sauvage, tag...",
    "Décrivez-le en quelques mots, ajoutez une photo et le lieu.",
    "Recevez un numéro de suivi (#1042) et les nouvelles jusqu'à la résolution.",
)
# Characters outside Latin-1 that French text uses, and their plain spelling.
PLAIN = str.maketrans(
    {
        "œ": "oe",
        "Œ": "OE",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "\u202f": " ",
        "€": "EUR",
    }
)


class LaunchKitError(RuntimeError):
    """Nothing to print (no channel set up), or the bot's name could not be found."""


TOWN, COMMUNE, INTERCOMMUNALITY = "town", "commune", "intercommunality"


@dataclass(frozen=True)
class Kit:
    """What the printed matter says: the town, how to start on each channel, the pilot.

    `scope` says whose kit it is: the lone town's, one commune's of an intercommunalité
    (`commune`: its INSEE code), or the intercommunalité's (`communes`: their names)."""

    town: str
    base_url: str
    invites: tuple[Invite, ...]  # one per enabled channel that can print one
    invite_code: str | None
    pilot_note: str | None
    scope: str = TOWN
    commune: str | None = None
    communes: tuple[str, ...] = ()

    def url_of(self, label: str) -> str | None:
        return next((i.url for i in self.invites if i.label == label), None)

    @property
    def headline(self) -> str:
        if self.scope == INTERCOMMUNALITY:
            return f"Signalez-le à {self.town}"
        return f"Signalez-le à la ville {_of(self.town)}"

    @property
    def reports_url(self) -> str:
        """The public list of reports: the commune's own for a commune's kit."""
        url = f"{self.base_url}/reports"
        return f"{url}?commune={self.commune}" if self.commune else url


def kit_for(rt: Runtime, code: str | None = None, commune: str | None = None) -> Kit:
    """Gathers what the kit prints, from the settings, the catalog, the pilot and each
    channel (services/channels.py). A channel may ask its provider how it is reached
    (Telegram's getMe): that is done after the database session is closed.

    `commune` (an INSEE code): that commune's kit. Without it, with several communes, the
    intercommunalité's."""
    settings = rt.settings
    with rt.db.reading() as session:
        snapshot = rt.catalog.get(session)
        rules = snapshot.pilot
        if code is None and rules.groups and rules.codes:
            code = _first_code(session)
        zone = commune_by_insee(session, commune.strip().upper()) if commune else None
        if commune and zone is None:
            raise LaunchKitError(f"No commune {commune!r}: see webleads commune list.")
    invites = []
    for channel in channels.all_channels():
        if channel.invite is None:
            continue
        try:
            invite = channel.invite(settings, code)
        except channels.InviteUnavailable as exc:
            raise LaunchKitError(str(exc)) from exc
        if invite is not None:
            invites.append(invite)
    if not invites:
        raise LaunchKitError(
            "Nothing to print: set TELEGRAM_BOT_USERNAME (or TELEGRAM_BOT_TOKEN) or "
            "TWILIO_FROM_NUMBER first."
        )
    kit = Kit(
        town=snapshot.area_name or "votre commune",
        base_url=settings.PUBLIC_BASE_URL.rstrip("/"),
        invites=tuple(invites),
        invite_code=code,
        pilot_note=_pilot_note(snapshot) if rules.restricts else None,
    )
    if zone is not None:
        return replace(kit, town=zone.name, scope=COMMUNE, commune=zone.insee)
    if snapshot.several_communes:
        names = tuple(name for _, name in snapshot.communes)
        return replace(kit, scope=INTERCOMMUNALITY, communes=names)
    return kit


def kits_for(rt: Runtime, code: str | None = None) -> dict[str, Kit]:
    """Every kit a communication team prints: by folder ("": the town's or the
    intercommunalité's; with several communes, one more per commune, `35109-etrelles`)."""
    main = kit_for(rt, code)
    kits = {"": main}
    if main.scope == INTERCOMMUNALITY:
        with rt.db.reading() as session:
            communes = rt.catalog.get(session).communes
        for insee, name in communes:
            kits[f"{insee}-{_slug(name)}"] = replace(main, town=name, scope=COMMUNE,
                                                     commune=insee, communes=())  # fmt: skip
    return kits


def _of(name: str) -> str:
    """'de Vitré', 'd'Étrelles': French elides 'de' before a vowel."""
    first = unicodedata.normalize("NFD", name[:1])[:1].lower()
    return f"d'{name}" if first in "aeiouy" else f"de {name}"


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in plain).split()) or "commune"


def _first_code(session: Session) -> str | None:
    from models.pilot import active_invite_codes

    codes = active_invite_codes(session)
    return codes[0] if codes else None


def _pilot_note(snapshot) -> str:
    rules = snapshot.pilot
    parts = ["Phase pilote"]
    if rules.zones:
        parts.append(f"secteur : {', '.join(rules.zones)}")
    if rules.services:
        names = [s.name_fr for s in snapshot.services.values() if s.code in rules.services]
        parts.append(f"services : {', '.join(names)}")
    note = " - ".join(parts) + "."
    if rules.opens_on:
        note += f" Ouverture à tous le {rules.opens_on}."
    return note


# --- the documents ------------------------------------------------------------------------


def write_kit(kit: Kit, out_dir: str | Path) -> dict[str, Path]:
    """Writes the poster, the flyer and the agents' guide; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    makers = {"poster": poster_pdf, "flyer": flyer_pdf, "guide": agent_guide_pdf}
    paths = {}
    for name, make in makers.items():
        paths[name] = out / FILES[name]
        paths[name].write_bytes(make(kit))
    return paths


def poster_pdf(kit: Kit) -> bytes:
    """The A4 poster: the town, two QR codes, three lines on how to report."""
    return _citizens_page(kit, "A4", scale=1.0)


def flyer_pdf(kit: Kit) -> bytes:
    """The A5 flyer: the poster's content, smaller."""
    return _citizens_page(kit, "A5", scale=0.7)


def _citizens_page(kit: Kit, page_format: str, scale: float) -> bytes:
    pdf = _document(f"Signaler un problème - {kit.town}", page_format)
    width = pdf.epw
    _write(pdf, 26 * scale, "B", "Un problème dans la rue ?", ACCENT, align="C")
    _write(pdf, 18 * scale, "B", kit.headline, INK, align="C")
    if kit.communes:
        _write(pdf, 11 * scale, "", _communes_line(kit.communes), INK, align="C")
    pdf.ln(2 * scale)
    _write(
        pdf,
        12 * scale,
        "",
        "Nid-de-poule, lampadaire en panne, dépôt sauvage, tag, banc cassé... ou une idée "
        + ("pour votre commune." if kit.scope == INTERCOMMUNALITY else "pour la ville."),
        INK,
        align="C",
    )
    pdf.ln(6 * scale)
    codes = [(label, url) for label, url in _codes(kit) if url]
    size = min(70 * scale, (width - 10 * (len(codes) - 1)) / max(len(codes), 1))
    gap = (width - size * len(codes)) / (len(codes) + 1)
    top = pdf.get_y()
    for i, (label, url) in enumerate(codes):
        x = pdf.l_margin + gap + i * (size + gap)
        pdf.image(_qr(url), x=x, y=top, w=size, h=size)
        pdf.set_xy(x - gap / 2, top + size + 2)
        pdf.set_font(FONT, "B", 12 * scale)
        pdf.multi_cell(size + gap, 6 * scale, _plain(label[0]), align="C")
        pdf.set_x(x - gap / 2)
        pdf.set_font(FONT, "", 10 * scale)
        pdf.multi_cell(size + gap, 5 * scale, _plain(label[1]), align="C")
    pdf.set_y(top + size + 24 * scale)
    _write(pdf, 15 * scale, "B", "Comment faire ?", ACCENT)
    for number, line in enumerate(HOW_TO, start=1):
        _write(pdf, 12 * scale, "", f"{number}. {line}", INK)
    pdf.ln(3 * scale)
    _write(pdf, 12 * scale, "B", public_page_line(kit), INK)
    pdf.ln(2 * scale)
    if kit.pilot_note:
        _write(pdf, 11 * scale, "B", kit.pilot_note, INK)
        if kit.invite_code:
            _write(
                pdf,
                10 * scale,
                "",
                f"Code d'invitation : {kit.invite_code.upper()} "
                "(déjà inclus dans le QR code Telegram ; par SMS, envoyez-le).",
                INK,
            )
    _write(
        pdf,
        9 * scale,
        "",
        "Vos données servent au suivi de vos signalements. Envoyez "
        "SUPPRIMER (ou /supprimer sur Telegram) pour les effacer à tout moment. Envoyez "
        "STOP pour ne plus recevoir de messages.",
        INK,
    )
    return bytes(pdf.output())


def _communes_line(names: tuple[str, ...]) -> str:
    if len(names) > LISTED_COMMUNES:
        return f"Dans ses {len(names)} communes"
    return "Dans les communes : " + ", ".join(names)


def public_page_line(kit: Kit) -> str:
    """The poster's pointer to the public site: what is reported, and following it."""
    return (
        f"Déjà signalé ? Voyez les signalements et leur suivi sur {kit.reports_url} "
        "- et suivez-en un en envoyant SUIVRE et son numéro."
    )


def _codes(kit: Kit) -> list[tuple[tuple[str, str], str | None]]:
    return [((i.label, i.instruction), i.url) for i in kit.invites]


GUIDE = (
    (
        "Se connecter",
        (
            "Ouvrez {console} et entrez votre adresse e-mail et votre mot de passe "
            "(donnés par l'administrateur). Après plusieurs erreurs, la connexion est bloquée "
            "quelques minutes.",
        ),
    ),
    (
        "Travailler la file",
        (
            "La file montre les signalements de vos services, les plus urgents d'abord : filtrez "
            "par statut, catégorie, secteur ; la carte les montre aussi.",
            "Un délai (SLA) par catégorie : un signalement en retard est signalé en rouge.",
            "Ouvrez un signalement : description, photo, lieu, historique complet.",
        ),
    ),
    (
        "Les statuts",
        (
            "Nouveau -> Pris en compte -> En cours -> Résolu.",
            "Clos : sans suite (hors compétence, rien à faire) ; un message public est "
            "obligatoire pour expliquer pourquoi.",
            "Doublon : fusionné avec un autre signalement, dont les abonnés reçoivent la suite.",
            "Chaque changement prévient le citoyen sur Telegram ou par SMS, avec votre message.",
        ),
    ),
    (
        "Écrire au citoyen",
        (
            "Le message public part au citoyen, à son nom. La note interne reste entre agents.",
            "Soyez concret : ce qui sera fait, et quand. Pas de données personnelles.",
        ),
    ),
    (
        "Le site public",
        (
            "Chaque signalement a sa page publique (/reports/1042) : catégorie, lieu sans "
            "numéro de rue, statut et vos messages publics, sans nom ni numéro.",
            "Les mots du citoyen n'y sont que si sa catégorie le prévoit ou si vous les "
            "publiez ; vous pouvez écrire un texte public à leur place. Une photo n'y est "
            "qu'une fois approuvée. « Masquer » retire le signalement du site.",
        ),
    ),
    (
        "Données personnelles",
        (
            "Les numéros de téléphone sont masqués ; les photos ne sont visibles qu'une fois "
            "connecté. Chaque action est enregistrée (qui, quand) et exportable par "
            "l'administrateur.",
            "Un citoyen peut effacer ses données à tout moment : ses signalements restent, "
            "sans son nom.",
        ),
    ),
)


def agent_guide_pdf(kit: Kit) -> bytes:
    """A one-page guide for agents: logging in, the queue, the statuses."""
    pdf = _document(f"Guide de l'agent - {kit.town}", "A4")
    _write(pdf, 20, "B", f"Guide de l'agent - {kit.town}", ACCENT)
    _write(pdf, 11, "", "Signalements des citoyens par Telegram et SMS : la console.", INK)
    pdf.ln(2)
    console = f"{kit.base_url}/console/login"
    for title, lines in GUIDE:
        pdf.ln(2)
        _write(pdf, 13, "B", title, ACCENT)
        for line in lines:
            _write(pdf, 10.5, "", "- " + line.format(console=console), INK)
    return bytes(pdf.output())


# --- drawing -----------------------------------------------------------------------------


def _document(title: str, page_format: str) -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format=PAGES[page_format])
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=False)
    pdf.set_title(_plain(title))
    pdf.set_lang("fr")
    pdf.set_creator("webleads-tracker")
    pdf.add_page()
    return pdf


def _write(pdf: FPDF, size: float, style: str, text: str, color, align: str = "L") -> None:
    pdf.set_font(FONT, style, size)
    pdf.set_text_color(*color)
    pdf.set_x(pdf.l_margin)
    pdf.multi_cell(pdf.epw, size * 0.5, _plain(text), align=align)
    pdf.ln(size * 0.15)


def _qr(url: str):
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image()


def _plain(text: str) -> str:
    """Writes text with the built-in fonts' Latin-1 letters."""
    return text.translate(PLAIN).encode("latin-1", "replace").decode("latin-1")
