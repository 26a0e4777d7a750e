"""Passwords: Argon2id in production, and validators that refuse short, common, numeric or
look-alike passwords (ASVS 6.2.x, 11.4.2)."""

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings

import clinic.settings as production_settings
from tests.factories import make_user


def test_production_hashes_passwords_with_argon2id():
    # The test settings use a fast hasher; this runs the real list.
    with override_settings(PASSWORD_HASHERS=production_settings.PASSWORD_HASHERS):
        encoded = make_password("a long pass phrase for the clinic")
        assert encoded.startswith("argon2$argon2id$")
        assert check_password("a long pass phrase for the clinic", encoded)
        assert not check_password("a long pass phrase for the clinic!", encoded)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Tr0ub4dor&3", "at least 12 characters"),
        ("password1234", "too common"),
        ("314159265358979", "entirely numeric"),
        ("dana.brooks.desk", "too similar"),
    ],
)
def test_weak_passwords_are_refused(db, password, reason):
    user = make_user("dana.brooks", email="dana.brooks@example.com", first_name="Dana", last_name="Brooks")
    with pytest.raises(ValidationError, match=reason):
        validate_password(password, user)


def test_a_long_unusual_pass_phrase_is_accepted(db):
    user = make_user("dana.brooks")
    validate_password("violet kettle under seven lanterns", user)
