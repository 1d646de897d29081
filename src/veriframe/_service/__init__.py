"""What veriframe's HTTP services share (the resolver and the verify service).

An ASGI stack on Starlette, served by uvicorn: JSON errors carrying veriframe's stable codes
(:mod:`.errors`), request-size, rate and concurrency limits (:mod:`.admission`), bearer-token
checks against hashed tokens (:mod:`.auth`), structured access logs (:mod:`.logs`) and a
uvicorn runner with graceful shutdown (:mod:`.serving`). Services build their app with a
``create_app(...)`` factory (no globals, so tests build one per case) whose routes are a few
lines each calling the library.
"""
