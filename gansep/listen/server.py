"""``gansep listen serve``: the storing server of a listening test, a Starlette application
served by uvicorn. It serves the page, the test's public description and the stimuli, and
stores submitted trials (:class:`gansep.listen.store.RatingStore`).

Routes:

- ``GET /``, ``/mushra.js``, ``/mushra.css``: the page;
- ``GET /audio/<trial>/<key>.wav``: a stimulus, looked up in the test's list of files (no
  path from a request ever reaches the file system, so no traversal is possible);
- ``GET /api/test``: what the page needs: trials, stimulus keys and URLs, no conditions;
- ``POST /api/session``: ``{"rater": token or null}`` opens a session (a new rater when the
  token is unknown) and returns the rater's orders and finished trials;
- ``POST /api/ratings``: one trial's ratings (see :meth:`RatingStore.validate`).

With ``token``, every request must carry it (``?token=`` or the ``X-Gansep-Token`` header).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from gansep.atomic import sha256_file
from gansep.errors import ConfigError
from gansep.listen.build import PAGE_FILES, load_test
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


def create_app(test_dir: Path, db_path: Path, token: str | None = None):
    """The ASGI application of the test in ``test_dir``, storing into ``db_path``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
    from starlette.routing import Route

    test_dir = Path(test_dir)
    description = load_test(test_dir)
    store = RatingStore(db_path, description, sha256_file(test_dir / "test.json"))
    files = {"/" + name: test_dir / name for name in PAGE_FILES}
    files["/"] = test_dir / "index.html"
    for trial in description["trials"]:
        for entry in (trial["reference"], *trial["stimuli"]):
            files["/" + entry["file"]] = test_dir / entry["file"]
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise ConfigError(f"{test_dir}: {len(missing)} file(s) of the test are missing, e.g. "
                          f"{missing[0]}")
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
        path = files.get(request.url.path)
        if path is None:
            return PlainTextResponse("not found", 404)
        return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
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
    """Serves the test with uvicorn until interrupted."""
    import logging

    import uvicorn

    app = create_app(test_dir, db_path, token)
    query = f"?token={token}" if token else ""
    logging.getLogger(__name__).info("serving %s on http://%s:%d/%s (ratings: %s)", test_dir,
                                     host, port, query, db_path)
    uvicorn.run(app, host=host, port=port, log_level="warning")
