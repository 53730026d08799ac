"""Every audited action, performed through the API or the command line, leaves exactly
one entry with the right action, actor and subject; a refused action leaves none.

Search queries, holds, dispositions and retention runs are recorded by their own
features and asserted in those features' tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from factories import Actors, FixedClock, capture, create_contract
from imports.legacy import CONTRACT, HELPLINE, MAPPING, write
from records_service.audit.log import log_size
from records_service.audit.models import AuditEntry
from records_service.auth.service import list_tokens
from records_service.cli import main
from records_service.imports.models import ImportFile
from records_service.runtime.services import Services
from records_service.settings import Settings
from web.signin import csrf_of


class LogWatcher:
    """Reads the entries appended since the last look."""

    def __init__(self, services: Services) -> None:
        self._engine = services.engine
        self._seen = self._size()

    def _size(self) -> int:
        with Session(self._engine) as session:
            return log_size(session)

    def new(self) -> list[tuple[str, str, str]]:
        with Session(self._engine) as session:
            rows = session.exec(
                select(AuditEntry)
                .where(col(AuditEntry.idx) >= self._seen)
                .order_by(col(AuditEntry.idx))
            ).all()
        self._seen = self._size()
        return [(e.action, e.actor, e.subject) for e in rows]

    def expect(self, *entries: tuple[str, str, str]) -> None:
        assert self.new() == list(entries)


def cli(settings: Settings, *args: str) -> int:
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False).exit_code


def test_api_actions_leave_one_entry_each(
    client: TestClient, actors: Actors, services: Services
) -> None:
    log = LogWatcher(services)
    contract = "contract:OPCC-2023-014"
    assert create_contract(client, actors.staff).status_code == 201
    log.expect(("contract.create", "sam", contract))
    edit = client.patch(
        "/api/contracts/OPCC-2023-014", json={"title": "Helpline"}, headers=actors.staff
    )
    assert edit.status_code == 200, edit.text
    log.expect(("contract.update", "sam", contract))
    record = capture(client, actors.staff).json()
    subject = f"record:{record['id']}"
    log.expect(("record.capture", "sam", subject))
    path = f"/api/records/{record['id']}"
    version = client.post(
        f"{path}/versions", files={"file": ("v2.txt", b"v2\n")}, headers=actors.staff
    )
    assert version.status_code == 201
    log.expect(("record.version", "sam", subject))
    update = client.patch(
        path, json={"title": "Final", "reason": "agreed"}, headers=actors.records_manager
    )
    assert update.status_code == 200
    log.expect(("record.update", "rob", subject))
    assert client.get(f"{path}/content?version=1", headers=actors.reviewer).status_code == 200
    log.expect(("record.read", "rita", subject))
    assert (
        client.get("/api/records", headers={"Authorization": "Bearer rs_nope"}).status_code == 401
    )
    log.expect(("auth.failure", "-", "auth"))
    # Looking is not an action: metadata reads, listings and the log itself leave nothing.
    client.get(path, headers=actors.staff)
    client.get("/api/records", headers=actors.staff)
    client.get("/api/audit/entries", headers=actors.auditor)
    client.get(f"{path}/history", headers=actors.staff)
    log.expect()


def test_refused_actions_leave_no_entry(
    client: TestClient, actors: Actors, services: Services
) -> None:
    create_contract(client, actors.staff)
    record = capture(client, actors.staff, classification="OFFICIAL-SENSITIVE").json()
    log = LogWatcher(services)
    assert capture(client, actors.staff, record_type="no_such_type").status_code == 422
    assert capture(client, actors.reviewer).status_code == 403
    assert create_contract(client, actors.staff).status_code == 409
    assert (
        client.get(f"/api/records/{record['id']}/content", headers=actors.staff2).status_code == 404
    )
    assert client.get("/api/records/unknown/content", headers=actors.staff).status_code == 404
    no_reason = client.patch(
        f"/api/records/{record['id']}", json={"title": "x"}, headers=actors.staff
    )
    assert no_reason.status_code == 422
    log.expect()


def test_user_and_token_commands_leave_one_entry_each(
    client: TestClient, services: Services, settings: Settings
) -> None:
    log = LogWatcher(services)
    assert cli(settings, "users", "add", "carol", "--role", "staff") == 0
    # Two actions: the user is created, then their first token is issued.
    log.expect(("user.create", "cli", "user:carol"), ("token.issue", "cli", "user:carol"))
    assert cli(settings, "users", "token", "carol", "--label", "laptop") == 0
    log.expect(("token.issue", "cli", "user:carol"))
    with Session(services.engine) as session:
        first_token = list_tokens(session, "carol")[0].public_id
    assert cli(settings, "users", "tokens", "carol") == 0
    log.expect()
    assert cli(settings, "users", "revoke-token", first_token) == 0
    log.expect(("token.revoke", "cli", "user:carol"))
    assert cli(settings, "users", "revoke-token", first_token) != 0
    log.expect()
    assert cli(settings, "users", "roles", "carol", "--add", "auditor", "--remove", "staff") == 0
    log.expect(("user.roles", "cli", "user:carol"))
    assert cli(settings, "users", "roles", "carol", "--remove", "auditor") != 0
    log.expect()
    assert cli(settings, "users", "passwd", "carol", "--password", "correct horse battery") == 0
    log.expect(("user.password", "cli", "user:carol"))
    assert cli(settings, "users", "disable", "carol") == 0
    log.expect(("user.disable", "cli", "user:carol"))
    assert cli(settings, "users", "enable", "carol") == 0
    log.expect(("user.enable", "cli", "user:carol"))
    assert cli(settings, "users", "enable", "carol") != 0  # not disabled any more
    assert cli(settings, "users", "disable", "carol") == 0
    log.expect(("user.disable", "cli", "user:carol"))
    assert cli(settings, "users", "add", "carol", "--role", "staff") != 0
    assert cli(settings, "users", "passwd", "carol", "--password", "short") != 0
    assert cli(settings, "users", "disable", "nobody") != 0
    log.expect()


def test_lockout_and_release_leave_one_entry_each(
    client: TestClient, services: Services, settings: Settings, clock: FixedClock
) -> None:
    clock.now = datetime.now(UTC)  # the command line below runs on the real clock
    assert cli(settings, "users", "add", "carol", "--role", "staff") == 0
    assert cli(settings, "users", "passwd", "carol", "--password", "correct horse battery") == 0
    log = LogWatcher(services)
    csrf = csrf_of(client.get("/login"))

    def sign_in(password: str) -> int:
        form = {"username": "carol", "password": password, "csrf_token": csrf}
        status: int = client.post("/login", data=form).status_code
        return status

    for _ in range(4):
        assert sign_in("wrong password") == 400
        log.expect(("auth.failure", "-", "auth"))
    assert sign_in("wrong password") == 400
    log.expect(("auth.failure", "-", "auth"), ("auth.lockout", "-", "user:carol"))
    # Refusals while locked are counted: the first of the interval is written at once.
    assert sign_in("correct horse battery") == 429
    log.expect(("auth.failure", "-", "auth"))
    assert sign_in("correct horse battery") == 429
    log.expect()
    assert cli(settings, "users", "unlock", "carol") == 0
    log.expect(("auth.unlock", "cli", "user:carol"))
    assert cli(settings, "users", "unlock", "carol") == 0
    log.expect()
    assert sign_in("correct horse battery") == 200
    log.expect(("auth.sign_in", "carol", "user:carol"))


def test_money_and_register_actions_leave_one_entry_each(
    client: TestClient, actors: Actors, services: Services, settings: Settings, tmp_path: Path
) -> None:
    assert create_contract(client, actors.staff).status_code == 201
    base, subject = "/api/contracts/OPCC-2023-014", "contract:OPCC-2023-014"
    ids = {
        kind: capture(client, actors.staff, record_type=kind, record_date="2024-01-10").json()["id"]
        for kind in ("decision_record", "invoice", "monitoring_return", "contract")
    }
    log = LogWatcher(services)
    staff = actors.staff
    steps = [
        ("PUT", "/award", {"awarded_on": "2023-03-01", "decision_record": ids["decision_record"]}),
        (
            "POST",
            "/variations",
            {
                "decided_on": "2024-01-10",
                "change_pence": -50_000,
                "record": ids["decision_record"],
                "reason": "fewer hours",
            },
        ),
        ("POST", "/instalments", {"due_on": "2024-04-01", "amount_pence": 1_000_000}),
        (
            "POST",
            "/payments",
            {"payment_reference": "P-1", "paid_on": "2024-04-02", "amount_pence": 1_000_000},
        ),
        (
            "POST",
            "/spend",
            {
                "period_start": "2024-04-01",
                "period_end": "2024-06-30",
                "spent_pence": 900_000,
                "return_record": ids["monitoring_return"],
            },
        ),
        (
            "POST",
            "/recoveries",
            {
                "recovered_on": "2024-07-01",
                "amount_pence": 100_000,
                "decision_record": ids["decision_record"],
                "reason": "unspent",
            },
        ),
    ]
    actions = ["award", "variation", "instalment", "payment", "spend", "recovery"]
    for (method, path, body), action in zip(steps, actions, strict=True):
        response = client.request(method, base + path, json=body, headers=staff)
        assert response.status_code in (200, 201), response.text
        log.expect((f"finance.{action}", "sam", subject))
    payment = client.get(f"{base}/payments", headers=staff).json()["items"][0]["id"]
    link = {"invoice_record": ids["invoice"]}
    assert (
        client.post(f"{base}/payments/{payment}/invoice", json=link, headers=staff).status_code
        == 200
    )
    log.expect(("finance.invoice_link", "sam", subject))
    publication = {
        "item": "contract:OPCC-2023-014",
        "published_on": "2023-04-10",
        "location": "https://pcc.example/c/14",
        "copy_record": ids["contract"],
    }
    assert (
        client.post("/api/transparency/publications", json=publication, headers=staff).status_code
        == 201
    )
    log.expect(("transparency.publish", "sam", subject))
    export = tmp_path / "payments.csv"
    export.write_text(
        "payment_reference,contract,paid_on,amount\nP-2,OPCC-2023-014,2024-05-01,10\n"
    )
    assert cli(settings, "finance", "import", str(export)) == 0
    [(action, actor, _)] = log.new()
    assert (action, actor) == ("finance.import", "cli")
    # Refused: a payment reference used again, a variation without its decision, a
    # reviewer recording money, a publication recorded twice, an import re-run.
    again = {"payment_reference": "P-1", "paid_on": "2024-04-02", "amount_pence": 5}
    assert client.post(f"{base}/payments", json=again, headers=staff).status_code == 409
    no_record = {"decided_on": "2024-01-10", "change_pence": 5, "record": "nope", "reason": "why"}
    assert client.post(f"{base}/variations", json=no_record, headers=staff).status_code == 422
    assert client.post(f"{base}/payments", json=again, headers=actors.reviewer).status_code == 403
    assert (
        client.post("/api/transparency/publications", json=publication, headers=staff).status_code
        == 409
    )
    assert cli(settings, "finance", "import", str(export)) == 0
    log.expect()


def test_an_import_leaves_one_entry_per_file_it_captures_or_sights_in_order(
    client: TestClient, actors: Actors, services: Services, settings: Settings, tmp_path: Path
) -> None:
    assert create_contract(client, actors.staff, reference=CONTRACT).status_code == 201
    (tmp_path / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    for name, text in [("a", "a"), ("a (copy)", "a"), ("b", "b"), ("c", "c")]:
        write(tmp_path / "tree", f"{HELPLINE}/letter {name}.txt", f"Letter {text}.\n".encode())
    write(tmp_path / "tree", "Personal/notes.txt", b"not a record\n")
    log = LogWatcher(services)
    args = [str(tmp_path / "tree"), "--map", str(tmp_path / "mapping.toml"), "--user", "rob"]
    assert cli(settings, "import", *args, "--group", "2", "--quiet") == 0
    with Session(services.engine) as session:
        rows = {f.path.rsplit("/", 1)[-1]: f for f in session.exec(select(ImportFile))}
    batch = f"import:{rows['notes.txt'].batch_id}"

    def on(name: str) -> str:
        return f"record:{rows[name].record_id}"

    # By path: "letter a (copy).txt" comes first, so "letter a.txt" is its sighting.
    log.expect(
        ("import.start", "rob", batch),
        ("record.capture", "rob", on("letter a (copy).txt")),
        ("import.duplicate", "rob", on("letter a (copy).txt")),
        ("record.capture", "rob", on("letter b.txt")),
        ("record.capture", "rob", on("letter c.txt")),
        ("import.finish", "rob", batch),
    )
    assert cli(settings, "import", *args, "--quiet") == 0  # nothing new: the run alone
    log.expect(("import.start", "rob", batch), ("import.finish", "rob", batch))
