"""A clock moved by hand, and a client of the command API that knows how to get tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


class Api:
    """A test client for the command API that knows how to get tokens."""

    def __init__(self, system) -> None:
        from fastapi.testclient import TestClient

        from eoc.http.api import create_api

        self.system = system
        self.http = TestClient(create_api(system))

    def token(self, role: str = "provincial_supervisor", province: str = "QZV", **kw: object) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.system.signer.issue(role, province, **kw)}

    def post(self, path: str, body: object = None, *, role: str = "provincial_supervisor",
             province: str = "QZV", **kw: object):
        return self.http.post(f"/api/v1{path}", json=body if body is not None else {},
                              headers=self.token(role, province, **kw))

    def ok(self, path: str, body: object = None, **kw: object) -> dict:
        r = self.post(path, body, **kw)
        assert r.status_code in (200, 201, 202), (r.status_code, r.text)
        return r.json()

    def stored(self) -> list[str]:
        """The types of all events in the store, in log order (telemetry is never stored)."""
        rec = self.system.app.recorder
        return [self.system.app.mapper.to_domain_event(n).type
                for n in rec.select_notifications(start=0, limit=1_000_000)]
