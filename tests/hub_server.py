"""A small in-memory Hub-API server on 127.0.0.1 for testing pushes and loads without the Hub.

Implements what huggingface_hub, transformers and datasets use to push a folder and load it back: repo creation,
preupload, NDJSON commits, the LFS "basic" batch upload, resolve (HEAD/GET), repo info, tree and paths-info.
Point clients at it with HF_ENDPOINT and set HF_HUB_DISABLE_XET=1.
"""

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".parquet", ".pt", ".npy")


class _Repo:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.commit = hashlib.sha1(b"empty").hexdigest()

    def apply(self, files: dict, deleted: list, message: str):
        self.files.update(files)
        for path in deleted:
            self.files.pop(path, None)
        self.commit = hashlib.sha1((self.commit + message + json.dumps(sorted(self.files))).encode()).hexdigest()


class HubState:
    """Repositories by (type, id) and LFS objects by sha256."""

    def __init__(self):
        self.repos: dict[tuple, _Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.lock = threading.Lock()


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _entry(path: str, data: bytes) -> dict:
    entry = {"type": "file", "path": path, "size": len(data), "oid": _git_oid(data)}
    if path.endswith(LFS_SUFFIXES):
        entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
    return entry


def _handler(state: HubState, base_url: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status=200, payload=None, body=None, headers=None, head=False):
            data = body if body is not None else json.dumps(payload if payload is not None else {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if body is None else "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def _missing(self, code="RepoNotFound", head=False):
            self._send(404, {"error": code}, headers={"X-Error-Code": code}, head=head)

        def _repo(self, kind, repo_id):
            return state.repos.get((kind, repo_id))

        # ---- routes -------------------------------------------------------------------------------------------
        def do_POST(self):
            path = unquote(urlparse(self.path).path)
            body = self._body()
            if path == "/api/repos/create":
                request = json.loads(body)
                kind = request.get("type") or "model"
                repo_id = (
                    f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
                )
                with state.lock:
                    if (kind, repo_id) in state.repos:
                        return self._send(409, {"error": "exists", "url": f"{base_url}/{repo_id}"})
                    state.repos[(kind, repo_id)] = _Repo()
                return self._send(200, {"url": f"{base_url}/{repo_id}", "name": repo_id})
            if path == "/api/validate-yaml":
                return self._send(200, {"errors": [], "warnings": []})
            match = re.fullmatch(r"/api/(model|dataset|space)s/(.+)/preupload/[^/]+", path)
            if match:
                files = json.loads(body)["files"]
                modes = [
                    {
                        "path": f["path"],
                        "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) and f["size"] else "regular",
                        "shouldIgnore": False,
                    }
                    for f in files
                ]
                return self._send(200, {"files": modes})
            match = re.fullmatch(r"/api/(model|dataset|space)s/(.+)/commit/[^/]+", path)
            if match:
                repo = self._repo(*match.groups())
                if repo is None:
                    return self._missing()
                files, deleted, message = {}, [], "commit"
                for line in body.decode().splitlines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    value = item["value"]
                    if item["key"] == "header":
                        message = value.get("summary", message)
                    elif item["key"] == "file":
                        files[value["path"]] = base64.b64decode(value["content"])
                    elif item["key"] == "lfsFile":
                        files[value["path"]] = state.lfs[value["oid"]]
                    elif item["key"] in ("deletedFile", "deletedFolder"):
                        deleted.append(value["path"])
                with state.lock:
                    repo.apply(files, deleted, message)
                return self._send(
                    200, {"commitUrl": f"{base_url}/{match.group(2)}/commit/{repo.commit}", "commitOid": repo.commit}
                )
            match = re.fullmatch(r"/(?:(datasets|spaces)/)?(.+)\.git/info/lfs/objects/batch", path)
            if match:
                objects = [
                    {
                        "oid": o["oid"],
                        "size": o["size"],
                        "authenticated": True,
                        "actions": {"upload": {"href": f"{base_url}/lfs-upload/{o['oid']}", "header": {}}},
                    }
                    for o in json.loads(body)["objects"]
                ]
                return self._send(200, {"transfer": "basic", "objects": objects})
            match = re.fullmatch(r"/api/(model|dataset|space)s/(.+)/paths-info/[^/]+", path)
            if match:
                repo = self._repo(*match.groups())
                if repo is None:
                    return self._missing()
                wanted = (
                    re.findall(r"paths=([^&]+)", body.decode())
                    if not body.startswith(b"{")
                    else json.loads(body)["paths"]
                )
                wanted = [unquote(p.replace("+", " ")) for p in wanted]
                return self._send(200, self._listing(repo, wanted))
            return self._send(404, {"error": f"unknown route {path}"})

        def do_PUT(self):
            path = urlparse(self.path).path
            data = self._body()
            if path.startswith("/lfs-upload/"):
                oid = path.rsplit("/", 1)[1]
                if hashlib.sha256(data).hexdigest() != oid:
                    return self._send(400, {"error": "sha256 mismatch"})
                state.lfs[oid] = data
                return self._send(200, {})
            return self._send(404, {"error": "unknown route"})

        def do_HEAD(self):
            self._get(head=True)

        def do_GET(self):
            self._get(head=False)

        def _listing(self, repo, wanted):
            out, folders = [], set()
            for prefix in wanted:
                prefix = prefix.strip("/")
                if prefix in repo.files:
                    out.append(_entry(prefix, repo.files[prefix]))
                elif any(p.startswith(prefix + "/") for p in repo.files):
                    folders.add(prefix)
            out += [{"type": "directory", "path": p, "oid": "0" * 40} for p in sorted(folders)]
            return out

        def _get(self, head):
            parsed = urlparse(self.path)
            path, query = unquote(parsed.path), parsed.query
            match = re.fullmatch(r"/api/(model|dataset|space)s/([^/]+/[^/]+|[^/]+)(?:/revision/[^/]+)?", path)
            if match:
                repo = self._repo(*match.groups())
                if repo is None:
                    return self._missing(head=head)
                info = {
                    "id": match.group(2),
                    "_id": match.group(2),
                    "sha": repo.commit,
                    "private": False,
                    "siblings": [{"rfilename": p} for p in sorted(repo.files)],
                    "tags": [],
                    "cardData": {},
                    "lastModified": "2026-01-01T00:00:00.000Z",
                    "downloads": 0,
                    "likes": 0,
                }
                return self._send(200, info, head=head)
            match = re.fullmatch(r"/api/(model|dataset|space)s/([^/]+/[^/]+|[^/]+)/tree/([^/]+)(/.*)?", path)
            if match:
                kind, repo_id, _, sub = match.groups()
                repo = self._repo(kind, repo_id)
                if repo is None:
                    return self._missing(head=head)
                sub = (sub or "").strip("/")
                recursive = "recursive=true" in query.lower() or "recursive=1" in query
                entries, folders = [], set()
                for file_path, data in sorted(repo.files.items()):
                    if sub and not file_path.startswith(sub + "/"):
                        continue
                    rest = file_path[len(sub) + 1 :] if sub else file_path
                    parts = rest.split("/")
                    if len(parts) == 1 or recursive:
                        entries.append(_entry(file_path, data))
                    for depth in range(1, len(parts) if recursive else min(2, len(parts))):
                        folders.add("/".join(([sub] if sub else []) + parts[:depth]))
                if sub and not entries and not folders:
                    return self._missing("EntryNotFound", head=head)
                entries += [{"type": "directory", "path": p, "oid": "0" * 40} for p in sorted(folders)]
                return self._send(200, entries, head=head)
            match = re.fullmatch(r"/(?:(datasets|spaces)/)?([^/]+/[^/]+|[^/]+)/resolve/([^/]+)/(.+)", path)
            if match:
                kind = {"datasets": "dataset", "spaces": "space"}.get(match.group(1), "model")
                repo = self._repo(kind, match.group(2))
                if repo is None:
                    return self._missing(head=head)
                data = repo.files.get(match.group(4))
                if data is None:
                    return self._missing("EntryNotFound", head=head)
                etag = hashlib.sha256(data).hexdigest() if match.group(4).endswith(LFS_SUFFIXES) else _git_oid(data)
                headers = {
                    "X-Repo-Commit": repo.commit,
                    "ETag": f'"{etag}"',
                    "X-Linked-Etag": f'"{etag}"',
                    "X-Linked-Size": str(len(data)),
                }
                return self._send(200, body=data, headers=headers, head=head)
            return self._send(404, {"error": f"unknown route {path}"}, head=head)

    return Handler


class LocalHub:
    """Context manager: a Hub-API server on a free 127.0.0.1 port; ``url`` is the endpoint."""

    def __init__(self):
        self.state = HubState()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), None)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.server.RequestHandlerClass = _handler(self.state, self.url)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
