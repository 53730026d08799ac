"""Loading and validating retention schedules: the shipped default and broken files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from records_service.retention import (
    RetentionSchedule,
    ScheduleError,
    UnknownRecordType,
    default_schedule_path,
    load_schedule,
    parse_schedule,
)
from records_service.retention.schedule import Duration, RequiredRecordRule

# The "Default record types" table of the UK domain rules, in order.
DOMAIN_RECORD_TYPES = [
    "needs_assessment",
    "specification",
    "invitation_to_tender",
    "direct_award_justification",
    "tender_submission",
    "tender_evaluation",
    "decision_record",
    "contract",
    "grant_agreement",
    "contract_variation",
    "monitoring_return",
    "contract_review",
    "correspondence",
    "invoice",
    "closure_report",
    "minutes",
    "publication_record",
    "panel_report",
]

# Line numbers matter: the error tests below name them.
MINIMAL = """\
expiring_window_days = 60

[record_types.invoice]
label = "Invoice"
period = "6y"
trigger = "record_date"
counting = "financial_year_end"
action = "destroy"
citation = "HMRC practice"

[record_types.minutes]
label = "Minutes"
period = "permanent"
action = "transfer"
citation = "OPCC schedules"

[completeness.minutes_on_file]
kind = "required"
stage = "need"
label = "Minutes on file"
any_of = ["minutes"]
statuses = ["active"]
"""


def error_for(text: str) -> ScheduleError:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text, source="sched.toml")
    return caught.value


@pytest.fixture(scope="module")
def default() -> RetentionSchedule:
    return load_schedule()


def test_default_schedule_has_every_domain_record_type(default: RetentionSchedule) -> None:
    assert list(default.record_types) == DOMAIN_RECORD_TYPES
    assert default.expiring_window_days == 90
    assert default.source == "default_schedule.toml"


def test_default_rules_match_the_domain_periods(default: RetentionSchedule) -> None:
    invoice = default.rule_for("invoice").to_dict()
    assert invoice["period"] == "6y"
    assert (invoice["trigger"], invoice["counting"], invoice["action"]) == (
        "record_date",
        "financial_year_end",
        "destroy",
    )
    contract = default.rule_for("contract").to_dict()
    assert (contract["period"], contract["deed_period"], contract["trigger"]) == (
        "6y",
        "12y",
        "contract_end",
    )
    assert default.rule_for("contract_variation").to_dict()["deed_period"] == "12y"
    for key in ("decision_record", "minutes", "panel_report"):
        rule = default.rule_for(key)
        assert rule.is_permanent
        assert rule.action == "transfer"
        assert rule.to_dict()["period"] == "permanent"
    permanent = {"decision_record", "minutes", "panel_report"}
    contract_file = set(DOMAIN_RECORD_TYPES) - permanent - {"invoice"}
    for key in contract_file:
        term = default.rule_for(key).term
        assert term is not None
        assert (term.period, term.trigger, term.counting) == (Duration(6), "contract_end", "exact")


def test_default_completeness_rules(default: RetentionSchedule) -> None:
    summary = [(rule.id, rule.kind, rule.stage, rule.any_of) for rule in default.completeness]
    assert summary == [
        ("needs_assessment", "required", "need", ("needs_assessment",)),
        ("specification", "required", "design", ("specification",)),
        (
            "competition_or_justification",
            "required",
            "design",
            ("invitation_to_tender", "direct_award_justification"),
        ),
        ("award_decision", "required", "procurement", ("decision_record",)),
        ("signed_agreement", "required", "agreement", ("contract", "grant_agreement")),
        ("quarterly_monitoring", "quarterly", "delivery", ("monitoring_return",)),
        ("closure_report", "after_end", "closure", ("closure_report",)),
    ]
    competition = default.completeness[2]
    assert isinstance(competition, RequiredRecordRule)
    assert competition.value_over_pence == 1_000_000


def test_to_dict_is_json_and_complete(default: RetentionSchedule) -> None:
    data = json.loads(json.dumps(default.to_dict()))
    assert data["stages"] == ["need", "design", "procurement", "agreement", "delivery", "closure"]
    assert data["record_types"]["minutes"] == {
        "key": "minutes",
        "label": "Minutes",
        "description": "Minutes of governance meetings and panels.",
        "period": "permanent",
        "trigger": None,
        "counting": None,
        "deed_period": None,
        "action": "transfer",
        "citation": "OPCC retention schedules; "
        "Elected Local Policing Bodies (Specified Information) Order 2011",
    }
    assert data["completeness"][5] == {
        "id": "quarterly_monitoring",
        "kind": "quarterly",
        "stage": "delivery",
        "label": "A monitoring return for every quarter of delivery",
        "any_of": ["monitoring_return"],
        "statuses": ["active"],
        "grace_days": 30,
    }


def test_default_path_is_the_loaded_default(default: RetentionSchedule) -> None:
    from_path = load_schedule(default_schedule_path())
    assert from_path.record_types == default.record_types
    assert from_path.completeness == default.completeness
    assert from_path.source == str(default_schedule_path())


def test_rule_for_unknown_type_raises(default: RetentionSchedule) -> None:
    with pytest.raises(UnknownRecordType, match="'memo' is not in the retention schedule"):
        default.rule_for("memo")


def test_minimal_schedule_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    schedule = load_schedule(path)
    assert list(schedule.record_types) == ["invoice", "minutes"]
    assert schedule.expiring_window_days == 60
    assert schedule.title == ""
    assert schedule.completeness == (
        RequiredRecordRule("minutes_on_file", "need", "Minutes on file", ("minutes",), ("active",)),
    )


def test_bad_period_names_line_and_field() -> None:
    error = error_for(MINIMAL.replace('period = "6y"', 'period = "6 years"'))
    assert str(error) == (
        "sched.toml, line 5: [record_types.invoice] period: invalid period '6 years'; "
        "write a number and a unit (y, m, d), e.g. '6y', '18m', '30d', or 'permanent'"
    )
    assert (error.line, error.table, error.key) == (5, "record_types.invoice", "period")


def test_unknown_trigger_names_line_and_field() -> None:
    error = error_for(MINIMAL.replace('"record_date"', '"record_dat"'))
    assert str(error) == (
        "sched.toml, line 6: [record_types.invoice] trigger: unknown value 'record_dat' "
        "(expected one of: record_date, captured, contract_end, contract_closed)"
    )


def test_unknown_key_is_an_error_with_a_suggestion() -> None:
    error = error_for(MINIMAL.replace("counting =", "countng ="))
    assert str(error) == (
        "sched.toml, line 7: [record_types.invoice] countng: unknown key (did you mean 'counting'?)"
    )


def test_unknown_top_level_table_is_an_error() -> None:
    error = error_for(MINIMAL.replace("[completeness.minutes_on_file]", "[completenes.x]"))
    assert error.line == 17
    assert error.key == "completenes"
    assert "unknown key (did you mean 'completeness'?)" in str(error)


def test_missing_field_points_at_the_table_header() -> None:
    error = error_for(MINIMAL.replace('citation = "HMRC practice"\n', ""))
    assert str(error) == "sched.toml, line 3: [record_types.invoice] citation: missing required key"


def test_wrong_type_is_reported() -> None:
    error = error_for(MINIMAL.replace("expiring_window_days = 60", "expiring_window_days = true"))
    assert (
        str(error) == "sched.toml, line 1: expiring_window_days: must be a whole number, not True"
    )


def test_toml_syntax_error_keeps_tomllib_position() -> None:
    error = error_for(MINIMAL.replace('label = "Invoice"', "label = Invoice"))
    assert error.line == 4
    assert str(error).startswith("sched.toml, line 4: TOML syntax error: ")
    assert "(at line 4, column 9)" in str(error)


def test_permanent_rule_rejects_a_trigger() -> None:
    text = MINIMAL.replace('period = "permanent"', 'period = "permanent"\ntrigger = "captured"')
    error = error_for(text)
    assert str(error) == (
        "sched.toml, line 14: [record_types.minutes] trigger: "
        "not allowed here: a permanent record has no period"
    )


def test_permanent_rule_must_transfer() -> None:
    error = error_for(MINIMAL.replace('action = "transfer"', 'action = "destroy"'))
    assert str(error) == (
        "sched.toml, line 14: [record_types.minutes] action: "
        "a permanent record's action is 'transfer'"
    )


def test_completeness_rule_must_name_known_record_types() -> None:
    error = error_for(MINIMAL.replace('any_of = ["minutes"]', 'any_of = ["minute"]'))
    assert str(error) == (
        "sched.toml, line 21: [completeness.minutes_on_file] any_of: "
        "unknown record type 'minute'; did you mean 'minutes'?"
    )


def test_completeness_rule_keys_depend_on_kind() -> None:
    error = error_for(
        MINIMAL.replace('statuses = ["active"]', 'statuses = ["active"]\ngrace_days = 3')
    )
    assert (error.line, error.key) == (23, "grace_days")
    assert "unknown key" in str(error)


def test_bad_stage_and_status() -> None:
    stage = error_for(MINIMAL.replace('stage = "need"', 'stage = "delivered"'))
    assert (stage.line, stage.key) == (19, "stage")
    status = error_for(MINIMAL.replace('["active"]', '["live"]'))
    assert str(status) == (
        "sched.toml, line 22: [completeness.minutes_on_file] statuses: "
        "unknown status 'live'; did you mean 'active'?"
    )


def test_multiline_strings_do_not_confuse_line_numbers() -> None:
    text = MINIMAL.replace(
        'label = "Invoice"',
        'label = "Invoice"\ndescription = """\nperiod = "not a key"\n"""',
    )
    error = error_for(text.replace('period = "6y"', 'period = "6q"'))
    assert (error.line, error.key) == (8, "period")


def test_zero_and_huge_periods_are_rejected() -> None:
    assert "is zero" in str(error_for(MINIMAL.replace('"6y"', '"0d"')))
    assert "exceeds 200 years" in str(error_for(MINIMAL.replace('"6y"', '"500y"')))


def test_deed_period_cannot_be_permanent() -> None:
    text = MINIMAL.replace('period = "6y"', 'period = "6y"\ndeed_period = "permanent"')
    assert str(error_for(text)) == (
        "sched.toml, line 6: [record_types.invoice] deed_period: "
        "'permanent' is not allowed here; give a period such as '12y'"
    )


def test_record_type_key_format() -> None:
    error = error_for(MINIMAL.replace("[record_types.invoice]", "[record_types.Invoice]"))
    assert (error.line, error.table, error.key) == (3, "record_types", "Invoice")


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ScheduleError, match=r"absent\.toml: cannot read the schedule file"):
        load_schedule(missing)


def test_duration_parsing() -> None:
    assert Duration.parse("6y") == Duration(6)
    assert Duration.parse("18m") == Duration(months=18)
    assert Duration.parse("30d") == Duration(days=30)
    assert Duration.parse("1y6m") == Duration(1, 6)
    assert str(Duration(1, 6)) == "1y6m"
    for bad in ("", "6", "y", "6 years", "-1y", "6m1y"):
        with pytest.raises(ValueError):
            Duration.parse(bad)


def test_duration_adds_calendar_units() -> None:
    assert Duration(1).add_to(date(2024, 2, 29)) == date(2025, 2, 28)
    assert Duration(4).add_to(date(2024, 2, 29)) == date(2028, 2, 29)
    assert Duration(months=1).add_to(date(2024, 1, 31)) == date(2024, 2, 29)
    assert Duration(months=1).add_to(date(2023, 1, 31)) == date(2023, 2, 28)
    assert Duration(months=18).add_to(date(2023, 11, 30)) == date(2025, 5, 30)
    assert Duration(days=30).add_to(date(2024, 12, 31)) == date(2025, 1, 30)
    assert Duration(1, 0, 1).add_to(date(2024, 2, 29)) == date(2025, 3, 1)
