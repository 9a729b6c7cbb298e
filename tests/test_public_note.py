"""Who reads an agent's words, said where they are written: a reply reaches the citizen
who reported (and, redacted, the followers) and never the public site; a public note is
shown redacted on the public page, after a preview, and sent to nobody."""

from __future__ import annotations

import html
import re

from tests.helpers import TalkingCitizen, admin_id, csrf_token, log_in_as

HUGO, HUGO_CHAT = "Hugo Lemoine", "3527065"
PIN = (48.12461, -1.20821)
REPLY = "Bonjour Hugo, l’équipe passe jeudi matin avec la nacelle."
NOTE = "Chantier prévu jeudi, renseignements auprès de Hugo au 06 12 34 56 78."
NOTE_PUBLIC = "Chantier prévu jeudi, renseignements auprès de … au …."
REPLY_LABEL = (
    "Visible par l’habitant qui a signalé (et, sans données personnelles, par les "
    "personnes qui suivent ce signalement). Pas publié sur le site."
)
NOTE_LABEL = "Publié sur la page publique, sans noms ni numéros de téléphone."


def public_texts(client, number: int) -> dict[str, str]:
    """Everything anyone reads of the report without a key: its page, the list, the feed,
    the map's GeoJSON, Open311 in both formats."""
    urls = [f"/reports/{number}", "/reports", "/reports.atom", "/reports.geojson?bbox=-2,47,0,49"]
    urls += [f"/open311/v2/requests/{number}.{f}" for f in ("json", "xml")]
    urls += ["/open311/v2/requests.json"]
    found = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        found[url] = html.unescape(response.get_data(as_text=True))
    return found


def test_a_reply_reaches_the_citizen_and_a_public_note_the_public_page(app) -> None:
    rt = app.extensions["webleads"]
    hugo = TalkingCitizen(rt, HUGO_CHAT, name=HUGO)
    number = hugo.file_report(description="Lampadaire cassé", location=PIN)
    sophie = TalkingCitizen(rt, "8811223344", name="Sophie Marchand")
    steps = [{"text": "bonjour"}, {"choice": "cat:nid-de-poule"}, {"text": "Gros trou"}]
    steps += [{"choice": "skip"}, {"location": PIN}, {"choice": f"follow:{number}"}]
    for step in steps:
        sophie.say(**step)
    hugo.new_messages(), sophie.new_messages()  # what they were told so far
    agent = app.test_client()
    log_in_as(agent, admin_id(rt))
    token = csrf_token(agent)

    # Each form says who will read it.
    page = html.unescape(agent.get(f"/console/reports/{number}").get_data(as_text=True))
    assert REPLY_LABEL in page and NOTE_LABEL in page
    assert "Note publique, visible sur la page publique du signalement" in page

    # The reply: the citizen who reported reads it as written, the follower redacted.
    form = {"reply-message": REPLY, "csrf_token": token}
    assert agent.post(f"/console/reports/{number}/reply", data=form).status_code == 303
    assert REPLY in "\n".join(m.text for m in hugo.new_messages())
    told = "\n".join(m.text for m in sophie.new_messages())
    assert "équipe passe jeudi matin" in told and "Hugo" not in told
    public = app.test_client()
    assert {url for url, text in public_texts(public, number).items() if "nacelle" in text} == set()

    # The public note: previewed as the public page will show it, nothing published yet.
    form = {"pubnote-text": NOTE, "action": "preview", "csrf_token": token}
    preview = agent.post(f"/console/reports/{number}/public-note", data=form)
    assert preview.status_code == 200
    shown = html.unescape(preview.get_data(as_text=True))
    block = re.search(r'id="public-note-preview">(.*?)</div>', shown, re.S).group(1)
    assert NOTE_PUBLIC in block and "06 12" not in block
    assert NOTE in shown  # the agent's text stays in the form, to publish or correct
    assert not any("Chantier" in text for text in public_texts(public, number).values())

    form["action"] = "publish"
    assert agent.post(f"/console/reports/{number}/public-note", data=form).status_code == 303
    texts = public_texts(public, number)
    assert NOTE_PUBLIC in texts[f"/reports/{number}"]
    assert NOTE_PUBLIC in texts[f"/open311/v2/requests/{number}.json"]  # status_notes
    assert "Chantier prévu jeudi" in texts["/reports.atom"]
    assert not [url for url, text in texts.items() if "06 12 34" in text or "Hugo" in text]
    # Sent to nobody: the citizen and the follower hear from the agents by a reply.
    assert hugo.new_messages() == [] and sophie.new_messages() == []
    # The console's history shows it as a public note.
    page = html.unescape(agent.get(f"/console/reports/{number}").get_data(as_text=True))
    assert "Note publique" in page and NOTE in page


def test_an_empty_public_note_is_refused(app) -> None:
    rt = app.extensions["webleads"]
    number = TalkingCitizen(rt, "5550001").file_report()
    agent = app.test_client()
    log_in_as(agent, admin_id(rt))
    form = {"pubnote-text": "  ", "action": "publish", "csrf_token": csrf_token(agent)}
    assert agent.post(f"/console/reports/{number}/public-note", data=form).status_code == 303
    page = html.unescape(agent.get(f"/console/reports/{number}").get_data(as_text=True))
    assert "Texte de la note publique" in page and 'class="event event-public_note"' not in page
