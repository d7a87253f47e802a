"""The volunteer service's side of imported sheets (see sheets_import.py for the whole flow).

``import_hours`` takes up to 1000 rows of a sheet: with ``dry_run`` it only reports each bad
row by its line; otherwise it refuses the part when any row is bad and logs the rest through
``VolunteerService._log_entries``, the path of staff sheets. A row whose volunteer already
holds a live record of the same minutes on the activity is skipped, not logged again.
"""

from nameko.rpc import rpc

from services.shared import contracts, identity
from services.shared.contracts import load
from services.shared.errors import InvalidInput
from services.shared.ids import derived_id
from services.volunteer import domain

def line_fields(problems):
    """InvalidInput fields naming each bad line, the way the CLI prints them."""
    return {f"line {line}": [reason] for line, reason in sorted(problems.items())}


class HoursImportEntrypoints:
    """Mixed into VolunteerService."""

    @rpc
    def import_hours(self, actor, activity_id, body, request_key=None):
        actor = load(contracts.ActorSchema(), actor)
        activity = self._get_in_tenant(actor, self.store.activities, activity_id, "activity")
        domain.require_staff_of_center(actor, activity["center_id"])
        data = load(contracts.SheetImportIn(), body)
        domain.check_activity_started(activity, self.clock())
        rows = data["rows"]
        volunteer_of, problems = self._volunteers_of_rows(activity, rows)
        live = self._live_records(activity["_id"], set(volunteer_of.values()))
        longest = domain.activity_minutes(activity)
        line_of_volunteer, new = {}, []
        for row in rows:
            volunteer_id = volunteer_of.get(row["line"])
            if volunteer_id is None:
                continue
            earlier = line_of_volunteer.setdefault(volunteer_id, row["line"])
            record = live.get(volunteer_id)
            if earlier != row["line"]:
                problems[row["line"]] = f"volunteer {volunteer_id} is already on line {earlier}"
            elif row["minutes"] > longest:
                problems[row["line"]] = (f"{row['minutes']} minutes is longer than the activity "
                                         f"({longest} minutes)")
            elif record is not None and record["minutes"] != row["minutes"]:
                problems[row["line"]] = (f"volunteer {volunteer_id} is already logged on this "
                                         f"activity with {record['minutes']} minutes (hours "
                                         f"record {record['_id']}): reject it to log anew")
            elif record is None:
                new.append({"volunteer_id": volunteer_id, "minutes": row["minutes"]})
        answer = {"rows": len(rows), "already_logged": len(rows) - len(problems) - len(new)}
        if data["dry_run"]:
            return dict(answer, new=len(new), volunteers={
                str(line): v for line, v in volunteer_of.items() if line not in problems},
                problems=[{"line": line, "reason": reason}
                          for line, reason in sorted(problems.items())])
        if problems:
            raise InvalidInput(f"{len(problems)} rows of the sheet are bad; nothing was written",
                               code="invalid_sheet", fields=line_fields(problems))
        if new:
            # Keyed by content: the same rows imported again (a retried part, the same file
            # run twice at once) meet the same records instead of clashing with them.
            key = derived_id("imp", activity["_id"],
                             *sorted(f"{e['volunteer_id']}:{e['minutes']}" for e in new))
            # The rows' volunteers were found in the activity's community just now: logging
            # them does not look them up again.
            self._log_entries(actor, activity, new, key, community_of={
                entry["volunteer_id"]: activity["community_id"] for entry in new})
        self.metrics.count("hours_imported", len(new))
        return dict(answer, added=len(new))

    def _volunteers_of_rows(self, activity, rows):
        """({line: volunteer id}, {line: reason}) for rows naming volunteers by id or phone."""
        community_id = activity["community_id"]
        holder_of_phone = self._holders_of_phones(
            community_id, {r["phone"] for r in rows if not r["volunteer_id"]})
        ids = list(dict.fromkeys([r["volunteer_id"] for r in rows if r["volunteer_id"]] +
                                 [v for v in holder_of_phone.values() if v]))
        community_of = self.store.communities_of_volunteers(ids)
        volunteer_of, problems = {}, {}
        for row in rows:
            if row["volunteer_id"]:
                if community_of.get(row["volunteer_id"]) == community_id:
                    volunteer_of[row["line"]] = row["volunteer_id"]
                else:  # another community's volunteer is as unknown as a made-up id
                    problems[row["line"]] = f"no volunteer {row['volunteer_id']} in this community"
                continue
            holder = holder_of_phone.get(row["phone"])
            # A claim whose registration never stored its volunteer names nobody.
            if holder and community_of.get(holder) == community_id:
                volunteer_of[row["line"]] = holder
            else:
                problems[row["line"]] = f"no volunteer with phone {row['phone']} in this community"
        return volunteer_of, problems

    def _holders_of_phones(self, community_id, phones):
        """{phone as the sheet wrote it: the volunteer id its claim names, or None}: one
        ``_id`` lookup of the community's claim on each number (a number is one volunteer per
        community), never a read of the community's volunteers."""
        phones = sorted(phones)

        def holder(phone):
            mobile = identity.mainland_mobile(phone)
            return mobile and self.store.directory.holder_of(community_id, mobile)

        return dict(zip(phones, self.store._each(holder, phones)))

    def _live_records(self, activity_id, volunteer_ids):
        """{volunteer id: record} of the volunteers holding a pending or approved record."""
        def live_record(volunteer_id):
            generation = 1
            while True:
                record = self.store.hours.find_one(
                    {"_id": domain.record_id(activity_id, volunteer_id, generation)})
                if record is None:
                    return None
                if self._is_live(record["_id"]):
                    return record
                generation += 1

        found = self.store._each(live_record, list(volunteer_ids))
        return {record["volunteer_id"]: record for record in found if record}

    def _is_live(self, record_id):
        """Pending or approved (store.status_of's answer), asking the step-1 decision first: a
        pending record, the common case, costs one lookup instead of two. A step-2 decision
        (revoked) only ever follows a step-1 approval."""
        first = self.store.decisions.find_one({"_id": f"{record_id}:1"})
        if first is None:
            return True
        return first["status"] == domain.APPROVED and \
            self.store.decisions.find_one({"_id": f"{record_id}:2"}) is None
