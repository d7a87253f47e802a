"""The admin's lists the volunteer service owns (mixed into VolunteerService): communities, a
community's centers, a center's or a merchant's logins with their role and disabled state.

Each is a stream of ``shared.listings``, written when the thing is created; a page costs its
length in ``_id`` lookups (see shared/listings.py), never a find on another field.
"""
from nameko.rpc import rpc
from nameko.timer import timer

from services.shared import contracts
from services.shared import listings as lists
from services.shared.access import require_role
from services.shared.contracts import load
from services.shared.storage import MongoStore
from services.volunteer import schemas

EARLIER_LISTINGS_INTERVAL_SECONDS = 1  # a page a tick, in the background


class AdminLists:
    listings = MongoStore("volunteer", lists.Listings)

    def _listed(self, collection, stream, args, dump):
        """A page of ``stream``: the stored documents its entries name, dumped."""
        def found(doc_id):
            doc = collection.find_one({"_id": doc_id})
            return doc and dump(doc)
        ids, next_cursor = self.listings.page(stream, args["limit"], args["cursor"])
        return {"items": [item for item in self.store._each(found, ids) if item],
                "next_cursor": next_cursor}

    def _list_login(self, user):
        """Put a center's or a merchant's login on its owner's list (once)."""
        for stream in lists.login_streams(user):
            self.listings.add(stream, user["_id"])

    @timer(interval=EARLIER_LISTINGS_INTERVAL_SECONDS)
    def list_earlier_tenancy(self):
        """Communities, centers and logins stored before their lists existed join them, a
        page a tick, once per database."""
        lists.EarlierListings(self.listings, [
            ("communities", self.store.communities, lambda doc: [lists.COMMUNITIES]),
            ("centers", self.store.centers, lambda doc: [lists.centers_of(doc["community_id"])]),
            ("users", self.store.users, lists.login_streams),
        ]).tick()

    def _login_out(self, user):
        disabled = self.store.disabled_users.find_one({"_id": user["_id"]}, {"_id": 1})
        return dict(schemas.UserOut().dump(user), disabled=disabled is not None)

    @rpc
    def list_communities(self, actor, args):
        """Every community, newest first (admin)."""
        require_role(load(contracts.ActorSchema(), actor), "admin")
        args = load(lists.PageArgs(), args)
        return self._listed(self.store.communities, lists.COMMUNITIES, args,
                            schemas.CommunityOut().dump)

    @rpc
    def list_centers(self, actor, community_id, args):
        """A community's centers, newest first (admin)."""
        require_role(load(contracts.ActorSchema(), actor), "admin")
        args = load(lists.PageArgs(), args)
        community = self.store.get(self.store.communities, community_id, "community")
        return self._listed(self.store.centers, lists.centers_of(community["_id"]), args,
                            schemas.CenterOut().dump)

    @rpc
    def list_logins(self, actor, args):
        """A center's staff logins or a merchant's logins, newest first (admin)."""
        require_role(load(contracts.ActorSchema(), actor), "admin")
        args = load(lists.LoginListArgs(), args)
        if args["center_id"] is not None:
            center = self.store.get(self.store.centers, args["center_id"], "center")
            stream = lists.logins_of_center(center["_id"])
        else:
            merchant = self.rewards.get_merchant(args["merchant_id"])
            stream = lists.logins_of_merchant(merchant["id"])
        return self._listed(self.store.users, stream, args, self._login_out)
