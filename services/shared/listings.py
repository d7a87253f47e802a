"""The admin's lists: communities, a community's centers and merchants, a center's or a
merchant's logins, newest first, walked by ``_id`` alone.

FerretDB serves only ``_id`` lookups from an index (a find on ``community_id`` reads the whole
collection), so each list is a stream of an append-only log (``shared.appendlog``): entry n of
stream s names the n-th thing added to it, written by the service that owns the thing when it
creates it, once per (stream, thing) however often the create is retried. A page costs the
stream's head and limit + 1 lookups, whatever the store holds.
"""
from marshmallow import Schema, ValidationError, validate, validates_schema, EXCLUDE, fields

from services.shared.appendlog import AppendLog
from services.shared.migrations import PagedMigration
from services.shared.contracts import Id, QueryInteger

COMMUNITIES = "communities"


def centers_of(community_id):
    return f"community:{community_id}:centers"


def merchants_of(community_id):
    return f"community:{community_id}:merchants"


def logins_of_center(center_id):
    return f"center:{center_id}:logins"


def logins_of_merchant(merchant_id):
    return f"merchant:{merchant_id}:logins"


class Listings:
    def __init__(self, db):
        self.log = AppendLog(db, "listings")

    def ensure_indexes(self):
        self.log.ensure_indexes()

    def add(self, stream, item_id):
        """List ``item_id`` on ``stream`` once, however often run."""
        self.log.append(stream, 1, key=f"{stream}|{item_id}", floor=None,
                        fields={"item_id": item_id})

    def page(self, stream, limit, cursor=None):
        """``(ids, next_cursor)``: up to ``limit`` ids newest first, below the cursor (a seq)."""
        entries = self.log.entries_of(stream, before_seq=int(cursor) if cursor else None,
                                      limit=limit + 1)
        page = entries[:limit]
        next_cursor = str(page[-1]["seq"]) if len(entries) > limit else None
        return [entry["item_id"] for entry in page], next_cursor


class EarlierListings:
    """Things stored before their lists existed join them, once per database: each stage's
    collection walked in ``_id`` order, a page a tick (shared.migrations.PagedMigration), each
    document added to the streams ``streams_of(doc)`` names. ``Listings.add`` is keyed by
    (stream, thing), so a page handled twice, or beside a live create, lists nothing twice.
    Things listed this way stand in their streams by when the migration reached them."""

    def __init__(self, listings, stages, page_size=None):
        """``stages``: [(name, collection, streams_of(doc) -> [stream])]."""
        def lister(streams_of):
            def handle(page):
                for doc in page:
                    for stream in streams_of(doc):
                        listings.add(stream, doc["_id"])
                return True
            return handle

        self.migration = PagedMigration(
            listings.log.migrations, "earlier_listings",
            [(name, collection, lister(streams_of)) for name, collection, streams_of in stages],
            **({"page_size": page_size} if page_size else {}))

    def tick(self):
        return self.migration.tick()


def login_streams(user):
    """The list a login stands on: its center's or its merchant's (an admin's on none)."""
    if user.get("center_id"):
        return [logins_of_center(user["center_id"])]
    if user.get("merchant_id"):
        return [logins_of_merchant(user["merchant_id"])]
    return []


CURSOR = validate.Regexp(r"^[1-9][0-9]{0,17}\Z", error="as returned in next_cursor")


class PageArgs(Schema):
    """?limit=&cursor= of a list."""
    class Meta:
        unknown = EXCLUDE

    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=CURSOR)


class MerchantListArgs(PageArgs):
    community_id = Id(required=True)


class LoginListArgs(PageArgs):
    """GET /users: the logins of one center or of one merchant."""
    center_id = Id(load_default=None)
    merchant_id = Id(load_default=None)

    @validates_schema
    def one_owner(self, data, **kwargs):
        if (data.get("center_id") is None) == (data.get("merchant_id") is None):
            raise ValidationError("give center_id or merchant_id, not both",
                                  field_name="center_id")
