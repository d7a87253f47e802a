"""A person's identifiers: mainland mobile numbers and resident ID card numbers.

Validated with well-kept libraries (libphonenumber's metadata knows which prefixes are mobile;
python-stdnum implements GB 11643, birth date and check digit) rather than hand-written rules.
"""
import re

import phonenumbers
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

CHINA = 86
MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
# What a typed number may hold before the library reads it: ASCII digits, an optional leading
# "+", spaces and dashes (the library also takes full-width digits and trailing line breaks).
PHONE_TEXT = re.compile(r"\+?[0-9][0-9 \-]{9,20}")
ID_CARD_VISIBLE = 4  # an ID card number is only ever answered by its last four characters


def mainland_mobile(text):
    """The 11 national digits of a mainland China mobile number (``+86``, spaces and dashes
    allowed), or None when ``text`` is not one."""
    if not isinstance(text, str) or not PHONE_TEXT.fullmatch(text):
        return None
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != CHINA or not phonenumbers.is_valid_number(number) or \
            phonenumbers.number_type(number) not in MOBILE_TYPES:
        return None
    return str(number.national_number)


def resident_id(text):
    """The 18-character resident ID card number (GB 11643: region, birth date, sequence, check
    digit; ``X`` upper-cased), or None when ``text`` is not a valid one."""
    if not isinstance(text, str) or len(text) != 18:
        return None
    try:
        return ric.validate(text)
    except stdnum_errors.ValidationError:
        return None


def masked_id_card(number):
    """What answers show of an ID card number: its last four characters."""
    if not number:
        return None
    return "*" * (len(number) - ID_CARD_VISIBLE) + number[-ID_CARD_VISIBLE:]


def masked_name(name):
    """What a merchant may see of a volunteer's name: its first and last characters with a star
    for each one between ("张*明", "W**g"); a two-character name keeps its first ("李*") and a
    one-character name shows none ("*"). None when there is no name."""
    name = (name or "").strip()
    if len(name) <= 2:
        return (name[:len(name) - 1] + "*") if name else None
    return name[0] + "*" * (len(name) - 2) + name[-1]
