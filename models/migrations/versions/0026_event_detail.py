"""Report events keep what they did as data (`detail`), not as English sentences in notes

The history's details were written into internal_note, as prose (a placing on the map, a
citizen's verdict) or as JSON (moderation, assignment, recategorisation, priority, another
body), and read back with regexes. The upgrade moves them into the new `detail` column
and clears internal_note where it held nothing else; an agent's own notes (kinds note,
status, created) and any wording these rules do not know are left as they are. The
downgrade writes the notes back the way the product wrote them, then drops the column.

Revision ID: 0026_event_detail
Revises: 0025_oncall
"""

import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_event_detail"
down_revision: str | None = "0025_oncall"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The wordings as services/placing.py and models/report.py pin_report wrote them.
TYPED = re.compile(
    r"^Placed on the map from the typed address: (?P<label>.+) \(score (?P<score>[\d.]+)\)\.$"
)
PINNED = re.compile(
    r"^The citizen placed the pin from the link sent by SMS: "
    r"(?P<lat>[-\d.]+), (?P<lon>[-\d.]+) \(before: (?P<before>.*)\)\.$"
)
BEFORE = re.compile(r"^(?P<lat>[-\d.]+), (?P<lon>[-\d.]+)$")
VERDICT = re.compile(r"^fixed:\s*(?P<verdict>\S+)$")  # services/feedback.py
JSON_KINDS = ("assigned", "recategorised", "prioritised", "body", "moderated")
VERDICT_KINDS = ("feedback", "reopened")
KINDS = (*JSON_KINDS, *VERDICT_KINDS, "geocoded")
BATCH = 500

EVENTS = sa.table(
    "reportevent",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("internal_note", sa.Text),
    sa.column("detail", sa.JSON(none_as_null=True)),
)


def detail_of(kind: str, note: str) -> dict | None:
    """The detail an old note held; None when the note is not one the product wrote."""
    if kind in JSON_KINDS:
        try:
            said = json.loads(note)
        except ValueError:
            return None
        return said if isinstance(said, dict) else None
    if kind in VERDICT_KINDS:
        verdict = VERDICT.match(note)
        return {"verdict": verdict["verdict"]} if verdict else None
    typed = TYPED.match(note)
    if typed:
        return {"source": "typed", "label": typed["label"], "score": float(typed["score"])}
    pinned = PINNED.match(note)
    if pinned:
        before = BEFORE.match(pinned["before"])
        return {
            "source": "link",
            "lat": float(pinned["lat"]),
            "lon": float(pinned["lon"]),
            "before": [float(before["lat"]), float(before["lon"])] if before else None,
        }
    return None


def note_of(kind: str, detail: dict) -> str | None:
    """The note the product wrote for a detail (the downgrade's way back)."""
    if kind in JSON_KINDS:
        return json.dumps(detail, ensure_ascii=False)
    if kind in VERDICT_KINDS:
        return f"fixed: {detail.get('verdict', 'yes')}"
    if detail.get("source") == "typed":
        return (
            f"Placed on the map from the typed address: {detail.get('label')} "
            f"(score {float(detail.get('score') or 0):.2f})."
        )
    if detail.get("source") == "link":
        before = detail.get("before")
        was = f"{before[0]:.5f}, {before[1]:.5f}" if before else "none"
        return (
            f"The citizen placed the pin from the link sent by SMS: {detail['lat']:.5f}, "
            f"{detail['lon']:.5f} (before: {was})."
        )
    return None


def upgrade() -> None:
    with op.batch_alter_table("reportevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(EVENTS.c.id, EVENTS.c.kind, EVENTS.c.internal_note)
        .where(EVENTS.c.kind.in_(KINDS), EVENTS.c.internal_note.is_not(None))
        .order_by(EVENTS.c.id)
    ).all()
    moved = [
        {"event": number, "detail": detail}
        for number, kind, note in rows
        if (detail := detail_of(kind, note)) is not None
    ]
    detail = sa.bindparam("detail", type_=sa.JSON(none_as_null=True))
    _write(bind, moved, detail=detail, internal_note=None)


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(EVENTS.c.id, EVENTS.c.kind, EVENTS.c.detail).where(
            EVENTS.c.kind.in_(KINDS), EVENTS.c.internal_note.is_(None)
        )
    ).all()
    back = [
        {"event": number, "note": note}
        for number, kind, detail in rows
        if isinstance(detail, dict) and (note := note_of(kind, detail)) is not None
    ]
    _write(bind, back, internal_note=sa.bindparam("note"))
    with op.batch_alter_table("reportevent", schema=None) as batch_op:
        batch_op.drop_column("detail")


def _write(bind, values: list[dict], **changes) -> None:
    """Updates the events row by row (`event`: the row's id), in batches."""
    statement = sa.update(EVENTS).where(EVENTS.c.id == sa.bindparam("event")).values(**changes)
    for start in range(0, len(values), BATCH):
        bind.execute(statement, values[start : start + BATCH])
