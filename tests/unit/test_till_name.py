"""The volunteer's name at the merchant's till: masked (shared.identity.masked_name), answered
only masked by the volunteer service, stored once with the redemption and its day-list entry."""
import pytest

from services.shared.errors import NotFound
from services.shared.identity import masked_name
from tests.unit.test_merchant_days import today
from tests.unit.test_merchants import WANG, shop  # noqa: F401 (fixture)
from tests.unit.test_volunteers_and_activities import register
from tests.unit.test_worker_volunteer import service  # noqa: F401 (fixture)


@pytest.mark.parametrize("name, masked", [
    ("张三明", "张*明"), ("李伟", "李*"), ("欧阳娜娜", "欧**娜"), ("王", "*"),
    ("Wang", "W**g"), ("Li", "L*"), (" Mary Jones ", "M********s"), ("", None), (None, None)])
def test_a_name_shows_its_first_and_last_characters_only(name, masked):
    assert masked_name(name) == masked


def test_the_volunteer_service_answers_only_the_masked_name(service):  # noqa: F811
    volunteer = register(service, name="张三明", id_card="11010519491231002X")
    assert service.masked_volunteer_name(volunteer["id"]) == "张*明"
    with pytest.raises(NotFound):
        service.masked_volunteer_name("vol_nobody")


def test_the_tills_answer_and_the_days_list_carry_the_masked_name(shop):  # noqa: F811
    code = shop.code(key="k1")
    out = shop.redeem(code, key="r1")
    assert out["volunteer_name"] == "李*明"
    shop.credit("vol_2", 100)
    shop.redeem(shop.code(actor=WANG), key="r2")
    # A replay answers the name stored with the redemption; the day's list reads each row's
    # name off its entry: neither asks the volunteer service again.
    shop.volunteers.masked_volunteer_name = None
    assert shop.redeem(code, key="r1")["volunteer_name"] == "李*明"
    assert [i["volunteer_name"] for i in today(shop)["items"]] == ["王*", "李*明"]


def test_a_redemption_stored_before_names_were_kept_answers_a_null_name(shop):  # noqa: F811
    code = shop.code()
    out = shop.redeem(code, key="r1")
    # As stored before this change: no name on the redemption nor on its day's entry.
    m = shop.store.merchant
    entry = m.days.entries_of(f"mer_1@{today(shop)['date']}")[0]
    for collection, doc in ((m.redemptions, m.redemptions.find_one({"_id": out["id"]})),
                            (m.days.entries, m.days.entries.find_one({"_id": entry["_id"]}))):
        collection.replace_one({"_id": doc["_id"]},
                               {k: v for k, v in doc.items() if k != "volunteer_name"})
    assert shop.redeem(code, key="r1")["volunteer_name"] is None
    assert [i["volunteer_name"] for i in today(shop)["items"]] == [None]


def test_a_volunteer_service_without_masked_names_leaves_the_till_without_a_name(shop):  # noqa: F811
    """A rolling upgrade: rewards is new, the volunteer service still of the older release."""
    from nameko.exceptions import RemoteError

    def older_release(volunteer_id):
        raise RemoteError("MethodNotFound", "masked_volunteer_name")
    shop.volunteers.masked_volunteer_name = older_release
    out = shop.redeem(shop.code(), key="r1")
    assert (out["status"], out["volunteer_name"]) == ("completed", None)

    def other_failure(volunteer_id):
        raise RemoteError("KeyError", "boom")
    shop.volunteers.masked_volunteer_name = other_failure
    with pytest.raises(RemoteError):
        shop.redeem(shop.code(key="k2"), key="r2")
