"""An in-memory stand-in for the few pymongo calls the services make.

Enough of a collection for the store wrappers under test: equality filters, unique ``_id`` and
unique single-field indexes (DuplicateKeyError like the real store), ``$set`` updates and
upserting replaces. Documents are copied in and out, as a real store would.
"""

from bson import ObjectId
from pymongo.errors import DuplicateKeyError


def _copy(value):
    """A deep copy of a document: dicts and lists are copied, scalars (str, int, datetime,
    ObjectId...) are immutable and shared. Much faster than copy.deepcopy, which the crash-point
    explorer would otherwise spend most of its time in."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


class FakeCollection:
    def __init__(self):
        self.docs = {}          # _id -> document
        self.unique = set()     # fields with a unique index besides _id

    def create_index(self, keys, unique=False, name=None, **_):
        assert isinstance(keys, str), "the fake supports single-field indexes only"
        if unique:
            self.unique.add(keys)
        return name or f"{keys}_1"

    @staticmethod
    def _holds(value, condition):
        """Equality, or the two operators the outbox relay asks for: ``$gt`` and ``$not``."""
        if not isinstance(condition, dict):
            return value == condition
        (operator, operand), = condition.items()
        if operator == "$not":
            return not FakeCollection._holds(value, operand)
        assert operator == "$gt", f"the fake does not know {operator}"
        return value is not None and value > operand

    @classmethod
    def _matches(cls, doc, query):
        return all(cls._holds(doc.get(field), wanted) for field, wanted in (query or {}).items())

    def count_documents(self, query):
        return sum(1 for d in self.docs.values() if self._matches(d, query))

    def _check_unique(self, doc, ignore_id=None):
        for other_id, other in self.docs.items():
            if other_id == ignore_id:
                continue
            if other_id == doc["_id"]:
                raise DuplicateKeyError(f"E11000 duplicate key _id: {doc['_id']!r}", 11000)
            for field in self.unique:
                if field in doc and other.get(field) == doc[field]:
                    raise DuplicateKeyError(f"E11000 duplicate key {field}: {doc[field]!r}",
                                            11000)

    def _first(self, query):
        return next((d for d in self.docs.values() if self._matches(d, query)), None)

    def insert_one(self, doc):
        doc.setdefault("_id", ObjectId())  # as pymongo does, on the caller's dict
        self._check_unique(doc)
        self.docs[doc["_id"]] = _copy(doc)

    def insert_many(self, docs, ordered=True):
        """As the store does it: each document tried (all of them unless ``ordered``), the
        clashes reported by index in a BulkWriteError."""
        from pymongo.errors import BulkWriteError
        errors = []
        for index, doc in enumerate(docs):
            try:
                self.insert_one(doc)
            except DuplicateKeyError as exc:
                errors.append({"index": index, "code": 11000, "errmsg": str(exc)})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": len(docs) - len(errors)})

    def find(self, query=None, projection=None, sort=None, limit=0):
        found = [_copy(d) for d in self.docs.values() if self._matches(d, query)]
        for field, direction in reversed(sort or []):  # as a migration walks by _id
            found.sort(key=lambda doc: doc[field], reverse=direction < 0)
        return FakeCursor(found).limit(limit)

    def find_one(self, query=None, projection=None):
        found = self._first(query)
        return _copy(found)  # projections are ignored: callers only read fields

    def replace_one(self, query, replacement, upsert=False):
        current = self._first(query)
        if current is None and not upsert:
            return
        doc_id = current["_id"] if current is not None else query.get("_id", ObjectId())
        doc = dict(_copy(replacement), _id=doc_id)
        self._check_unique(doc, ignore_id=doc_id)
        self.docs[doc_id] = doc

    def update_one(self, query, update):
        assert set(update) == {"$set"}, "the fake supports $set only"
        current = self._first(query)
        if current is not None:
            updated = dict(current, **_copy(update["$set"]))
            self._check_unique(updated, ignore_id=current["_id"])
            self.docs[current["_id"]] = updated

    def delete_one(self, query):
        current = self._first(query)
        if current is not None:
            del self.docs[current["_id"]]


class FakeCursor(list):
    def limit(self, n):
        return FakeCursor(self[:n]) if n else self


class FakeDatabase:
    """``db.name`` and ``db["name"]`` give one lazily created collection per name.

    Pass ``name=collection`` to use a special collection (e.g. one that simulates a race).
    """

    def __init__(self, **collections):
        self.collections = dict(collections)

    def __getitem__(self, name):
        if name not in self.collections:
            self.collections[name] = FakeCollection()
            self.collections[name].database = self  # as pymongo's Collection.database
        return self.collections[name]

    def __getattr__(self, name):
        if name.startswith("_") or name == "collections":
            raise AttributeError(name)
        return self[name]
