"""What column and table names say about keys and references.

Names are split into lower-case tokens (snake_case, CamelCase, `custkey` -> cust + key), a
table-wide column prefix (`o_` in TPC-H's orders) is stripped, and table names are reduced to
their singular entity (`order_items` -> order item). A name then says one of: "I am this
table's key" (`id`, `customer_id` in customers), "I reference table X" (`customer_id`,
`o_custkey`, `billing_customer_id`, `CustomerId`), "I reference a person in some role"
(`SupportRepId`, `user_id`, `created_by`), or nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

#: the roles a column can play in its table, as the semantic providers and `dataraum annotate` name
#: them (here, where the CLI reads them without importing the providers)
ROLES = ("key", "foreign_key", "measure", "dimension", "timestamp", "attribute")
#: tokens that mark a key or a reference (`customer_id`, `custkey`, `country_code`)
KEY_TOKENS = frozenset({"id", "key", "code", "no", "nr", "num", "number", "ref", "fk", "sk",
                        "pk", "uuid", "guid"})
#: warehouse prefixes that are not part of a table's entity (`dim_customer`)
_TABLE_PREFIXES = frozenset({"dim", "fact", "fct", "tbl", "stg", "lkp", "lookup", "ref", "d", "f",
                             "t", "tb", "dw"})

#: ... and suffixes (`date_dim`, `sales_fact`)
_TABLE_SUFFIXES = frozenset({"dim", "dimension", "fact", "fct", "tbl", "table", "lkp", "lookup"})

#: people are referenced by role; each role names the kinds of table it can point at
_STAFF_TABLES = frozenset({"employee", "staff", "user", "agent", "rep", "representative",
                           "salesperson", "worker", "personnel"})
_CLIENT_TABLES = frozenset({"customer", "client", "user", "member", "account", "subscriber",
                            "person", "people", "contact", "patron", "guest", "buyer"})
_PERSON_ROLES: dict[str, frozenset[str]] = {
    **dict.fromkeys(["rep", "agent", "manager", "employee", "staff", "salesperson", "supervisor",
                     "reports", "boss", "approver", "approved", "reviewer", "reviewed",
                     "assignee", "assigned", "handler", "handled", "clerk", "cashier", "operator",
                     "seller", "salesrep", "owner", "mentor", "lead", "mgr"], _STAFF_TABLES),
    **dict.fromkeys(["user", "buyer", "client", "customer", "member", "account", "requester",
                     "requested", "reporter", "subscriber", "patron", "guest", "payer",
                     "recipient", "sender", "holder", "purchaser", "shopper"], _CLIENT_TABLES),
    **dict.fromkeys(["creator", "created", "author", "updated", "modified", "changed",
                     "deleted", "editor", "submitter", "submitted"], _STAFF_TABLES | _CLIENT_TABLES),
}
#: a person named by what they do (`inspector_id`, `sponsor_id`, `driver_id`): an agent noun,
#: which names staff more often than clients; these common things end the same way
_AGENT_ENDINGS = ("or", "er", "ee", "ist")
_NOT_AGENTS = frozenset({
    "order", "number", "counter", "header", "folder", "filter", "container", "center", "meter", "layer",
    "letter", "paper", "server", "printer", "computer", "cluster", "quarter", "register", "ledger", "master",
    "trigger", "timer", "voucher", "marker", "tracker", "parameter", "carrier", "supplier", "router",
    "scanner", "trailer", "banner", "poster", "locker", "adapter", "offer", "transfer", "answer", "other",
    "water", "power", "tower", "border", "corner", "cover", "river", "winter", "summer", "semester",
    "chapter", "character", "identifier", "modifier", "multiplier", "qualifier", "barrier", "color",
    "colour", "floor", "door", "sector", "factor", "vector", "error", "motor", "sensor", "monitor",
    "indicator", "processor", "connector", "elevator", "generator", "calculator", "tractor", "mirror",
    "vendor", "major", "minor", "flavor", "flavour", "favor", "honor", "labor", "interior", "exterior",
    "anchor", "senior", "junior", "committee", "coffee", "degree", "playlist", "wishlist", "checklist",
    "blacklist", "whitelist", "shortlist", "pricelist", "partner", "provider", "distributor", "manufacturer",
    "retailer", "wholesaler", "trimester", "divisor", "multiplicator", "cursor", "descriptor"})
#: parties an order is billed, shipped or sold to (`bill_to`, `ShipTo`), and the tables of them
_PARTY_VERBS = frozenset({"bill", "ship", "sold", "deliver", "remit", "invoice", "send"})
_PARTIES = _CLIENT_TABLES | {"address", "location", "party", "site", "partner", "company", "organization"}
#: roles that point back into the same table: any table (a parent category) ...
_SELF_ROLES = frozenset({"parent", "predecessor", "successor", "previous", "prev", "next",
                         "root", "master", "replaced", "superseded", "original", "related"})
#: ... or a table of people (a manager is another employee)
_PERSON_SELF_ROLES = frozenset({"manager", "mgr", "reports", "supervisor", "boss", "mentor",
                                "lead", "referrer", "referred", "spouse", "sponsor"})


def _singular_keys(words: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    return {singular(w): tables for w, tables in words.items()}


_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman",
              "data": "data", "status": "status", "address": "address", "analysis": "analysis"}


def singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


_PERSON_ROLES = _singular_keys(_PERSON_ROLES)  # names are compared in the singular
_SELF_ROLES = frozenset(singular(w) for w in _SELF_ROLES)
_PERSON_SELF_ROLES = frozenset(singular(w) for w in _PERSON_SELF_ROLES)
_PEOPLE = frozenset().union(*_PERSON_ROLES.values())
_STAFF = frozenset(singular(w) for w in _STAFF_TABLES)
_PERSON_ROLE_WORDS = tuple(_PERSON_ROLES)
_SELF_AND_PERSON_SELF_ROLES = _SELF_ROLES | _PERSON_SELF_ROLES


def tokens(name: str) -> list[str]:
    """`SupportRepId` -> support rep id; `o_custkey` -> o cust key; `user_id` -> user id."""
    out: list[str] = []
    for part in re.split(r"[^0-9A-Za-z]+", name):
        for word in _CAMEL.findall(part):
            word = word.lower()
            # a key suffix glued to the word (custkey, nationkey, userid): split it off
            for suffix, shortest in (("key", 2), ("id", 4)):
                if word.endswith(suffix) and len(word) - len(suffix) >= shortest and word != suffix:
                    out += [word[: -len(suffix)], suffix]
                    break
            else:
                out.append(word)
    return out


def column_prefix(columns: Sequence[str]) -> str | None:
    """A short prefix most columns of a table share (`o_` in o_orderkey, o_custkey, ...)."""
    if len(columns) < 2:
        return None
    # `plan_id` in plan_carriers starts with an entity, not a prefix: a head counts only where
    # more than a key word follows it
    heads = Counter(m.group(0).lower() for c in columns if (m := re.match(r"[A-Za-z]{1,4}_", c))
                    and not set(tokens(c[m.end():])) <= KEY_TOKENS)
    if not heads:
        return None
    head, count = heads.most_common(1)[0]
    return head if count >= max(2, 0.6 * len(columns)) else None


def entity(table: str) -> tuple[str, ...]:
    """The singular entity a table holds: `order_items` -> (order, item), `dim_Customer` and
    `customer_dim` -> (customer,)."""
    words = tokens(table)
    while len(words) > 1 and words[0] in _TABLE_PREFIXES:
        words = words[1:]
    while len(words) > 1 and words[-1] in _TABLE_SUFFIXES:
        words = words[:-1]
    return tuple(singular(w) for w in words)


@dataclass(frozen=True)
class ColumnName:
    """A column's name, analysed in the context of its table."""

    table: str
    column: str
    core: tuple[str, ...]  # tokens without the table prefix and the key tokens, singular
    key_suffix: bool  # ends with a key token (`_id`, `key`, `Code`, ...)
    entity: tuple[str, ...]  # the table's entity

    @property
    def names_own_table(self) -> bool:
        """`id`, `key`, `customer_id` in customers, `c_custkey` in customer."""
        if not self.core:
            return self.key_suffix
        return self.key_suffix and (self.core == self.entity or _abbreviates(self.core[-1], self.entity[-1])
                                    or self.core == self.entity[-1:])


def column_name(table: str, column: str, prefix: str | None) -> ColumnName:
    words = tokens(column[len(prefix):] if prefix and column.lower().startswith(prefix) else column)
    key_suffix = bool(words) and words[-1] in KEY_TOKENS
    core = tuple(singular(w) for w in words if w not in KEY_TOKENS)
    return ColumnName(table=table, column=column, core=core, key_suffix=key_suffix, entity=entity(table))


@lru_cache(maxsize=10_000)  # a wide schema asks about the same words for thousands of column pairs
def _role_words(word: str, roles: frozenset[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The roles a name token is or ends with (`supportrep` -> rep, `parentvend` -> parent)."""
    if word in roles:
        return (word,)
    return tuple(sorted((r for r in roles if len(r) >= 3 and len(word) > len(r)
                         and (word.endswith(r) or word.startswith(r))), key=len, reverse=True))


def _agent_noun(word: str) -> bool:
    """`inspector`, `sponsor`, `driver`, `trustee`, `dentist`: a word for someone who does something."""
    return len(word) >= 5 and word.endswith(_AGENT_ENDINGS) and word not in _NOT_AGENTS


def _abbreviates(short: str, word: str) -> bool:
    """`cust` ~ customer, `prod` ~ product, `emp` ~ employee."""
    return len(short) >= 3 and short != word and word.startswith(short)


@dataclass(frozen=True)
class NameEvidence:
    score: float  # 0..1
    reason: str


NONE = NameEvidence(0.0, "")


def names_own_table_first(ref: ColumnName, key: ColumnName, unique: bool) -> bool:
    """Whether the referencing column's name names its own table at least as well as the key's
    table: `c_customer_id` in customer (not catalog_page). Such a column identifies its own
    rows. A name both share says so only of a `unique` column that names both tables alike
    (`hd_demo_sk` of household_demographics, `cd_demo_sk` of customer_demographics); not when
    it names the referencing table better (`account_id` of accounts in its extension
    account_details), nor in a bridge (`prr_regkey` of project_regions, `r_regkey` of regions)."""
    own, other = _names_entity(ref.core, ref.entity), _names_entity(ref.core, key.entity)
    if ref.core == key.core:
        return unique and own > 0 and own == other
    return own > 0 and own >= other


def _names_entity(core: tuple[str, ...], ent: tuple[str, ...]) -> int:
    """How well a name's core names an entity: 3 all of it, 2 its last word, 1 an abbreviation
    of its last word (`demo` ~ demographics), 0 not at all."""
    if not core:
        return 0
    if core == ent:
        return 3
    if core == ent[-1:]:
        return 2
    return 1 if len(core) == 1 and _abbreviates(core[0], ent[-1]) else 0


def name_evidence(ref: ColumnName, key: ColumnName, key_is_own: bool) -> NameEvidence:
    """How strongly the referencing column's name points at `key` (a key of its table)."""
    if ref.table == key.table:  # within a table only a role says "another row of mine"
        if not key_is_own:
            return NONE
        roles = _SELF_AND_PERSON_SELF_ROLES if key.entity[-1] in _PEOPLE else _SELF_ROLES
        role = next((r for word in ref.core for r in _role_words(word, roles)), None)
        if role:
            return NameEvidence(0.7, f"{ref.column} is a {role!r} reference within {key.table}")
        return NONE
    if ref.core and ref.core == key.core and (key.key_suffix or key_is_own or len(ref.core) > 1):
        return NameEvidence(1.0, f"{ref.column} and {key.table}.{key.column} have the same name")
    if not key_is_own:
        return NONE
    target = key.entity
    if ref.core and ref.core[-len(target):] == target:
        role = " ".join(ref.core[: -len(target)])
        how = f"{ref.column} names table {key.table}" + (f" (role: {role})" if role else "")
        return NameEvidence(0.95 if not role else 0.9, how)
    if key.core and ref.core[-len(key.core):] == key.core:
        role = " ".join(ref.core[: -len(key.core)])
        return NameEvidence(0.9, f"{ref.column} ends with the name of {key.table}.{key.column}"
                                 + (f" (role: {role})" if role else ""))
    if (len(key.core) == 1 and ref.core and len(key.core[0]) >= 3 and ref.core[-1] != key.core[0]
            and ref.core[-1].endswith(key.core[0])):
        role = ref.core[-1][: -len(key.core[-1])]  # glued: parentvendkey ~ vendkey
        if role == "".join(w[0] for w in key.entity[:-1]):  # hdemo ~ household demographics' demo
            return NameEvidence(0.95, f"{ref.column} abbreviates table {key.table} ({role} + {key.core[-1]})")
        return NameEvidence(0.85, f"{ref.column} ends with the name of {key.table}.{key.column}"
                                  + (f" (role: {role})" if role else ""))
    if ref.core and _abbreviates(ref.core[-1], target[-1]):
        return NameEvidence(0.8, f"{ref.column} abbreviates table {key.table}")
    if len(ref.core) == 2 and ref.core[1] == "to" and ref.core[0] in _PARTY_VERBS and target[-1] in _PARTIES:
        return NameEvidence(0.65, f"{ref.column} is a {' '.join(ref.core)!r} party, {key.table} holds parties")
    person_roles = [role for word in ref.core for role in _role_words(word, _PERSON_ROLE_WORDS)]
    for role in person_roles:
        if target[-1] in _PERSON_ROLES[role]:
            return NameEvidence(0.65, f"{ref.column} is a {role!r} role, {key.table} holds people")
    # a role it knows says which people; a person named by what they do, staff rather than clients
    if not person_roles and ref.key_suffix and ref.core and _agent_noun(ref.core[-1]) and target[-1] in _PEOPLE:
        staff = target[-1] in _STAFF
        held = "staff" if staff else "people"
        return NameEvidence(0.6 if staff else 0.5, f"{ref.column} names a person by what they do "
                                                   f"({ref.core[-1]!r}), {key.table} holds {held}")
    if ref.key_suffix and ref.core:
        return NameEvidence(0.35, f"{ref.column} is named like a reference")
    return NONE
