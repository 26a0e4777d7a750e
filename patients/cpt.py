"""The CPT code of a trigger point procedure, derived from what was done (never typed).

../DOMAIN "Billing": 20552 for injections into 1 or 2 muscles in a session, 20553 for 3 or
more; dry needling without injectate is 20560 (1–2 muscles) or 20561 (3+). The code follows the
number of **distinct muscles**, not needle sticks and not sides: the left and right trapezius,
or one site recorded as "both sides", count as one muscle.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

INJECTION_1_2 = "20552"
INJECTION_3_PLUS = "20553"
DRY_NEEDLING_1_2 = "20560"
DRY_NEEDLING_3_PLUS = "20561"
CODES = (INJECTION_1_2, INJECTION_3_PLUS, DRY_NEEDLING_1_2, DRY_NEEDLING_3_PLUS)


def distinct_muscles(muscles: Iterable[Hashable]) -> int:
    """How many different muscles: repeats (another side, another site) count once."""
    return len(set(muscles))


def cpt_code(*, muscles: Iterable[Hashable], injected: bool) -> str:
    """20552/20553 when anything was injected, 20560/20561 for dry needling; by distinct muscles.

    `muscles` holds one key per recorded site (a muscle id or name). At least one is required.
    """
    count = distinct_muscles(muscles)
    if count < 1:
        raise ValueError("A procedure needs at least one muscle.")
    if injected:
        return INJECTION_1_2 if count <= 2 else INJECTION_3_PLUS
    return DRY_NEEDLING_1_2 if count <= 2 else DRY_NEEDLING_3_PLUS
