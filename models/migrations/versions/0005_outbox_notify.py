"""outbox notify trigger (PostgreSQL)

Workers LISTEN on `webleads_outbox`. A trigger sends the notification from the server
for every message queued, by any code path (engine, console, CLI, watchdog), without a
NOTIFY round trip from the application. SQLite has no triggers of this kind; its
workers are woken through a socket (services/wakeup.py).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION webleads_outbox_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('webleads_outbox', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    # Identical notifications in one transaction are delivered once, at commit.
    op.execute(
        """
        CREATE TRIGGER outbox_queued AFTER INSERT OR UPDATE OF status ON outbox
        FOR EACH ROW WHEN (NEW.status = 'queued')
        EXECUTE FUNCTION webleads_outbox_notify()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_queued ON outbox")
    op.execute("DROP FUNCTION IF EXISTS webleads_outbox_notify()")
