"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests: the real ``huggingface_hub`` client talks to it.

It answers the routes that ``huggingface_hub`` 2.4 calls for what ``pipeline/hub.py`` does, with the headers the
client reads (``X-Repo-Commit``, ``ETag``, ``X-Error-Code``, ``X-Error-Message``):

    GET  /api/models/{repo}[/revision/{rev}]        repo info (``sha``, ``siblings``)
    GET  /api/models/{repo}/tree/{rev}[/{path}]     file listing (always recursive: all files under ``path``)
    HEAD /{repo}/resolve/{rev}/{file}               file metadata; GET: the bytes
    POST /api/repos/create                          new repo (409 if it exists)
    POST /api/validate-yaml                         model card front matter must be a YAML mapping
    POST /api/models/{repo}/preupload/{rev}         every file is a "regular" upload (no LFS, no Xet)
    POST /api/models/{repo}/commit/{rev}            NDJSON commit: header, base64 files, deletions

Access follows the Hub: a missing or private repo is 401 ``RepoNotFound`` without a token and 404 with one; an
unknown token is 401 "Invalid credentials in Authorization header"; a read-only token or another user's
namespace is 403 on writes; a gated repo's files are 401/403 ``GatedRepo`` to anyone but its owner.
Everything received is kept (``repos``, ``requests``) for the tests to inspect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


@dataclass(frozen=True)
class User:
    """A token's owner: ``name`` and ``orgs`` are the namespaces it may write to when ``write`` is set."""

    name: str
    orgs: tuple[str, ...] = ()
    write: bool = True

    def can_write(self, namespace: str) -> bool:
        return self.write and (namespace == self.name or namespace in self.orgs)


@dataclass
class Commit:
    sha: str
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    gated: bool = False
    commits: list[Commit] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/")[0]

    def at(self, revision: str) -> Commit | None:
        """The commit a branch name ("main": the latest) or a full commit sha points to."""
        if revision == "main":
            return self.commits[-1]
        return next((c for c in self.commits if c.sha == revision), None)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authenticated: bool


class HttpError(Exception):
    """An HTTP error answer: status, message, optional ``X-Error-Code``, ``X-Repo-Commit`` and body fields."""

    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None, **fields: str):
        super().__init__(message)
        self.status, self.message, self.code, self.commit, self.fields = status, message, code, commit, fields


def git_blob_sha(data: bytes) -> str:
    """The git object id of a blob: what the Hub sends as a regular file's ETag and ``oid``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """A threaded HTTP server on 127.0.0.1 (a free port); ``with FakeHub(tokens) as hub: ... hub.url``."""

    def __init__(self, tokens: dict[str, User]):
        self.tokens = tokens
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def add_repo(self, repo_id: str, files: dict[str, bytes], private: bool = False, gated: bool = False) -> Repo:
        """Seed a repo with one commit holding ``files``."""
        with self.lock:
            repo = self.repos[repo_id] = Repo(repo_id, private, gated)
            self._commit(repo, "initial commit", dict(files))
        return repo

    # --- access ------------------------------------------------------------------------------------------------
    def caller(self, authorization: str | None) -> User | None:
        if authorization is None:
            return None
        user = self.tokens.get(authorization.removeprefix("Bearer ").strip())
        if user is None:
            raise HttpError(401, INVALID_CREDENTIALS)
        return user

    def readable(self, repo_id: str, user: User | None) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not _member(user, repo)):
            raise HttpError(401 if user is None else 404, "Repository not found", "RepoNotFound")
        return repo

    def downloadable(self, repo_id: str, user: User | None) -> Repo:
        repo = self.readable(repo_id, user)
        if repo.gated and not _member(user, repo):
            raise HttpError(401 if user is None else 403, "Access to this model is restricted", "GatedRepo")
        return repo

    def writable(self, repo_id: str, user: User | None) -> Repo:
        repo = self.readable(repo_id, user)
        if user is None:
            raise HttpError(401, "You must be authenticated to write to a repo")
        if not user.can_write(repo.namespace):
            raise HttpError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    @staticmethod
    def revision(repo: Repo, revision: str) -> Commit:
        commit = repo.at(revision)
        if commit is None:
            raise HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    # --- state ---------------------------------------------------------------------------------------------------
    def _commit(self, repo: Repo, message: str, files: dict[str, bytes]) -> Commit:
        parent = repo.commits[-1].sha if repo.commits else ""
        digest = hashlib.sha1(f"{parent}\n{message}\n{len(repo.commits)}".encode())
        for path in sorted(files):
            digest.update(f"{path}:{git_blob_sha(files[path])}".encode())
        commit = Commit(digest.hexdigest(), message, files)
        repo.commits.append(commit)
        return commit

    # --- routes --------------------------------------------------------------------------------------------------
    def repo_info(self, user: User | None, repo: str, revision: str = "main") -> dict[str, Any]:
        found = self.readable(repo, user)
        commit = self.revision(found, revision)
        return {
            "id": repo,
            "author": found.namespace,
            "sha": commit.sha,
            "private": found.private,
            "gated": "manual" if found.gated else False,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        }

    def tree(self, user: User | None, repo: str, revision: str, path: str = "") -> list[dict[str, Any]]:
        commit = self.revision(self.readable(repo, user), revision)
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        return [
            {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha(data)}
            for name, data in sorted(commit.files.items())
            if name.startswith(prefix)
        ]

    def resolve(self, user: User | None, repo: str, revision: str, path: str) -> tuple[Commit, bytes]:
        commit = self.revision(self.downloadable(repo, user), revision)
        if path not in commit.files:
            raise HttpError(404, "Entry not found", "EntryNotFound", commit=commit.sha)
        return commit, commit.files[path]

    def create_repo(self, user: User | None, body: bytes) -> dict[str, Any]:
        request = json.loads(body)
        if user is None:
            raise HttpError(401, "You must be authenticated to create a repo")
        namespace = request.get("organization") or user.name
        repo_id = f"{namespace}/{request['name']}"
        if not user.can_write(namespace):
            raise HttpError(403, f'You don\'t have the rights to create a model under the namespace "{namespace}"')
        if repo_id in self.repos:
            raise HttpError(409, "You already created this model repo", url=f"{self.url}/{repo_id}")
        repo = self.repos[repo_id] = Repo(repo_id, private=request.get("visibility") == "private")
        self._commit(repo, "initial commit", {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
        return {"url": f"{self.url}/{repo_id}", "name": repo_id}

    def validate_yaml(self, user: User | None, body: bytes) -> dict[str, Any]:
        """The front matter of a README.md must parse as a YAML mapping (open to anyone, like the Hub's)."""
        match = re.match(r"---\n(.*?)\n---\n", json.loads(body)["content"], re.S)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as exc:
            raise HttpError(400, f"Invalid YAML in README.md: {exc}") from None
        if not isinstance(metadata, dict):
            raise HttpError(400, "README.md metadata must be a YAML mapping")
        return {"errors": [], "warnings": []}

    def preupload(self, user: User | None, body: bytes, repo: str, revision: str) -> dict[str, Any]:
        commit = self.revision(self.writable(repo, user), revision)
        return {
            "files": [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_sha(commit.files[f["path"]]) if f["path"] in commit.files else None,
                }
                for f in json.loads(body)["files"]
            ],
            "commitOid": commit.sha,
        }

    def commit(self, user: User | None, body: bytes, repo: str, revision: str) -> dict[str, Any]:
        target = self.writable(repo, user)
        files = dict(self.revision(target, revision).files)
        message = ""
        for line in body.splitlines():
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                message = value["summary"]
            elif key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: d for p, d in files.items() if not p.startswith(prefix)}
            else:
                raise HttpError(400, f"this stand-in Hub accepts regular files only, got {key!r}")
        commit = self._commit(target, message, files)
        return {"commitUrl": f"{self.url}/{repo}/commit/{commit.sha}", "commitOid": commit.sha, "success": True}


def _member(user: User | None, repo: Repo) -> bool:
    return user is not None and (repo.namespace == user.name or repo.namespace in user.orgs)


REPO = r"(?P<repo>[^/]+/[^/]+)"
ROUTES = [
    ("GET", re.compile(rf"/api/models/{REPO}(?:/revision/(?P<revision>[^/]+))?"), "repo_info"),
    ("GET", re.compile(rf"/api/models/{REPO}/tree/(?P<revision>[^/]+)(?:/(?P<path>.*))?"), "tree"),
    ("POST", re.compile(r"/api/repos/create"), "create_repo"),
    ("POST", re.compile(r"/api/validate-yaml"), "validate_yaml"),
    ("POST", re.compile(rf"/api/models/{REPO}/preupload/(?P<revision>[^/]+)"), "preupload"),
    ("POST", re.compile(rf"/api/models/{REPO}/commit/(?P<revision>[^/]+)"), "commit"),
]
RESOLVE = re.compile(rf"/{REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)")


def _handler_class(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read ``hub.requests``
            pass

        def do_HEAD(self) -> None:
            self.handle_request(with_body=False)

        def do_GET(self) -> None:
            self.handle_request(with_body=True)

        def do_POST(self) -> None:
            self.handle_request(with_body=True)

        def handle_request(self, with_body: bool) -> None:
            path = urlsplit(self.path).path
            authorization = self.headers.get("Authorization")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with hub.lock:
                hub.requests.append(Request(self.command, path, authorization is not None))
                try:
                    status, headers, payload = self.route(path, hub.caller(authorization), body)
                except HttpError as err:
                    status, headers = err.status, {"X-Error-Message": err.message}
                    headers |= {"X-Error-Code": err.code} if err.code else {}
                    headers |= {"X-Repo-Commit": err.commit} if err.commit else {}
                    payload = json.dumps({"error": err.message, **err.fields}).encode()
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            headers.setdefault("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if with_body:
                self.wfile.write(payload)

        def route(self, path: str, user: User | None, body: bytes) -> tuple[int, dict[str, str], bytes]:
            if self.command in ("GET", "HEAD") and (match := RESOLVE.fullmatch(path)):
                args = {k: unquote(v) for k, v in match.groupdict().items()}
                commit, data = hub.resolve(user, **args)
                headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{git_blob_sha(data)}"'}
                return 200, headers | {"Content-Type": "application/octet-stream"}, data
            for method, pattern, name in ROUTES:
                if method == self.command and (match := pattern.fullmatch(path)):
                    args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    handler = getattr(hub, name)
                    answer = handler(user, body, **args) if method == "POST" else handler(user, **args)
                    return 200, {}, json.dumps(answer).encode()
            raise HttpError(404, f"no route for {self.command} {path}")

    return Handler
