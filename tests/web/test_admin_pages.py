"""Administration pages: adding users, passwords, tokens shown once, disabling."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import select

from factories import FixedClock
from records_service.audit.models import AuditEntry
from records_service.db import session_scope
from records_service.runtime.services import Services
from records_service.settings import Settings
from web.signin import csrf_of, sign_in


def test_add_user_set_password_issue_token_and_disable(
    browser_for: Callable[[str], TestClient], web_services: Services, web_app_client: TestClient
) -> None:
    admin = browser_for("ada")
    form_page = admin.get("/admin/users/new")
    refused = admin.post(
        "/admin/users/new",
        data={"username": "Bad Name!", "roles": ["staff"], "csrf_token": csrf_of(form_page)},
    )
    assert refused.status_code == 422 and 'id="username-error"' in refused.text
    no_role = admin.post(
        "/admin/users/new", data={"username": "nia", "csrf_token": csrf_of(form_page)}
    )
    assert no_role.status_code == 422 and 'id="roles-error"' in no_role.text
    created = admin.post(
        "/admin/users/new",
        data={
            "username": "nia",
            "display_name": "Nia Jones",
            "roles": ["staff", "reviewer"],
            "password": "nia's first passphrase",
            "csrf_token": csrf_of(form_page),
        },
    )
    assert created.status_code == 303 and created.headers["location"] == "/admin/users/nia"
    assert sign_in(web_app_client, "nia", "nia's first passphrase").status_code == 303

    user_page = admin.get("/admin/users/nia")
    assert "staff, reviewer" in user_page.text
    issued = admin.post(
        "/admin/users/nia/tokens",
        data={"label": "export script", "csrf_token": csrf_of(user_page)},
    )
    token = re.search(r'id="new-token">(rs_[^<]+)<', issued.text)
    assert token, "the new token is shown"
    api = web_app_client.get("/api/records", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert api.status_code == 200
    again = admin.get("/admin/users/nia").text
    assert token.group(1) not in again and "export script" in again

    short = admin.post(
        "/admin/users/nia/password", data={"password": "short", "csrf_token": csrf_of(user_page)}
    )
    assert short.status_code == 422 and 'id="password-error"' in short.text
    disabled = admin.post("/admin/users/nia/disable", data={"csrf_token": csrf_of(user_page)})
    assert disabled.status_code == 303
    assert "Disabled" in admin.get("/admin/users").text
    api_after = web_app_client.get(
        "/api/records", headers={"Authorization": f"Bearer {token.group(1)}"}
    )
    assert api_after.status_code == 401
    # Nia's web session ended with the account, recorded as a sign-out by the admin.
    assert 'id="open-sessions"' not in admin.get("/admin/users/nia").text
    with session_scope(web_services.engine) as session:
        sign_outs = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "auth.sign_out", AuditEntry.subject == "user:nia"
            )
        ).all()
    assert [e.actor for e in sign_outs] == ["ada"]


def test_revoking_a_token_from_the_user_page(
    browser_for: Callable[[str], TestClient], web_app_client: TestClient
) -> None:
    admin = browser_for("ada")
    page = admin.get("/admin/users/ada")
    issued = admin.post(
        "/admin/users/ada/tokens", data={"label": "laptop", "csrf_token": csrf_of(page)}
    )
    token = re.search(r'id="new-token">rs_([0-9a-f]{16})_[^<]+<', issued.text)
    assert token, "the new token is shown"
    bearer = {"Authorization": "Bearer " + token.group(0).split(">", 1)[1].rstrip("<")}
    assert web_app_client.get("/api/records", headers=bearer).status_code == 200
    token_id = token.group(1)
    action = f"/admin/users/ada/tokens/{token_id}/revoke"
    assert f'action="{action}"' in issued.text
    # Another user's token id is refused, and nothing is revoked.
    assert (
        admin.post(
            f"/admin/users/sam/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page)}
        ).status_code
        == 404
    )
    assert web_app_client.get("/api/records", headers=bearer).status_code == 200
    revoked = admin.post(action, data={"csrf_token": csrf_of(page)})
    assert revoked.status_code == 303
    after = admin.get("/admin/users/ada").text
    assert f"Token {token_id} revoked." in after and f'action="{action}"' not in after
    assert web_app_client.get("/api/records", headers=bearer).status_code == 401
    again = admin.post(action, data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409


def test_admin_cannot_disable_themselves(browser_for: Callable[[str], TestClient]) -> None:
    admin = browser_for("ada")
    page = admin.get("/admin/users/ada")
    response = admin.post("/admin/users/ada/disable", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 422 and "cannot disable your own account" in response.text
    assert admin.get("/").status_code == 200


def test_ending_a_users_web_sessions_signs_them_out_everywhere(
    browser_for: Callable[[str], TestClient],
    web_services: Services,
    clock: FixedClock,
    web_settings: Settings,
) -> None:
    laptop = browser_for("sam")
    clock.advance(seconds=web_settings.web.session_max_age + 1)  # this one lapses
    office, phone, other = browser_for("sam"), browser_for("sam"), browser_for("sue")
    admin = browser_for("ada")
    page = admin.get("/admin/users/sam")
    assert '<dd id="open-sessions">2 open</dd>' in page.text
    assert laptop.get("/").status_code == 303

    ended = admin.post("/admin/users/sam/sessions/end", data={"csrf_token": csrf_of(page)})

    assert ended.status_code == 303
    after = admin.get("/admin/users/sam").text
    assert "2 web sessions of sam ended." in after
    assert '<dd id="open-sessions">0 open</dd>' in after
    assert "/admin/users/sam/sessions/end" not in after  # nothing left to end
    assert office.get("/").status_code == 303 and phone.get("/").status_code == 303
    assert other.get("/").status_code == 200
    assert admin.get("/").status_code == 200
    with session_scope(web_services.engine) as session:
        sign_outs = session.exec(
            select(AuditEntry).where(AuditEntry.action == "auth.sign_out")
        ).all()
    assert [(e.actor, e.subject) for e in sign_outs] == [("ada", "user:sam")] * 2


def test_no_role_is_ticked_for_a_new_user_and_roles_change_on_the_users_page(
    browser_for: Callable[[str], TestClient], web_services: Services
) -> None:
    admin = browser_for("ada")
    new_form = admin.get("/admin/users/new").text
    assert 'name="roles"' in new_form and " checked" not in new_form
    page = admin.get("/admin/users/rita")
    assert re.search(r'id="role-reviewer"[^>]*checked', page.text)
    changed = admin.post(
        "/admin/users/rita/roles",
        data={"roles": ["reviewer", "auditor"], "csrf_token": csrf_of(page)},
    )
    assert changed.status_code == 303
    assert "reviewer, auditor" in admin.get("/admin/users/rita").text
    refused = admin.post("/admin/users/rita/roles", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 422
    assert 'id="roles-error"' in refused.text and "no role" in refused.text
    with session_scope(web_services.engine) as session:
        entries = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "user.roles", AuditEntry.subject == "user:rita"
            )
        ).all()
    assert [(e.actor, json.loads(e.details)["added"]) for e in entries] == [("ada", ["auditor"])]
