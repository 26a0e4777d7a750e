"""Who may book which visit online: the rule on plain data, tested without a database."""

from dataclasses import replace

import pytest

from booking.scheduling.eligibility import NO_HISTORY, check
from clinic.models import VisitKind

EVALUATED = replace(NO_HISTORY, evaluated=True)


def test_evaluations_are_open_to_a_new_patient():
    assert check(VisitKind.EVALUATION, NO_HISTORY).allowed


@pytest.mark.parametrize("kind", [VisitKind.PROCEDURE, VisitKind.FOLLOW_UP])
def test_treatment_visits_wait_for_an_evaluation(kind):
    refused = check(kind, NO_HISTORY)

    assert not refused.allowed and "evaluation first" in refused.why


@pytest.mark.parametrize("fact", ["evaluated", "has_series", "screening_approved"])
@pytest.mark.parametrize("kind", [VisitKind.PROCEDURE, VisitKind.FOLLOW_UP])
def test_an_evaluation_a_series_or_an_approved_review_opens_treatment_visits(kind, fact):
    assert check(kind, replace(NO_HISTORY, **{fact: True})).allowed


def test_safety_answers_waiting_for_review_close_procedures_but_not_follow_ups():
    waiting = replace(EVALUATED, screening_blocks_online=True)

    refused = check(VisitKind.PROCEDURE, waiting)
    assert not refused.allowed and "reviewing your safety answers" in refused.why
    assert check(VisitKind.FOLLOW_UP, waiting).allowed
    assert check(VisitKind.EVALUATION, waiting).allowed
