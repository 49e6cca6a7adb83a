"""``gansep listen serve``: the storing server of a listening test, a Starlette application
served by uvicorn. It serves the page, the test's public description and the stimuli, and
stores submitted trials (`gansep.listen.store.RatingStore`).

Routes:

- ``GET /``, ``/mushra.js``, ``/mushra.css``: the page;
- ``GET /audio/<trial>/<key>.wav``: a stimulus, looked up in the test's list of files (no
  path from a request ever reaches the file system, so no traversal is possible; every listed
  file is resolved inside the test folder at start, and its SHA-256 checked before it is
  served);
- ``GET /api/test``: what the page needs: trials, stimulus keys and URLs, no conditions;
- ``POST /api/session``: ``{"rater": token or null}`` opens a session (a new rater when the
  token is unknown) and returns the rater's orders and finished trials;
- ``POST /api/ratings``: one trial's ratings (see `RatingStore.validate`).

With ``token``, every request must carry it (``?token=`` or the ``X-Gansep-Token`` header).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

from gansep.atomic import sha256_file
from gansep.errors import ConfigError
from gansep.listen.build import load_test, served_files
from gansep.listen.store import RatingStore, Rejected

MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".wav": "audio/wav"}
MAX_BODY = 64 * 1024


def public_description(description: dict) -> dict:
    """The test as the page sees it: no condition names, no file hashes."""
    def url(entry: dict) -> str:
        return "/" + entry["file"]

    return {"name": description.get("name", ""), "seconds": description["seconds"],
            "rate": description["rate"],
            "trials": [{"id": t["id"], "training": bool(t.get("training")),
                        "reference": url(t["reference"]),
                        # Sorted by their random keys: the build order would reveal them.
                        "stimuli": [{"key": s["key"], "url": url(s)}
                                    for s in sorted(t["stimuli"], key=lambda s: s["key"])]}
                       for t in description["trials"]]}


def checked_test(test_dir: Path) -> tuple[dict, dict[str, tuple[Path, str]]]:
    """The description of the test in ``test_dir`` and its served files (see
    `gansep.listen.build.served_files`): every listed file resolved inside the test folder
    (no link out of it) and unchanged since the build; ConfigError otherwise."""
    description = load_test(test_dir)
    files = served_files(test_dir, description)
    changed = [str(path) for path, digest in set(files.values()) if sha256_file(path) != digest]
    if changed:
        raise ConfigError(f"{test_dir}: {len(changed)} file(s) differ from the SHA-256 that "
                          f"test.json records (changed since the test was built), e.g. "
                          f"{sorted(changed)[0]}: refused")
    return description, files


def create_app(test_dir: Path, db_path: Path, token: str | None = None):
    """The ASGI application of the test in ``test_dir``, storing into ``db_path``. The files
    are checked at start (`checked_test`) and each file's bytes again before they are
    served."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    test_dir = Path(test_dir)
    description, files = checked_test(test_dir)
    store = RatingStore(db_path, description, sha256_file(test_dir / "test.json"))
    public = public_description(description)

    def allowed(request: Request) -> bool:
        if token is None:
            return True
        given = request.headers.get("x-gansep-token") or request.query_params.get("token", "")
        return secrets.compare_digest(given.encode(), token.encode())

    def refuse(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def body_of(request: Request):
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise Rejected(413, f"request body over {MAX_BODY} bytes")
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise Rejected(400, "the request body is not valid JSON") from None

    async def static(request: Request):
        if not allowed(request):
            return PlainTextResponse("this test needs its access token (?token=...)", 403)
        listed = files.get(request.url.path)
        if listed is None:
            return PlainTextResponse("not found", 404)
        path, digest = listed
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() != digest:
            return PlainTextResponse("this file changed since the test was built", 409)
        return Response(content, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        headers={"Cache-Control": "no-cache"})

    async def test(request: Request):
        if not allowed(request):
            return refuse(403, "this test needs its access token")
        return JSONResponse(public)

    async def session(request: Request):
        if not allowed(request):
            return refuse(403, "this test needs its access token")
        try:
            body = await body_of(request)
        except Rejected as error:
            return refuse(error.status, str(error))
        rater = body.get("rater") if isinstance(body, dict) else None
        from starlette.concurrency import run_in_threadpool

        opened = await run_in_threadpool(store.open_session, rater,
                                         request.headers.get("user-agent", ""))
        return JSONResponse(opened)

    async def ratings(request: Request):
        if not allowed(request):
            return refuse(403, "this test needs its access token")
        from starlette.concurrency import run_in_threadpool

        try:
            body = await body_of(request)
            stored = await run_in_threadpool(store.submit, body,
                                             request.headers.get("user-agent", ""))
        except Rejected as error:
            return refuse(error.status, str(error))
        return JSONResponse(stored)

    routes = [Route("/api/test", test, methods=["GET"]),
              Route("/api/session", session, methods=["POST"]),
              Route("/api/ratings", ratings, methods=["POST"]),
              Route("/{path:path}", static, methods=["GET", "HEAD"])]
    return Starlette(routes=routes)


def serve(test_dir: Path, db_path: Path, host: str = "127.0.0.1", port: int = 8000,
          token: str | None = None) -> None:
    """Serves the test with uvicorn until interrupted. The socket is bound first, so a port in
    use is a one-line error before anything is said to be served, and ``port`` 0 serves on
    a free port, which is printed."""
    import logging
    import socket

    import uvicorn

    checked_test(Path(test_dir))  # a bad test is refused before the port is taken
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:
        raise ConfigError(f"--host {host} --port {port}: cannot listen there "
                          f"({error.strerror or error})") from None
    try:
        app = create_app(test_dir, db_path, token)
    except BaseException:
        sock.close()
        raise
    port = sock.getsockname()[1]
    query = f"?token={token}" if token else ""
    logging.getLogger(__name__).info("serving %s on http://%s:%d/%s (ratings: %s)", test_dir,
                                     host, port, query, db_path)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
