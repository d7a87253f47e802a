"""The check of a whole sheet without writing (the web app's dry run of hours.csv)."""
from services.gateway.sign_in_routes import sheet_check_answer
from services.volunteer.sheets_import import Problem, Row, check_rows
from tests.unit.test_sheets_import import Service, rows_of


def test_every_part_is_checked_nothing_is_written_and_every_bad_line_is_named_in_order():
    service = Service(bad={2501, 5})
    problems, checks = check_rows(rows_of(2500), service.send, problems=[Problem(3000, "x")])
    assert [p.line for p in problems] == [5, 2501, 3000]
    assert service.calls == [(0, True), (1, True), (2, True)]
    assert len(checks) == 3


def test_the_answer_names_each_row_by_the_volunteer_found_and_counts_nothing_new_when_bad():
    rows = [Row(2, None, "13800000000", 60), Row(3, "vol_x", None, 30)]
    service = Service(bad={3}, volunteers={2: "vol_li"})
    answer = sheet_check_answer(rows, *check_rows(rows, lambda i, part, dry: dict(
        service.send(i, part, dry), new=1, already_logged=0), problems=[Problem(4, "no minutes")]))
    assert answer == {
        "rows": [{"line": 2, "volunteer_id": "vol_li", "phone": "13800000000", "minutes": 60},
                 {"line": 3, "volunteer_id": "vol_x", "phone": None, "minutes": 30}],
        "problems": [{"line": 3, "reason": "no such volunteer"}, {"line": 4, "reason": "no minutes"}],
        "new": 0, "already_logged": 0}
    clean = sheet_check_answer(rows[:1], [], [{"new": 1, "already_logged": 0, "volunteers": {}}])
    assert clean["new"] == 1 and clean["problems"] == []
