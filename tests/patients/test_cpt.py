"""The CPT code follows distinct muscles and whether anything was injected (DOMAIN "Billing")."""

import pytest

from patients.cpt import cpt_code, distinct_muscles


@pytest.mark.parametrize(
    ("muscles", "injected", "code"),
    [
        (["trapezius"], True, "20552"),
        (["trapezius", "rhomboids"], True, "20552"),
        (["trapezius", "rhomboids", "piriformis"], True, "20553"),
        (["a", "b", "c", "d", "e", "f"], True, "20553"),
        (["trapezius"], False, "20560"),
        (["trapezius", "rhomboids"], False, "20560"),
        (["trapezius", "rhomboids", "piriformis"], False, "20561"),
    ],
)
def test_code_by_muscle_count_and_injectate(muscles, injected, code):
    assert cpt_code(muscles=muscles, injected=injected) == code


def test_left_and_right_of_one_muscle_count_once():
    # Trapezius left, trapezius right and rhomboids: two distinct muscles, not three sites.
    assert cpt_code(muscles=["trapezius", "trapezius", "rhomboids"], injected=True) == "20552"
    assert cpt_code(muscles=["trapezius", "trapezius", "rhomboids"], injected=False) == "20560"


def test_many_sites_in_two_muscles_stay_in_the_one_or_two_code():
    assert distinct_muscles([1, 1, 1, 2, 2]) == 2
    assert cpt_code(muscles=[1, 1, 1, 2, 2], injected=True) == "20552"


def test_third_distinct_muscle_moves_to_the_three_plus_code():
    assert cpt_code(muscles=[1, 1, 2, 3], injected=True) == "20553"


def test_no_muscle_is_refused():
    with pytest.raises(ValueError, match="at least one muscle"):
        cpt_code(muscles=[], injected=True)
