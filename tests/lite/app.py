"""USSO Lite as its documentation shows it: a FastAPI app with the Lite router mounted, served by
uvicorn (scripts/bench-lite.sh runs it as the baseline of the origin's /me and JWKS figures)."""

import os

from fastapi import FastAPI
from usso.lite import EXCEPTION_HANDLERS, LiteConfig, create_lite_router

config = LiteConfig(
    database_url=f"sqlite+aiosqlite:///{os.environ['LITE_DB']}",
    issuer="http://127.0.0.1",
)
router = create_lite_router(config)
app = FastAPI(lifespan=router.lifespan_context, exception_handlers=EXCEPTION_HANDLERS)
app.include_router(router)
