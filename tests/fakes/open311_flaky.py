"""A stand-in Open311 GeoReport v2 server for the failure modes of our client only
(services/open311_client.py): the real far end of the other tests is a second instance
of this product (tests/open311_far_end.py).

It implements what the client uses, in JSON: `POST requests.json` (stores the form,
answers its number), `GET requests.json` (by `service_request_id`, else every request
with its description, as a key reading the full record gets them) and `GET
tokens/{token}.json`. Each POST follows the next step of `plan`:
- "ok": stored, answered with its number;
- "500": not stored, an error answer;
- "400": refused (the spec's error list);
- "slow": stored, then answered after `delay` seconds (the client has timed out by then);
- "token": stored, answered with a token only; the token shows its number once
  `tokens_ready` is set.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs

from tests.fakes.server import FakeServer, Request, Response

FIRST_NUMBER = 5001


class FlakyOpen311(FakeServer):
    name = "open311-flaky"

    def __init__(self, *, delay: float = 1.0) -> None:
        super().__init__()
        self.delay = delay
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.plan: list[str] = []
            self.posts: list[dict[str, str]] = []  # every POST's form, as received
            self.stored: dict[str, dict[str, str]] = {}  # number -> form
            self.tokens: dict[str, str] = {}  # token -> number
            self.tokens_ready = False
            self.statuses: dict[str, tuple[str, str | None]] = {}  # number -> status, notes

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/open311/v2"

    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix("/open311/v2")
        if request.method == "POST" and path == "/requests.json":
            return self._post(_form(request.body.decode()))
        query = _form(request.query)
        if path == "/requests.json":
            return self._list(query)
        if path.startswith("/tokens/") and path.endswith(".json"):
            return self._token(path.removeprefix("/tokens/").removesuffix(".json"))
        return _json([{"code": 404, "description": f"{path} not found"}], 404)

    def _post(self, form: dict[str, str]) -> Response:
        with self._lock:
            self.posts.append(form)
            step = self.plan.pop(0) if self.plan else "ok"
            if step == "500":
                return Response(500, b"Internal Server Error", "text/plain")
            if step == "400":
                return _json([{"code": 400, "description": "service_code is not known."}], 400)
            number = str(FIRST_NUMBER + len(self.stored))
            self.stored[number] = form
            self.statuses[number] = ("open", None)
            if step == "token":
                token = f"tok-{number}"
                self.tokens[token] = number
                return _json([{"token": token}])
        if step == "slow":
            threading.Event().wait(self.delay)
        return _json([{"service_request_id": number}])

    def _list(self, query: dict[str, str]) -> Response:
        with self._lock:
            wanted = [n for n in query.get("service_request_id", "").split(",") if n]
            numbers = wanted or list(self.stored)
            items = [self._request(n) for n in numbers if n in self.stored]
        return _json(items)

    def _request(self, number: str) -> dict:
        form = self.stored[number]
        status, notes = self.statuses[number]
        return {
            "service_request_id": number,
            "status": status,
            "status_notes": notes,
            "service_code": form.get("service_code"),
            "description": form.get("description"),
        }

    def _token(self, token: str) -> Response:
        with self._lock:
            number = self.tokens.get(token)
            if number is None:
                return _json([{"code": 404, "description": f"token {token} not found"}], 404)
            ready = self.tokens_ready
        return _json([{"token": token, **({"service_request_id": number} if ready else {})}])


def _form(text: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(text).items()}


def _json(body, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode())
