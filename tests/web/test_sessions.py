"""Signing in and out, session cookies, CSRF refusals, and the API staying bearer-only."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import col, select

from factories import FixedClock, make_settings
from records_service.app import create_app
from records_service.audit.models import AuditEntry
from records_service.auth.models import WebSession
from records_service.auth.service import disable_user, get_user
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.settings import Settings, WebSettings
from records_service.web.sessions import COOKIE_NAME, session_key_path, session_secret
from web.signin import PASSWORD, csrf_of, sign_in


def _failures(services: Services) -> list[str]:
    with session_scope(services.engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.action == "auth.failure"))
        return [row.details for row in rows]


def test_anonymous_visitor_is_sent_to_login_and_back(
    web_app_client: TestClient, web_services: Services
) -> None:
    response = web_app_client.get("/records?tag=victims")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/records%3Ftag%3Dvictims"
    form = web_app_client.get(response.headers["location"])
    assert 'name="next" value="/records?tag=victims"' in form.text
    signed = web_app_client.post(
        "/login",
        data={
            "username": "sam",
            "password": PASSWORD,
            "next": "/records?tag=victims",
            "csrf_token": csrf_of(form),
        },
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/records?tag=victims"
    assert web_app_client.get("/").status_code == 200


def test_login_never_redirects_off_site(web_app_client: TestClient, web_services: Services) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        web_app_client.cookies.clear()
        form = web_app_client.get("/login")
        response = web_app_client.post(
            "/login",
            data={
                "username": "sam",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_of(form),
            },
        )
        assert response.headers["location"] == "/", target


def test_failed_login_is_refused_announced_and_audited(
    web_app_client: TestClient, web_services: Services
) -> None:
    form = web_app_client.get("/login")
    response = web_app_client.post(
        "/login",
        data={"username": "sam", "password": "not the password", "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    # The refusal is about the pair, so it is the form's, not the password box's.
    assert '<a href="#username">Enter a correct username and password</a>' in response.text
    assert "-error" not in response.text and "aria-invalid" not in response.text
    assert "Enter a correct username and password" in response.text
    assert "<title>Error: Sign in" in response.text
    unknown = sign_in(web_app_client, "nobody")
    assert unknown.status_code == 400
    # A password typed into the user-name box is not kept in the permanent log.
    sign_in(web_app_client, "Secret Pass!")
    failures = _failures(web_services)
    assert len(failures) == 3
    assert "for sam" in failures[0] and "for nobody" in failures[1]
    assert "Secret" not in failures[2]
    assert web_app_client.get("/").status_code == 303


def test_disabled_user_cannot_sign_in(
    web_app_client: TestClient, web_services: Services, browser_for: Callable[[str], TestClient]
) -> None:
    admin = browser_for("ada")
    page = admin.get("/admin/users/sam")
    assert (
        admin.post("/admin/users/sam/disable", data={"csrf_token": csrf_of(page)}).status_code
        == 303
    )
    assert sign_in(web_app_client, "sam").status_code == 400


def test_session_cookie_is_http_only_and_same_site(
    web_app_client: TestClient, web_services: Services
) -> None:
    response = sign_in(web_app_client, "sam")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()


def test_secure_cookie_when_configured(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> None:
    settings = make_settings(tmp_path, sqlite_url, web=WebSettings(cookie_secure=True))
    with TestClient(create_app(settings, clock=clock, background=False)) as client:
        cookie = client.get("/login").headers["set-cookie"]
    assert "; secure" in cookie.lower()


def test_session_key_is_generated_private_and_kept(
    web_settings: Settings, web_services: Services
) -> None:
    path = session_key_path(web_settings)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_text()
    assert session_secret(web_settings) == first.strip()
    assert len(first.strip()) >= 48


def test_post_without_or_with_wrong_csrf_token_is_refused(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    assert staff.post("/logout").status_code == 403
    assert staff.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    refused = staff.post(
        "/upload",
        data={"record_type": "minutes", "record_date": "2024-01-01", "csrf_token": "forged"},
        files=[("files", ("a.txt", b"hello", "text/plain"))],
    )
    assert refused.status_code == 403
    assert "Form expired" in refused.text
    # Still signed in, and nothing was captured.
    page = staff.get("/records")
    assert page.status_code == 200 and "0 records" in page.text


def test_csrf_token_of_another_session_is_refused(
    browser_for: Callable[[str], TestClient],
) -> None:
    sam, sue = browser_for("sam"), browser_for("sue")
    sues_token = csrf_of(sue.get("/"))
    assert sam.post("/logout", data={"csrf_token": sues_token}).status_code == 403


def test_logout_ends_the_session(browser_for: Callable[[str], TestClient]) -> None:
    staff = browser_for("sam")
    response = staff.post("/logout", data={"csrf_token": csrf_of(staff.get("/"))})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "You have signed out" in staff.get("/login").text
    assert staff.get("/").status_code == 303


def _open_sessions(services: Services, username: str) -> int:
    with session_scope(services.engine) as session:
        user = get_user(session, username)
        open_rows = select(WebSession).where(
            WebSession.user_id == user.id, col(WebSession.ended_at).is_(None)
        )
        return len(session.exec(open_rows).all())


def _session_entries(services: Services) -> list[AuditEntry]:
    """The audit log's sign-ins and sign-outs, in order."""
    with session_scope(services.engine) as session:
        query = select(AuditEntry).where(
            col(AuditEntry.action).in_(["auth.sign_in", "auth.sign_out"])
        )
        return list(session.exec(query.order_by(col(AuditEntry.idx))).all())


def test_a_copy_of_the_cookie_stops_working_at_sign_out(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    copy = TestClient(staff.app, follow_redirects=False)
    copy.cookies.set(COOKIE_NAME, staff.cookies[COOKIE_NAME])
    assert copy.get("/").status_code == 200
    assert _open_sessions(web_services, "sam") == 1

    signed_out = staff.post("/logout", data={"csrf_token": csrf_of(staff.get("/"))})

    assert signed_out.status_code == 303
    assert _open_sessions(web_services, "sam") == 0
    assert copy.get("/").status_code == 303


def test_signing_in_and_out_is_audited_as_one_session(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    staff.post("/logout", data={"csrf_token": csrf_of(staff.get("/"))})
    # Signing out again with a stale page's form ends nothing and records nothing.
    staff.post("/logout", data={"csrf_token": csrf_of(staff.get("/login"))})

    entries = _session_entries(web_services)
    with session_scope(web_services.engine) as session:
        rows = session.exec(select(WebSession)).all()
    assert [(e.action, e.actor, e.subject) for e in entries] == [
        ("auth.sign_in", "sam", "user:sam"),
        ("auth.sign_out", "sam", "user:sam"),
    ]
    sign_in_ref, sign_out_ref = (json.loads(e.details)["session"] for e in entries)
    assert sign_in_ref == sign_out_ref == rows[0].id_hash[:16]


def test_disabling_a_user_ends_their_sessions_whoever_disables_them(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    # What `records-service users disable` and the admin page both call.
    with session_scope(web_services.engine) as session:
        disable_user(session, username="sam", actor="ada", clock=web_services.clock)

    assert staff.get("/").status_code == 303
    assert _open_sessions(web_services, "sam") == 0
    with session_scope(web_services.engine) as session:
        ended = session.exec(select(AuditEntry).where(AuditEntry.action == "auth.sign_out")).all()
    assert [(e.actor, e.subject) for e in ended] == [("ada", "user:sam")]


def test_each_sign_in_is_its_own_session(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    laptop, phone = browser_for("sam"), browser_for("sam")
    assert _open_sessions(web_services, "sam") == 2

    laptop.post("/logout", data={"csrf_token": csrf_of(laptop.get("/"))})

    assert laptop.get("/").status_code == 303
    assert phone.get("/").status_code == 200
    assert _open_sessions(web_services, "sam") == 1


def test_signing_in_again_ends_the_browsers_previous_session(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    staff = browser_for("sam")
    old_cookie = staff.cookies[COOKIE_NAME]
    # A sign-in form left open in another tab, posted while still signed in.
    again = {"username": "sam", "password": PASSWORD, "csrf_token": csrf_of(staff.get("/"))}
    assert staff.post("/login", data=again).status_code == 303
    replay = TestClient(staff.app, follow_redirects=False)
    replay.cookies.set(COOKIE_NAME, old_cookie)

    assert replay.get("/").status_code == 303
    assert staff.get("/").status_code == 200
    assert _open_sessions(web_services, "sam") == 1


def test_session_expires_after_its_lifetime(
    browser_for: Callable[[str], TestClient], clock: FixedClock, web_settings: Settings
) -> None:
    staff = browser_for("sam")
    clock.advance(seconds=web_settings.web.session_max_age - 60)
    assert staff.get("/").status_code == 200
    clock.advance(seconds=120)
    assert staff.get("/").status_code == 303


def test_new_password_ends_other_sessions(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    laptop, phone = browser_for("sam"), browser_for("sam")
    page = laptop.get("/account/password")
    changed = laptop.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_of(page),
        },
    )
    assert changed.status_code == 303
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 303
    assert _open_sessions(web_services, "sam") == 1  # the laptop's new one
    entries = _session_entries(web_services)
    # Both earlier sessions end as sign-outs by sam, then the laptop's new one starts.
    assert [(e.action, e.actor) for e in entries[-3:]] == [
        ("auth.sign_out", "sam"),
        ("auth.sign_out", "sam"),
        ("auth.sign_in", "sam"),
    ]


def test_wrong_current_password_is_refused(browser_for: Callable[[str], TestClient]) -> None:
    staff = browser_for("sam")
    page = staff.get("/account/password")
    refused = staff.post(
        "/account/password",
        data={
            "current": "wrong wrong wrong",
            "password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_of(page),
        },
    )
    assert refused.status_code == 422
    assert 'id="current-error"' in refused.text


def test_api_ignores_the_web_session(browser_for: Callable[[str], TestClient]) -> None:
    admin = browser_for("ada")
    response = admin.get("/api/records")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_api_errors_stay_problem_json_and_pages_get_html(
    browser_for: Callable[[str], TestClient],
) -> None:
    staff = browser_for("sam")
    api = staff.get("/api/records/unknown", headers={"Authorization": "Bearer rs_nope"})
    assert api.headers["content-type"] == "application/problem+json"
    page = staff.get("/records/" + "0" * 32)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text
    missing = staff.get("/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.text


def test_pages_carry_security_headers(browser_for: Callable[[str], TestClient]) -> None:
    headers = browser_for("sam").get("/").headers
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["cache-control"] == "no-store"
