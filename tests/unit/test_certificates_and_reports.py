"""The service certificate and the center's report (services/volunteer/handouts.py,
certificate.py, reports.py) with worker_factory on the in-memory store."""
import base64
import csv
import io
from datetime import date, datetime, timedelta, timezone
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.shared.clock import now
from services.shared.errors import Busy, Forbidden, InvalidInput, NotFound, RuleViolation
from services.volunteer import certificate, reports
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeCollection, FakeDatabase

ADMIN = {"user_id": "admin", "role": "admin"}
STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1", "community_id": "com_1"}
STAFF_2 = {"user_id": "zhao", "role": "center_staff", "center_id": "ctr_2",
           "community_id": "com_1"}
STAFF_B = {"user_id": "li", "role": "center_staff", "center_id": "ctr_b", "community_id": "com_b"}
LI = {"user_id": "liwei", "role": "volunteer", "subject_id": "vol_1", "community_id": "com_1"}
ZHANG = {"user_id": "zhang", "role": "volunteer", "subject_id": "vol_2", "community_id": "com_1"}
BASE_URL = "https://timebank.example.cn"

# 2026-11-21 09:00 in Shanghai; 16:30 UTC on Nov 30 is already December 1 there.
NOV_21 = datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc)
DEC_1_LOCAL = datetime(2026, 11, 30, 16, 30, tzinfo=timezone.utc)


class IdLookupsOnly(FakeCollection):
    """A collection that counts lookups and refuses any read but one by ``_id`` once armed:
    FerretDB serves only those from an index, so any other read grows with the store."""
    armed = False
    lookups = 0

    def find_one(self, query=None, projection=None):
        if IdLookupsOnly.armed:
            assert set(query or {}) == {"_id"}, f"a read by {query} scans the collection"
            IdLookupsOnly.lookups += 1
        return super().find_one(query, projection)

    def find(self, query=None, projection=None):
        assert not IdLookupsOnly.armed, f"find({query}) reads the whole collection"
        return super().find(query, projection)


class IdLookupDatabase(FakeDatabase):
    def __getitem__(self, name):
        if name not in self.collections:
            self.collections[name] = IdLookupsOnly()
            self.collections[name].database = self
        return self.collections[name]


@pytest.fixture
def service():
    store = VolunteerStore(IdLookupDatabase())
    store.ensure_indexes()
    service = worker_factory(VolunteerService, store=store, outbox=MagicMock(),
                             config={"BCRYPT_ROUNDS": 4, "PUBLIC_BASE_URL": BASE_URL})
    for community in ("com_1", "com_b"):
        store.communities.insert_one({"_id": community, "name": community, "code": community})
    for center, community, name in (("ctr_1", "com_1", "新华社区服务中心"),
                                    ("ctr_2", "com_1", "光明社区服务中心"),
                                    ("ctr_b", "com_b", "other")):
        store.centers.insert_one({"_id": center, "community_id": community, "name": name})
    for volunteer, community, name in (("vol_1", "com_1", "李伟"), ("vol_2", "com_1", "张敏"),
                                       ("vol_b", "com_b", "王芳")):
        store.volunteers.insert_one({"_id": volunteer, "community_id": community, "name": name})
    yield service
    IdLookupsOnly.armed, IdLookupsOnly.lookups = False, 0


def log(service, record_id, volunteer="vol_1", center="ctr_1", minutes=150, starts=NOV_21,
        category="elder_care", title="探访独居老人"):
    """An hours record (pending) on an activity of its own."""
    activity_id = f"act_{record_id}"
    community = "com_b" if center == "ctr_b" else "com_1"
    service.store.activities.insert_one({
        "_id": activity_id, "center_id": center, "community_id": community, "title": title,
        "category": category, "starts_at": starts, "ends_at": starts + timedelta(hours=8)})
    service.store.hours.insert_one({
        "_id": record_id, "activity_id": activity_id, "center_id": center,
        "community_id": community, "category": category, "activity_starts_at": starts,
        "volunteer_id": volunteer, "minutes": minutes, "logged_by": "wang",
        "logged_at": now()})


def approve(service, record_id, center="ctr_1"):
    staff = {"ctr_1": STAFF, "ctr_2": STAFF_2, "ctr_b": STAFF_B}[center]
    service.approve_hours(staff, record_id)


def issued(service, actor=LI, volunteer_id="vol_1"):
    answer = service.issue_certificate(actor, volunteer_id)
    return answer, service.store.certificates.find_one({"_id": answer["code"]})


# --- the certificate -----------------------------------------------------------------------------

def test_a_certificate_lists_the_approved_records_by_activity_center_and_date(service):
    log(service, "hrs_a", minutes=150, starts=NOV_21)
    log(service, "hrs_b", center="ctr_2", minutes=90, starts=NOV_21 + timedelta(days=2),
        title="社区清扫", category="environment")
    log(service, "hrs_revoked", minutes=60)
    log(service, "hrs_pending", minutes=45)
    log(service, "hrs_other", volunteer="vol_2", minutes=30)
    for record, center in (("hrs_a", "ctr_1"), ("hrs_b", "ctr_2"), ("hrs_revoked", "ctr_1"),
                           ("hrs_other", "ctr_1")):
        approve(service, record, center)
    service.revoke_hours(ADMIN, "hrs_revoked", {"reason": "signed in for a friend"})

    answer, document = issued(service)

    assert [(line["record_id"], line["date"], line["activity_title"], line["center_name"],
             line["minutes"]) for line in document["lines"]] == [
        ("hrs_a", "2026-11-21", "探访独居老人", "新华社区服务中心", 150),
        ("hrs_b", "2026-11-23", "社区清扫", "光明社区服务中心", 90)]
    assert document["approved_minutes"] == 240 and document["volunteer_name"] == "李伟"
    # 谁记录谁证明: each center that recorded hours on it issues it, in order of first service.
    assert [center["name"] for center in document["issued_by"]] == ["新华社区服务中心",
                                                                     "光明社区服务中心"]
    text = certificate.certificate_paragraphs(document)
    assert "李伟" in text["statement"] and "4 小时" in text["statement"]
    assert "新华社区服务中心、光明社区服务中心" in text["issuers"]
    assert certificate.printed_code(answer["code"]) in text["code"]
    assert certificate.table_rows(document)[-1] == ["合计 Total", "", "", "", "4 小时"]
    assert answer["verification_url"] == f"{BASE_URL}/verify/{answer['code']}"
    pdf = base64.b64decode(answer["pdf"])
    assert pdf.startswith(b"%PDF") and b"WenQuanYi" in pdf  # the CJK font, embedded


def test_the_star_level_follows_the_approved_hours(service):
    log(service, "hrs_long", minutes=100 * 60)
    approve(service, "hrs_long")
    assert issued(service)[1]["star_level"] == 1
    log(service, "hrs_short", minutes=59)
    approve(service, "hrs_short")
    service.revoke_hours(ADMIN, "hrs_long", {"reason": "mistake"})
    assert issued(service)[1]["star_level"] == 0


def test_a_state_keeps_its_code_and_a_revocation_makes_the_old_code_invalid(service):
    log(service, "hrs_a")
    log(service, "hrs_b", minutes=30)
    approve(service, "hrs_a")
    approve(service, "hrs_b")
    first, _ = issued(service)
    assert issued(service, actor=STAFF)[0]["code"] == first["code"]  # downloaded again

    check = service.check_certificate(first["code"])
    assert (check["valid"], check["volunteer_name"], check["approved_minutes"],
            check["star_level"], check["issued_by"]) == (True, "李伟", 180, 0, "新华社区服务中心")
    assert check["issued_at"] == first["issued_at"]

    service.revoke_hours(ADMIN, "hrs_b", {"reason": "mistake"})
    assert service.check_certificate(first["code"])["valid"] is False
    second, document = issued(service)
    assert second["code"] != first["code"] and document["approved_minutes"] == 150
    assert service.check_certificate(second["code"])["valid"] is True


def test_codes_are_unguessable_and_a_made_up_code_is_not_found(service):
    codes = {certificate.new_code() for _ in range(1000)}
    assert len(codes) == 1000 and all(certificate.CODE_PATTERN.fullmatch(c) for c in codes)
    log(service, "hrs_a")
    approve(service, "hrs_a")
    code = issued(service)[0]["code"]
    typed = certificate.printed_code(code).lower()  # as a person types it off the paper
    assert service.check_certificate(typed)["code"] == code
    for made_up in (certificate.new_code(), "nothing", "", None, code[:-1]):
        with pytest.raises(NotFound):
            service.check_certificate(made_up)


def test_only_self_staff_of_its_community_and_admin_get_a_certificate(service):
    log(service, "hrs_a")
    approve(service, "hrs_a")
    for actor in (LI, STAFF, STAFF_2, ADMIN):
        assert issued(service, actor)[0]["code"]
    for actor in (ZHANG, STAFF_B):
        with pytest.raises(NotFound):
            service.issue_certificate(actor, "vol_1")


def test_no_approved_hours_is_nothing_to_certify(service):
    log(service, "hrs_pending")
    with pytest.raises(RuleViolation) as error:
        service.issue_certificate(LI, "vol_1")
    assert error.value.code == "no_approved_hours"


def test_a_certificate_reads_by_id_only_and_not_other_volunteers_records(service):
    log(service, "hrs_a")
    approve(service, "hrs_a")

    def lookups_of_download_and_check():
        IdLookupsOnly.armed, IdLookupsOnly.lookups = True, 0
        service.check_certificate(service.issue_certificate(LI, "vol_1")["code"])
        IdLookupsOnly.armed = False
        return IdLookupsOnly.lookups

    lookups_of_download_and_check()  # issued: the next downloads find its code
    alone = lookups_of_download_and_check()
    for n in range(40):
        log(service, f"hrs_other{n}", volunteer="vol_2")
        approve(service, f"hrs_other{n}")
    assert lookups_of_download_and_check() == alone


# --- the report ---------------------------------------------------------------------------------

def report(service, actor=STAFF, center="ctr_1", **args):
    return service.center_report(actor, center, {"from": "2026-11-01", "to": "2026-12-31",
                                                 **args})


def test_the_report_counts_approved_minutes_by_month_category_and_volunteer(service):
    log(service, "hrs_a", minutes=150)
    log(service, "hrs_b", volunteer="vol_2", minutes=90, category="culture_sports")
    log(service, "hrs_dec", minutes=30, starts=DEC_1_LOCAL)  # December in Shanghai
    log(service, "hrs_revoked", volunteer="vol_2", minutes=60)
    log(service, "hrs_pending", minutes=45)
    log(service, "hrs_october", minutes=20, starts=NOV_21 - timedelta(days=30))
    log(service, "hrs_center_2", center="ctr_2", minutes=25)
    for record, center in (("hrs_a", "ctr_1"), ("hrs_b", "ctr_1"), ("hrs_dec", "ctr_1"),
                           ("hrs_revoked", "ctr_1"), ("hrs_october", "ctr_1"),
                           ("hrs_center_2", "ctr_2")):
        approve(service, record, center)
    service.revoke_hours(ADMIN, "hrs_revoked", {"reason": "mistake"})

    answer = report(service)

    assert answer["approved_minutes"] == 270
    assert answer["by_month"] == [{"month": "2026-11", "approved_minutes": 240},
                                  {"month": "2026-12", "approved_minutes": 30}]
    by_category = {c["category"]: c["approved_minutes"] for c in answer["by_category"]}
    assert by_category == {"elder_care": 180, "culture_sports": 90, "disability_care": 0,
                           "professional": 0, "environment": 0, "other": 0}
    assert answer["volunteers"] == [
        {"volunteer_id": "vol_1", "name": "李伟", "approved_minutes": 180},
        {"volunteer_id": "vol_2", "name": "张敏", "approved_minutes": 90}]
    assert report(service, ADMIN, **{"from": "2026-10-01", "to": "2026-10-31"})[
        "approved_minutes"] == 20
    # Days bound it, not only months: Nov 21 lies before Nov 22.
    assert report(service, **{"from": "2026-11-22"})["approved_minutes"] == 30


def test_a_decision_followed_again_counts_once_in_the_report(service):
    log(service, "hrs_a", minutes=150)
    approve(service, "hrs_a")
    approve(service, "hrs_a")  # a retried request
    service._follow_decision(service.store.hours.find_one({"_id": "hrs_a"}), 1)  # recovery
    assert report(service)["approved_minutes"] == 150


def test_a_busy_report_tally_is_finished_by_recovery(service, monkeypatch):
    log(service, "hrs_a", minutes=150)
    real_append = service.store.center_minutes.append

    def busy(*args, **kwargs):
        raise Busy("hot")
    monkeypatch.setattr(service.store.center_minutes, "append", busy)
    assert service.approve_hours(STAFF, "hrs_a")["status"] == "approved"
    assert report(service)["approved_minutes"] == 0
    monkeypatch.setattr(service.store.center_minutes, "append", real_append)
    assert service.store.in_flight.is_marked("hrs_a:1")  # what the recovery timer resumes
    service._resume_decision("hrs_a:1")
    assert not service.store.in_flight.is_marked("hrs_a:1")
    assert report(service)["approved_minutes"] == 150


def test_the_report_reads_its_center_and_months_only(service):
    log(service, "hrs_a")
    approve(service, "hrs_a")
    IdLookupsOnly.armed = True
    report(service)
    alone = IdLookupsOnly.lookups
    IdLookupsOnly.armed = False
    for n in range(30):
        log(service, f"hrs_other{n}", center="ctr_2")
        approve(service, f"hrs_other{n}", "ctr_2")
        log(service, f"hrs_old{n}", starts=NOV_21 - timedelta(days=60))
        approve(service, f"hrs_old{n}")
    IdLookupsOnly.armed, IdLookupsOnly.lookups = True, 0
    report(service)
    assert IdLookupsOnly.lookups == alone


def test_only_staff_of_the_center_and_admin_see_its_report(service):
    assert report(service, ADMIN)["center_name"] == "新华社区服务中心"
    for actor in (STAFF_2, LI):
        with pytest.raises(Forbidden):
            report(service, actor)
    with pytest.raises(NotFound):  # another community's center does not exist for them
        report(service, STAFF_B)


@pytest.mark.parametrize("args,field", [
    ({"from": "2026-12-01", "to": "2026-11-01"}, "from"),
    ({"from": "2020-01-01", "to": "2026-01-31"}, "to"),
    ({"from": "2026-13-01"}, "from"),
    ({"to": "yesterday"}, "to"),
])
def test_a_bad_range_is_400_naming_the_field(service, args, field):
    with pytest.raises(InvalidInput) as error:
        service.center_report(STAFF, "ctr_1", args)
    assert field in error.value.fields


def test_the_default_range_is_the_year_to_date(service):
    service.clock = lambda: datetime(2026, 3, 5, 20, 0, tzinfo=timezone.utc)  # Mar 6 local
    answer = service.center_report(STAFF, "ctr_1", {})
    assert (answer["from"], answer["to"]) == ("2026-01-01", "2026-03-06")
    assert [m["month"] for m in answer["by_month"]] == ["2026-01", "2026-02", "2026-03"]


def test_the_csv_opens_in_excel_with_its_chinese_and_runs_no_formula():
    report_doc = reports.build_report(
        {"_id": "ctr_1", "name": "新华社区服务中心"}, date(2026, 11, 1), date(2026, 11, 30),
        [{"activity_starts_at": NOV_21, "delta": 150, "category": "elder_care",
          "volunteer_id": "vol_1"},
         {"activity_starts_at": NOV_21, "delta": 30, "category": "other",
          "volunteer_id": "vol_x"}],
        {"vol_1": "李伟", "vol_x": "=HYPERLINK(\"http://evil\")"})
    text = reports.report_csv(reports.with_points(report_doc, [
        point_record("hrs_1", "vol_1", "elder_care", 37),
        point_record("hrs_2", "vol_x", "other", 5)]))
    assert text.startswith("\ufeff")
    data = text.encode("utf-8")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0][:2] == ["中心 Center", "新华社区服务中心"]
    assert ["合计积分 Total points", "42"] in rows
    assert ["月份 Month", "分钟 Minutes", "时长 Hours", "积分 Points"] in rows
    assert ["2026-11", "180", "3 小时", "42"] in rows
    assert ["vol_1", "李伟", "150", "2 小时 30 分钟", "37"] in rows
    assert ["vol_x", "'=HYPERLINK(\"http://evil\")", "30", "30 分钟", "5"] in rows
    assert ["elder_care", "为老服务", "150", "2 小时 30 分钟", "37"] in rows


def point_record(record_id, volunteer_id, category, points, starts_at=NOV_21):
    """An item of points.center_points."""
    return {"record_id": record_id, "volunteer_id": volunteer_id, "category": category,
            "activity_starts_at": starts_at.isoformat(), "points": points}


def test_the_points_join_the_report_by_month_category_and_volunteer():
    minutes = reports.build_report(
        {"_id": "ctr_1", "name": "新华社区服务中心"}, date(2026, 10, 15), date(2026, 11, 30),
        [{"activity_starts_at": NOV_21, "delta": 150, "category": "elder_care",
          "volunteer_id": "vol_1"},
         {"activity_starts_at": NOV_21 - timedelta(days=30), "delta": 60, "category": "other",
          "volunteer_id": "vol_2"}], {"vol_1": "李伟", "vol_2": "张敏"})
    report = reports.with_points(minutes, [
        point_record("hrs_1", "vol_1", "elder_care", 45),
        point_record("hrs_2", "vol_2", "other", 10, NOV_21 - timedelta(days=30)),
        point_record("hrs_3", "vol_1", "other", 7, NOV_21 - timedelta(days=30)),
        # served on Oct 14 (local): its month is asked for, its day is not in the range
        point_record("hrs_4", "vol_2", "other", 99, datetime(2026, 10, 14, 15, 59,
                                                             tzinfo=timezone.utc))])
    assert reports.report_months(report) == ["2026-10", "2026-11"]
    assert report["points"] == 62
    assert [(m["month"], m["approved_minutes"], m["points"]) for m in report["by_month"]] == \
        [("2026-10", 60, 17), ("2026-11", 150, 45)]
    points_of = {c["category"]: c["points"] for c in report["by_category"]}
    assert (points_of["elder_care"], points_of["other"], points_of["culture_sports"]) == \
        (45, 17, 0)
    assert [(v["name"], v["approved_minutes"], v["points"]) for v in report["volunteers"]] == \
        [("李伟", 150, 52), ("张敏", 60, 10)]


def test_decisions_followed_before_reports_existed_join_the_report_once(service, monkeypatch):
    log(service, "hrs_a", minutes=150)
    log(service, "hrs_b", volunteer="vol_2", minutes=40)
    with monkeypatch.context() as before_reports:  # the code of before: no center tally
        before_reports.setattr(type(service), "_tally_for_reports", lambda *args: True)
        approve(service, "hrs_a")
        approve(service, "hrs_b")
        service.revoke_hours(ADMIN, "hrs_b", {"reason": "mistake"})
    assert report(service)["approved_minutes"] == 0
    service.tally_earlier_decisions_for_reports()
    service.tally_earlier_decisions_for_reports()  # once done, it does nothing more
    service.store.center_minutes.migrations.delete_one({"_id": "earlier_decisions_tallied"})
    service.tally_earlier_decisions_for_reports()  # a rerun (crash before the marker) adds none
    assert report(service)["volunteers"] == [
        {"volunteer_id": "vol_1", "name": "李伟", "approved_minutes": 150}]
