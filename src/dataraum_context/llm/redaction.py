"""Personal data, recognised and masked before a sample value leaves the machine.

A column holds personal data when its values are e-mail addresses or phone numbers, when it
is a name column of a table of people whose values are shaped like names, or when the ontology
marks the concept it matches as personal (`pii: true`: names, contact details, addresses,
dates of birth, national ids). Every sample value of such a column is replaced by a
placeholder (`<email>`, `<phone>`, `<name>`, `<personal>`); in every other column, e-mail
addresses and phone numbers inside the text are replaced. Text extremes (min/max) are never
sent at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dataraum_context.naming import entity, singular, tokens
from dataraum_context.ontology import ConceptMatch, Ontology

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.(?:[Xx][Nn]--[\w-]+|[^\W\d_]{2,})")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{5,}\d(?![\w])")
_DATE_START = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")

PLACEHOLDERS = {"email": "<email>", "phone": "<phone>", "name": "<name>", "personal": "<personal>"}

#: tables whose rows are people (by their singular entity word)
_PEOPLE = frozenset({
    "customer", "client", "user", "member", "employee", "staff", "person", "people", "patient",
    "contact", "student", "author", "subscriber", "guest", "passenger", "driver", "agent", "rep",
    "buyer", "seller", "lead", "applicant", "candidate", "visitor", "teacher", "doctor",
    "physician", "nurse", "traveler", "traveller", "tenant", "donor", "volunteer", "worker",
    "player", "athlete", "artist", "owner", "shopper", "recipient", "beneficiary", "enrollee",
    "salesperson", "manager", "instructor", "attendee", "participant",
})
_NAME_WORDS = frozenset({"name", "fullname", "firstname", "lastname", "surname", "forename",
                         "fname", "lname", "givenname", "familyname", "middlename"})
_MIN_SHARE = 0.5  # share of sample values that must look like personal data


def is_phone(text: str) -> bool:
    """7 to 15 digits written with separators or a leading +: not a date, a decimal, an IP."""
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15 or _DATE_START.match(text) or _NUMBER.match(text) or _IPV4.match(text):
        return False
    return text.startswith("+") or any(ch in text for ch in " ().-")


def _looks_like_name(text: str) -> bool:
    """Two to four capitalised words of letters: `Zoë Müller`, `Mary-Ann O'Neil`."""
    words = text.split()
    return 2 <= len(words) <= 4 and all(
        w[0].isupper() and all(ch.isalpha() or ch in "'’.-" for ch in w) for w in words)


def _share(values: Sequence[str], test) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def personal_kind(table: str, column: str, candidates: Sequence[ConceptMatch], values: Sequence[str],
                  ontology: Ontology, min_score: float = 0.6) -> tuple[str, str] | None:
    """(placeholder kind, reason) when the column holds personal data, else None."""
    if _share(values, lambda v: EMAIL.fullmatch(v.strip()) is not None) >= _MIN_SHARE:
        return "email", "values are e-mail addresses"
    if _share(values, lambda v: is_phone(v.strip())) >= _MIN_SHARE:
        return "phone", "values are phone numbers"
    words = {singular(w) for w in tokens(column)}
    table_people = bool(set(entity(table)) & _PEOPLE)
    if words & _NAME_WORDS and (table_people or words & _PEOPLE) \
            and (not values or _share(values, _looks_like_name) >= _MIN_SHARE):
        return "name", f"a name column of {'table ' + table if table_people else 'a person'}"
    for match in candidates:
        if match.score >= min_score and ontology.concept(match.concept).pii:
            kind = {"email": "email", "phone": "phone", "person_name": "name"}.get(match.concept, "personal")
            return kind, f"concept {match.concept} is personal data"
    return None


def redact(value: str, kind: str | None) -> str:
    """The value as it may be sent: a placeholder for a personal column, else the text with
    e-mail addresses and phone numbers masked."""
    if kind is not None:
        return PLACEHOLDERS[kind]
    masked = EMAIL.sub(PLACEHOLDERS["email"], value)
    return _PHONE.sub(lambda m: PLACEHOLDERS["phone"] if is_phone(m.group(0)) else m.group(0), masked)
