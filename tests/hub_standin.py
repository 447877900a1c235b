"""A local stand-in for the Hugging Face Hub's HTTP API, enough for ``HfApi.whoami``, ``create_repo`` and
``create_commit`` with files sent inline (the preupload answer is "regular" for every file).

Tokens: ``WRITE_TOKEN`` may write to repositories under ``USER``; any other token may read only (403 on
create and commit); no token or an unknown one is 401. What was committed is kept in ``repos``:
repo id -> {path in repo: bytes}, each created repository's visibility in ``created``, and the card
metadata that ``/api/validate-yaml`` accepted in ``validated``.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

USER = "alice"
WRITE_TOKEN = "hf_standin_write"
READ_TOKEN = "hf_standin_read"


class HubStandIn:
    """The server, on a free local port, in a daemon thread; ``url`` is its endpoint."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.created: dict[str, str] = {}
        self.validated: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(hub: HubStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _token(self) -> str | None:
            value = self.headers.get("authorization", "")
            return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None

        def _authorized(self, write: bool) -> bool:
            token = self._token()
            if token not in (WRITE_TOKEN, READ_TOKEN):
                self._answer(401, {"error": "Invalid credentials in Authorization header"})
                return False
            if write and token != WRITE_TOKEN:
                self._answer(403, {"error": "You don't have the rights to create a model under this namespace"})
                return False
            return True

        def do_GET(self) -> None:
            if self.path == "/api/whoami-v2" and self._authorized(write=False):
                self._answer(200, {"type": "user", "name": USER, "auth": {"accessToken": {"role": "write"}}})
            elif self.path != "/api/whoami-v2":
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self._authorized(write=True):
                return
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["api", "validate-yaml"]:
                self._validate_card(json.loads(body)["content"])
            elif parts == ["api", "repos", "create"]:
                payload = json.loads(body)
                repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
                if repo_id.split("/")[0] != USER:
                    self._answer(403, {"error": "You don't have the rights to create a model under this namespace"})
                    return
                if repo_id in hub.repos:
                    self._answer(409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"})
                    return
                hub.repos[repo_id] = {}
                hub.created[repo_id] = payload.get("visibility", "public")
                self._answer(200, {"url": f"{hub.url}/{repo_id}"})
            elif len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] == "preupload":
                files = json.loads(body)["files"]
                self._answer(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                             for f in files]})
            elif len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] == "commit":
                repo_id = f"{parts[2]}/{parts[3]}"
                if repo_id not in hub.repos:
                    self._answer(404, {"error": "Repository not found"})
                    return
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        hub.repos[repo_id][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                self._answer(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/0123abcd", "commitOid": "0123abcd"})
            else:
                self._answer(404, {"error": f"not found: {self.path}"})

        def _validate_card(self, content: str) -> None:
            """The card's front matter must be a YAML mapping that names the library (as the Hub requires for a
            model to show its library)."""
            try:
                _, front, _ = content.split("---\n", 2)
                metadata = yaml.safe_load(front)
            except (ValueError, yaml.YAMLError) as exc:
                self._answer(400, {"errors": [{"message": f"invalid front matter: {exc}"}]})
                return
            if not isinstance(metadata, dict) or "library_name" not in metadata:
                self._answer(400, {"errors": [{"message": "metadata must be a mapping with library_name"}]})
                return
            hub.validated.append(metadata)
            self._answer(200, {"errors": [], "warnings": []})

    return Handler
