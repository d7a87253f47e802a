"""Paper sheets without servers: reading a CSV as centers write it, and checking every part of a
sheet before writing any (services/volunteer/sheets_import.py)."""
import pytest

from services.volunteer import sheets_import
from services.volunteer.sheets_import import Problem, Row, SheetError, SheetRefused, \
    decode_sheet, parse_sheet, run_import


def parsed(text):
    return parse_sheet(text)


def test_an_excel_sheet_with_a_bom_and_chinese_headers_and_names_is_read():
    raw = "志愿者编号,姓名,时长（分钟）\r\nvol_1,李伟,90\r\nvol_2,王芳,120\r\n".encode("utf-8-sig")
    rows, problems = parse_sheet(decode_sheet(raw))
    assert problems == []
    assert rows == [Row(2, "vol_1", None, 90), Row(3, "vol_2", None, 120)]


def test_a_sheet_saved_as_plain_csv_on_chinese_windows_is_read_as_gb18030():
    raw = "手机号,姓名,分钟\n138 0000 0000,张三,60\n".encode("gb18030")
    rows, problems = parse_sheet(decode_sheet(raw))
    assert (rows, problems) == ([Row(2, None, "13800000000", 60)], [])


def test_a_named_charset_is_used_and_binary_is_refused():
    assert decode_sheet("分钟".encode("gbk"), "GBK") == "分钟"
    with pytest.raises(SheetError):
        decode_sheet(b"\x81\x30", "utf-8")


def test_every_bad_row_is_reported_with_its_line_and_blank_rows_are_skipped():
    text = ("volunteer_id,phone,minutes\n"
            "vol_1,,60\n"          # 2 fine
            ",,60\n"               # 3 nobody
            "vol_2,,1.5\n"         # 4 not whole minutes
            "\n"                   # 5 blank: skipped
            "vol_3,,0\n"           # 6 out of range
            ",1.38E+10,30\n"       # 7 Excel turned the phone into a number
            "vol_1,,30\n"          # 8 duplicate of line 2
            "vol_4,,\n"            # 9 no minutes
            ",+86 138-0000-0001,45\n"  # 10 fine, by phone
            ",,\n")                # 11 blank
    rows, problems = parsed(text)
    assert rows == [Row(2, "vol_1", None, 60), Row(10, None, "13800000001", 45)]
    assert [(p.line, p.reason.split(" ")[0]) for p in problems] == [
        (3, "no"), (4, "minutes"), (6, "minutes"), (7, "phone"), (8, "volunteer"), (9, "no")]
    assert "line 8: volunteer vol_1 is already on line 2" in [str(p) for p in problems]


def test_line_numbers_count_lines_of_the_file_even_inside_quoted_cells():
    rows, problems = parsed('姓名,volunteer_id,minutes\n"李\n伟",vol_1,60\n王芳,vol_2,x\n')
    assert rows == [Row(3, "vol_1", None, 60)]
    assert [p.line for p in problems] == [4]


def test_semicolons_and_tabs_separate_columns_too():
    assert parsed("volunteer_id;minutes\nvol_1;60\n")[0] == [Row(2, "vol_1", None, 60)]
    assert parsed("volunteer_id\tminutes\nvol_1\t60\n")[0] == [Row(2, "vol_1", None, 60)]


@pytest.mark.parametrize("text", ["", "name,minutes\nli,60\n", "volunteer_id,phone\nv,1\n",
                                  "volunteer_id,minutes\n\n"])
def test_a_sheet_without_a_usable_header_or_rows_is_refused_whole(text):
    with pytest.raises(SheetError):
        parsed(text)


class Service:
    """send() as the volunteer service answers it: ``bad`` lines refused in the check."""

    def __init__(self, bad=(), volunteers=None):
        self.bad, self.volunteers, self.calls = set(bad), volunteers or {}, []

    def send(self, index, part, dry_run):
        self.calls.append((index, dry_run))
        lines = [row["line"] for row in part]
        if dry_run:
            return {"problems": [{"line": n, "reason": "no such volunteer"}
                                 for n in lines if n in self.bad],
                    "volunteers": {str(n): self.volunteers.get(n, f"vol_{n}") for n in lines
                                   if n not in self.bad}}
        return {"added": len(part), "already_logged": 0}


def rows_of(count):
    return [Row(line, f"vol_{line}", None, 60) for line in range(2, count + 2)]


def test_a_bad_row_in_the_last_part_stops_the_import_before_any_part_is_written():
    service = Service(bad={2501})
    with pytest.raises(SheetRefused) as refused:
        run_import(rows_of(2500), service.send)
    assert [str(p) for p in refused.value.problems] == ["line 2501: no such volunteer"]
    assert service.calls == [(0, True), (1, True), (2, True)]  # checked, nothing written


def test_every_part_is_checked_and_then_written_in_parts_of_at_most_1000():
    service = Service()
    totals = run_import(rows_of(2500), service.send)
    assert service.calls == [(0, True), (1, True), (2, True), (0, False), (1, False), (2, False)]
    assert totals == {"rows": 2500, "added": 2500, "already_logged": 0}


def test_one_volunteer_by_id_and_by_phone_in_two_parts_is_a_bad_row():
    rows = rows_of(1500)
    service = Service(volunteers={1400: "vol_2"})  # line 1400 names vol_2's phone
    with pytest.raises(SheetRefused) as refused:
        run_import(rows, service.send)
    assert [p.line for p in refused.value.problems] == [1400]
    assert all(dry_run for _, dry_run in service.calls)


def test_rows_the_file_showed_bad_are_reported_with_those_the_service_found():
    service = Service(bad={3})
    with pytest.raises(SheetRefused) as refused:
        run_import(rows_of(3), service.send, problems=[Problem(9, "minutes 'x'")])
    assert [p.line for p in refused.value.problems] == [3, 9]
    assert all(dry_run for _, dry_run in service.calls)


def test_a_part_the_check_found_fully_logged_is_not_written_again():
    service = Service()
    send = lambda index, part, dry_run: dict(service.send(index, part, dry_run), new=0,  # noqa
                                             already_logged=len(part))
    assert run_import(rows_of(1500), send) == {"rows": 1500, "added": 0,
                                                "already_logged": 1500}
    assert service.calls == [(0, True), (1, True)]


def test_a_parts_write_key_is_derived_from_the_file_activity_part_and_run():
    key = sheets_import.part_key("abc", "act_1", 0, "run1")
    assert key == sheets_import.part_key("abc", "act_1", 0, "run1")
    assert len({key, sheets_import.part_key("abd", "act_1", 0, "run1"),
                sheets_import.part_key("abc", "act_2", 0, "run1"),
                sheets_import.part_key("abc", "act_1", 1, "run1"),
                sheets_import.part_key("abc", "act_1", 0, "run2")}) == 5
    assert str(Problem(7, "why")) == "line 7: why"
