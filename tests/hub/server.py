"""The smallest hub server that speaks what huggingface_hub needs, over local git repositories: a test's model hub.

Why not a mirror from PyPI: olah 0.5.4 (the one that serves local git repositories) was tried with
huggingface_hub 2.4.0. It serves files at a branch or a commit correctly, but answers a missing
revision with RepoNotFound, a missing file with 401 or 500 and model_info without a revision with
401 (offline mode looks only in its proxy cache), and brings some 40 packages. transformers'
probes for optional files then fail where they should find nothing, and the errors this project
must report (a revision that does not exist) come out wrong. So this is a read-only server of
what huggingface_hub 2.4.0 asks for (read from its _snapshot_download, file_download and hf_api):

    GET  /api/models/<org>/<repo>[/revision/<rev>]     model info: id, sha (the commit), siblings
    GET  /api/models/<org>/<repo>/tree/<rev>[/<path>]   the files of a commit (recursive=true)
    HEAD|GET /<org>/<repo>/resolve/<rev>/<path>         a file, with X-Repo-Commit and ETag

Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound), which huggingface_hub
maps to its exceptions whatever the status. `<root>/<org>/<repo>` is a git repository (bare or
not); a revision is a branch, a tag or a commit, as git resolves it. Every request is appended
to an access log (time, method, path, user agent), so a test can show who asked for what.

Usage: python tests/hub/server.py ROOT [--port 0] [--log FILE]; it prints `http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

API = re.compile(r"^/api/models/([^/]+)/([^/]+)(?:/(revision|tree)/([^/]+)(/.*)?)?$")
RESOLVE = re.compile(r"^/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$")


def git(repository: Path, *args: str) -> bytes | None:
    done = subprocess.run(["git", "-C", str(repository), *args], capture_output=True)
    return done.stdout if done.returncode == 0 else None


def resolve(repository: Path, revision: str) -> str | None:
    """The commit a branch, tag or (short) commit id names, or None."""
    out = git(repository, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    return out.decode().strip() if out else None


def files(repository: Path, commit: str) -> list[dict]:
    """Every file and folder of a commit, as the hub's tree API lists them."""
    entries = []
    for record in (git(repository, "ls-tree", "-r", "-t", "-l", "-z", commit) or b"").split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            _, kind, oid, size = meta.split()
            entries.append({"type": "directory" if kind == b"tree" else "file", "oid": oid.decode(),
                            "size": 0 if size == b"-" else int(size), "path": path.decode()})
    return entries


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: Path
    access_log: Path | None = None
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # the access log below replaces stderr's
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message, **({"X-Repo-Commit": commit} if commit else {})}
        self.reply(status, json.dumps({"error": message}).encode(), headers)

    def repository(self, owner: str, name: str) -> Path | None:
        folder = self.root / owner / name
        return folder if folder.is_dir() else None

    def serve(self) -> None:
        if self.access_log is not None:
            with self.lock, open(self.access_log, "a") as log:
                log.write(json.dumps({"time": time.time(), "method": self.command, "path": self.path,
                                      "agent": self.headers.get("User-Agent", "")}) + "\n")
        url = urlsplit(self.path)
        if match := API.match(url.path):
            return self.model_info(*(unquote(part) if part else part for part in match.groups()), url.query)
        if match := RESOLVE.match(url.path):
            return self.file(*(unquote(part) for part in match.groups()))
        self.error(404, "NotFound", f"not a hub path: {url.path}")

    def model_info(self, owner, name, kind, revision, below, query) -> None:
        repository = self.repository(owner, name)
        if repository is None:
            return self.error(404, "RepoNotFound", f"Repository {owner}/{name} not found")
        commit = resolve(repository, revision or "HEAD")
        if commit is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        entries = files(repository, commit)
        if kind == "tree":
            prefix = (below or "").strip("/")
            recursive = parse_qs(query).get("recursive", ["false"])[0].lower() == "true"
            inside = [e for e in entries if not prefix or e["path"].startswith(prefix + "/")]
            depth = prefix.count("/") + (1 if prefix else 0)
            chosen = inside if recursive else [e for e in inside if e["path"].count("/") == depth]
            return self.reply(200, json.dumps(chosen).encode())
        info = {"id": f"{owner}/{name}", "author": owner, "sha": commit, "private": False,
                "siblings": [{"rfilename": e["path"]} for e in entries if e["type"] == "file"]}
        self.reply(200, json.dumps(info).encode())

    def file(self, owner, name, revision, path) -> None:
        repository = self.repository(owner, name)
        if repository is None:
            return self.error(404, "RepoNotFound", f"Repository {owner}/{name} not found")
        commit = resolve(repository, revision)
        if commit is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        blob = git(repository, "rev-parse", "--verify", "--quiet", f"{commit}:{path}")
        if blob is None:
            return self.error(404, "EntryNotFound", f"{path} not found at {commit}", commit)
        blob = blob.decode().strip()
        data = git(repository, "cat-file", "blob", blob)
        self.reply(200, data, {"Content-Type": "application/octet-stream", "ETag": f'"{blob}"', "X-Repo-Commit": commit})

    do_GET = do_HEAD = serve


def start(root: str | Path, port: int = 0, access_log: str | Path | None = None) -> ThreadingHTTPServer:
    """A server on 127.0.0.1 (port 0: any free one), serving in a background thread; `.server_address[1]` is its port."""
    handler = type("RootedHub", (Hub,), {"root": Path(root), "access_log": Path(access_log) if access_log else None})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="folder of <org>/<repo> git repositories")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append one JSON line per request to this file")
    options = parser.parse_args()
    server = start(options.root, options.port, options.log)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
