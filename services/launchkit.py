"""The launch kit: an A4 poster, an A5 flyer (QR codes to the bot) and the agents' guide.

PDFs in French with the town's name, made with fpdf2 and qrcode. With several communes
(an intercommunalité), one kit names the intercommunalité and one per commune names it
and points to its reports on the public site; all carry the same bot (the citizen's place
decides the commune). While a pilot with
invite codes is on, the QR codes that can carry the pilot's code do (Telegram's
`?start=CODE`, WhatsApp's prepared message), so whoever scans the poster is let in; the
others open a message to the town with "Bonjour" typed. Each QR code, its name and what
to do come from the channel's spec (`invite`, services/channels.py).

What the kit says and how each page is laid out is here; drawing with fpdf2 (the embedded
font, French typography, QR codes) is services/pdf_drawing.py, the town's logo
services/town_logo.py.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from fpdf import FPDF
from sqlmodel import Session

from models.commune import commune_by_insee
from services import channels
from services.channels import Invite
from services.pdf_drawing import FONT, document, french, qr_image, write_text
from services.runtime import Runtime
from services.town_logo import town_logo

FILES = {"poster": "affiche-A4.pdf", "flyer": "flyer-A5.pdf", "guide": "guide-agents.pdf"}
# An intercommunalité's poster lists its communes up to this many (else: how many).
LISTED_COMMUNES = 12
INK = (33, 37, 41)
ACCENT = (0, 83, 155)  # a calm blue, readable in black and white too
PALE = (232, 240, 248)

HOW_TO = (
    "Écrivez au bot et choisissez le type de problème dans la liste.",
    "Décrivez-le en quelques mots, ajoutez une photo et le lieu.",
    "Recevez un numéro de suivi (#1042) et les nouvelles jusqu'à la résolution.",
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
    categories: tuple[str, ...] = ()  # the town's own problem categories, as printed
    # The channels whose app shows the bot's commands (/supprimer), as printed.
    command_menus: tuple[str, ...] = ()
    logo: bytes | None = None  # the town's logo (PNG), uploaded in the console

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
    invites, command_menus = [], []
    for channel in channels.all_channels():
        if channel.invite is None:
            continue
        try:
            invite = channel.invite(settings, code)
        except channels.InviteUnavailable as exc:
            raise LaunchKitError(str(exc)) from exc
        if invite is not None:
            invites.append(invite)
            if channel.has_command_menu:
                command_menus.append(invite.label)
    if not invites:
        printable = ", ".join(c.label() for c in channels.reachable())
        raise LaunchKitError(
            f"Nothing to print: set up a channel residents can reach ({printable}) first; "
            "its settings are in .env.example."
        )
    kit = Kit(
        town=snapshot.area_name or "votre commune",
        base_url=settings.PUBLIC_BASE_URL.rstrip("/"),
        invites=tuple(invites),
        command_menus=tuple(command_menus),
        invite_code=code,
        pilot_note=_pilot_note(snapshot) if rules.restricts else None,
        categories=tuple(c.name_fr for c in snapshot.categories if c.kind == "problem"),
        logo=town_logo(snapshot.settings),
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
    return f"d’{name}" if first in "aeiouy" else f"de {name}"


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


@dataclass(frozen=True)
class Layout:
    """One page size's measures, in mm and points: a print shop's A4 and A5 differ in
    more than scale (the flyer has smaller type and codes, the poster reads from afar)."""

    page: str
    band: float  # the coloured header's height
    title: float  # font sizes, pt
    headline: float
    text: float
    small: float
    qr_max: float  # a channel's QR code's largest side
    site_qr: float  # the public site's QR code's side


POSTER = Layout("A4", band=62, title=36, headline=22, text=14, small=9.5, qr_max=58, site_qr=30)
FLYER = Layout("A5", band=42, title=22, headline=14, text=10, small=7, qr_max=38, site_qr=22)
GAP = 5  # mm between blocks


def poster_pdf(kit: Kit) -> bytes:
    """The A4 poster: the town, a QR code per channel and one for the public site."""
    return _citizens_page(kit, POSTER)


def flyer_pdf(kit: Kit) -> bytes:
    """The A5 flyer: the same message laid out for a hand-out."""
    return _citizens_page(kit, FLYER)


def _citizens_page(kit: Kit, layout: Layout) -> bytes:
    """The header and the examples at the top; the how-to, the public site and the privacy
    line anchored at the foot; the channels' codes as large as the space between allows."""
    pdf = document(f"Signaler un problème – {kit.town}", layout.page)
    _header(pdf, kit, layout)
    write_text(pdf, layout.text, "", examples_line(kit), INK, align="C")
    top = pdf.get_y() + GAP
    footer_top = _footer(pdf, kit, layout)
    site_top = footer_top - GAP - _site_height(pdf, kit, layout)
    how_to_top = site_top - GAP - _how_to_height(pdf, layout)
    _codes_row(pdf, kit, layout, top, how_to_top - GAP)
    pdf.set_y(how_to_top)
    _how_to(pdf, layout)
    pdf.set_y(site_top)
    _site(pdf, kit, layout)
    return bytes(pdf.output())


def examples_line(kit: Kit) -> str:
    """What to report, from the town's own categories (never one it does not have)."""
    names = [name[:1].lower() + name[1:] for name in kit.categories[:4]]
    idea = "pour votre commune" if kit.scope == INTERCOMMUNALITY else "pour la ville"
    if not names:
        return f"Un problème dans l’espace public, ou une idée {idea}."
    return f"{', '.join(names)}… ou une idée {idea}.".capitalize()


def _header(pdf: FPDF, kit: Kit, layout: Layout) -> None:
    """The coloured band: the logo, the question and whom to tell."""
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 0, pdf.w, layout.band, style="F")
    text_left = pdf.l_margin
    if kit.logo:
        side = layout.band - 2 * pdf.t_margin
        pdf.set_fill_color(255, 255, 255)
        pdf.rect(pdf.l_margin - 2, pdf.t_margin - 2, side + 4, side + 4, style="F")
        pdf.image(io.BytesIO(kit.logo), x=pdf.l_margin, y=pdf.t_margin, w=side, h=side,
                  keep_aspect_ratio=True)  # fmt: skip
        text_left += side + 6
    width = pdf.w - text_left - pdf.r_margin
    pdf.set_xy(text_left, pdf.t_margin)
    pdf.set_font(FONT, "B", layout.title)
    pdf.set_text_color(255, 255, 255)
    pdf.multi_cell(width, layout.title * 0.45, french("Un problème dans la rue ?"), align="L")
    pdf.ln(1)
    pdf.set_x(text_left)
    pdf.set_font(FONT, "", layout.headline)
    pdf.multi_cell(width, layout.headline * 0.45, kit.headline, align="L")
    if kit.communes:
        pdf.set_x(text_left)
        pdf.set_font(FONT, "", layout.small + 1)
        pdf.multi_cell(width, (layout.small + 1) * 0.45, _communes_line(kit.communes))
    pdf.set_y(layout.band + GAP)


def _codes_row(pdf: FPDF, kit: Kit, layout: Layout, top: float, bottom: float) -> None:
    """A QR code per channel with what to do, side by side, centred between top and
    bottom, as large as fits."""
    codes = [(i.label, i.instruction, i.url) for i in kit.invites if i.url]
    if not codes:
        return
    cell = pdf.epw / len(codes)
    label = layout.text * 0.45 + 3 * layout.small * 0.42 + 2
    size = max(20.0, min(layout.qr_max, cell - 6, bottom - top - label))
    y = top + max(0.0, (bottom - top - size - label) / 2)
    for i, (name, instruction, url) in enumerate(codes):
        left = pdf.l_margin + i * cell
        pdf.image(qr_image(url), x=left + (cell - size) / 2, y=y, w=size, h=size)
        pdf.set_xy(left, y + size + 1)
        pdf.set_font(FONT, "B", layout.text)
        pdf.set_text_color(*ACCENT)
        pdf.multi_cell(cell, layout.text * 0.45, name, align="C")
        pdf.set_x(left + 2)
        pdf.set_font(FONT, "", layout.small)
        pdf.set_text_color(*INK)
        pdf.multi_cell(cell - 4, layout.small * 0.42, french(instruction), align="C")


def _how_to_height(pdf: FPDF, layout: Layout) -> float:
    pdf.set_font(FONT, "", layout.text)
    width = pdf.epw - layout.text * 0.56 - 3
    lines = sum(len(pdf.multi_cell(width, 5, line, dry_run=True, output="LINES"))
                for line in HOW_TO)  # fmt: skip
    return layout.text * 0.7 + lines * layout.text * 0.45 + len(HOW_TO) * layout.text * 0.3


def _how_to(pdf: FPDF, layout: Layout) -> None:
    write_text(pdf, layout.text * 1.1, "B", "Comment faire ?", ACCENT)
    radius = layout.text * 0.28
    for number, line in enumerate(HOW_TO, start=1):
        y = pdf.get_y()
        pdf.set_fill_color(*ACCENT)
        pdf.ellipse(pdf.l_margin, y, 2 * radius, 2 * radius, style="F")
        pdf.set_xy(pdf.l_margin, y + radius * 0.25)
        pdf.set_font(FONT, "B", layout.text * 0.9)
        pdf.set_text_color(255, 255, 255)
        pdf.cell(2 * radius, radius * 1.5, str(number), align="C")
        pdf.set_xy(pdf.l_margin + 2 * radius + 3, y)
        pdf.set_font(FONT, "", layout.text)
        pdf.set_text_color(*INK)
        pdf.multi_cell(pdf.epw - 2 * radius - 3, layout.text * 0.45, french(line), align="L")
        pdf.set_y(max(pdf.get_y(), y + 2 * radius) + layout.text * 0.15)


def _site_lines(kit: Kit) -> list[str]:
    lines = [public_page_line(kit), web_line(kit)]
    if kit.pilot_note:
        lines.append(kit.pilot_note)
    if kit.pilot_note and kit.invite_code:
        lines.append(invite_code_line(kit))
    return lines


def invite_code_line(kit: Kit) -> str:
    """The pilot's code: in which QR codes it is already, and where to send it."""
    code = kit.invite_code or ""
    carried = [i.label for i in kit.invites if i.url and code in i.url]
    sent = [i.label for i in kit.invites if i.label not in carried]
    line = f"Code d’invitation : {code.upper()}"
    if not carried:
        return f"{line} (envoyez-le dans votre premier message)."
    inside = f"déjà inclus dans le QR code {_named(carried, 'et')}"
    if not sent:
        return f"{line} ({inside})."
    return f"{line} ({inside} ; par {_named(sent)}, envoyez-le)."


def _site_height(pdf: FPDF, kit: Kit, layout: Layout) -> float:
    pdf.set_font(FONT, "B", layout.text * 0.9)
    width = pdf.epw - layout.site_qr - GAP
    lines = sum(len(pdf.multi_cell(width, 5, line, dry_run=True, output="LINES"))
                for line in _site_lines(kit))  # fmt: skip
    return max(layout.site_qr, lines * layout.text * 0.9 * 0.45 + 4)


def _site(pdf: FPDF, kit: Kit, layout: Layout) -> None:
    """The public site: a box with its QR code, and the pilot's words while one is on."""
    top = pdf.get_y()
    height = _site_height(pdf, kit, layout)
    pdf.set_draw_color(*ACCENT)
    pdf.rect(pdf.l_margin - 2, top - 2, pdf.epw + 4, height + 4)
    pdf.image(qr_image(kit.reports_url), x=pdf.l_margin + pdf.epw - layout.site_qr, y=top,
              w=layout.site_qr, h=layout.site_qr)  # fmt: skip
    pdf.set_xy(pdf.l_margin, top + 1)
    pdf.set_text_color(*INK)
    width = pdf.epw - layout.site_qr - GAP
    for i, line in enumerate(_site_lines(kit)):
        pdf.set_font(FONT, "B" if i == 0 else "", layout.text * 0.9)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(width, layout.text * 0.9 * 0.45, french(line), align="L")


def _footer(pdf: FPDF, kit: Kit, layout: Layout) -> float:
    """The privacy line in a band at the foot of the page; returns where the band starts."""
    height = layout.small * 1.9
    top = pdf.h - height - 4
    pdf.set_fill_color(*PALE)
    pdf.rect(0, top - 3, pdf.w, pdf.h - top + 3, style="F")
    pdf.set_xy(pdf.l_margin, top)
    pdf.set_font(FONT, "", layout.small)
    pdf.set_text_color(*INK)
    pdf.multi_cell(pdf.epw, layout.small * 0.42, french(privacy_line(kit)), align="C")
    return top - 3


def privacy_line(kit: Kit) -> str:
    """The privacy line; the slash command on the channels whose app shows commands."""
    command = f" (ou /supprimer sur {_named(list(kit.command_menus))})" if kit.command_menus else ""
    return (
        f"Vos données servent au suivi de vos signalements. Envoyez SUPPRIMER{command} pour "
        "les effacer à tout moment, et STOP pour ne plus recevoir de messages."
    )


def _communes_line(names: tuple[str, ...]) -> str:
    if len(names) > LISTED_COMMUNES:
        return f"Dans ses {len(names)} communes"
    return "Dans les communes : " + ", ".join(names)


def web_line(kit: Kit) -> str:
    """Reporting from the public site itself, for residents without the chat apps."""
    return f"Sans application : signalez aussi sur {kit.base_url}/signaler."


def public_page_line(kit: Kit) -> str:
    """The poster's pointer to the public site: what is reported, and following it."""
    return (
        f"Déjà signalé ? Voyez les signalements et leur suivi sur {kit.reports_url}, "
        "et suivez-en un en envoyant SUIVRE et son numéro."
    )


GUIDE = (
    (
        "Se connecter",
        (
            "Ouvrez {console} et entrez votre adresse e-mail et votre mot de passe "
            "(donnés par l’administrateur). Après plusieurs erreurs, la connexion est bloquée "
            "quelques minutes.",
        ),
    ),
    (
        "Travailler la file",
        (
            "La file montre les signalements de vos services : filtrez par statut, catégorie, "
            "secteur ; la carte les montre aussi.",
            "Elle s’ouvre sur les plus urgents : priorité urgente puis haute d’abord, puis "
            "les signalements en retard (les plus en retard en tête), puis ceux dont le délai "
            "approche.",
            "Un délai (SLA) par catégorie : un signalement en retard est signalé en rouge.",
            "Ouvrez un signalement : description, photo, lieu, historique complet.",
        ),
    ),
    (
        "Les statuts",
        (
            "Nouveau → Pris en compte → En cours → Résolu.",
            "Clos : sans suite (hors compétence, rien à faire) ; un message public est "
            "obligatoire pour expliquer pourquoi.",
            "Doublon : fusionné avec un autre signalement, dont les abonnés reçoivent la suite.",
            "Chaque changement prévient l’habitant sur le canal qu’il a utilisé ({channels}), "
            "avec votre message.",
        ),
    ),
    (
        "Écrire à l’habitant",
        (
            "La réponse part à l’habitant qui a signalé, à son nom ; ceux qui suivent le "
            "signalement la reçoivent sans les noms ni les numéros. La note interne reste "
            "entre agents.",
            "Soyez concret : ce qui sera fait, et quand. Pas de données personnelles.",
        ),
    ),
    (
        "Sur le terrain, depuis votre téléphone",
        (
            "Dans la console, « Mon téléphone » donne un code : envoyez /agent CODE au bot "
            "(AGENT CODE sur WhatsApp). Les signalements qui vous sont confiés arrivent alors "
            "dans cette conversation.",
            "« Je prends » (ou je prends 1042) : il passe en cours, à votre nom. /taches liste "
            "les vôtres ; partagez votre position pour voir ceux qui sont autour de vous.",
            "Une fois réparé : fait 1042 puis une photo du travail fait ; l’habitant la "
            "reçoit. Sans photo : fait 1042 sans photo. « Pas pour nous » + une note le "
            "rend au service.",
        ),
    ),
    (
        "Le site public",
        (
            "Chaque signalement a sa page publique (/reports/1042) : catégorie, lieu sans "
            "numéro de rue, statut et vos messages publics, sans nom ni numéro.",
            "Les mots de l’habitant n’y sont que si sa catégorie le prévoit ou si vous les "
            "publiez ; vous pouvez écrire un texte public à leur place. Une photo n’y est "
            "qu’une fois approuvée. « Masquer » retire le signalement du site.",
        ),
    ),
    (
        "Données personnelles",
        (
            "Les numéros de téléphone sont masqués ; les photos ne sont visibles qu’une fois "
            "connecté. Chaque action est enregistrée (qui, quand) et exportable par "
            "l’administrateur.",
            "Un habitant peut effacer ses données à tout moment : ses signalements restent, "
            "sans son nom.",
        ),
    ),
)


def agent_guide_pdf(kit: Kit) -> bytes:
    """The agents' guide: the console, the statuses, the phone in the field."""
    pdf = document(f"Guide de l’agent – {kit.town}", "A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    write_text(pdf, 20, "B", f"Guide de l’agent – {kit.town}", ACCENT)
    channels_named = _channels_named(kit)
    write_text(pdf, 11, "", f"Les signalements des habitants ({channels_named}) : la console.", INK)
    pdf.ln(2)
    console = f"{kit.base_url}/console/login"
    for title, lines in GUIDE:
        pdf.ln(2)
        write_text(pdf, 13, "B", title, ACCENT)
        for line in lines:
            text = line.format(console=console, channels=channels_named)
            write_text(pdf, 10.5, "", "– " + text, INK)
    return bytes(pdf.output())


def _channels_named(kit: Kit) -> str:
    return _named([invite.label for invite in kit.invites])


def _named(labels: list[str], conjunction: str = "ou") -> str:
    """ "Telegram, SMS ou WhatsApp"."""
    return f"{', '.join(labels[:-1])} {conjunction} {labels[-1]}" if len(labels) > 1 else labels[0]
