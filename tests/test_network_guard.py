"""The suite's guard against network calls inside a transaction can fail a test."""

from __future__ import annotations

import socket

from sqlalchemy import text

from tests import network_guard


def test_a_connection_inside_a_transaction_is_caught(sqlite_app) -> None:
    rt = sqlite_app.extensions["webleads"]
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with rt.db.transaction() as session:
            session.execute(text("SELECT 1"))  # the transaction is begun
            socket.create_connection(("127.0.0.1", port)).close()
        caught = network_guard.take()
        with rt.db.reading():
            pass
        socket.create_connection(("127.0.0.1", port)).close()  # no transaction open
    assert len(caught) == 1 and f"127.0.0.1', {port}" in caught[0]
    assert network_guard.take() == []
