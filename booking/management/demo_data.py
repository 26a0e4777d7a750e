"""The demo clinic's fixed data: two locations, visit types, providers and their hours, the
holidays it closes for, sixty patients and the demo logins. Plain values, none random."""

from __future__ import annotations

import unicodedata
from datetime import date, time, timedelta
from typing import Any

from clinic import roles
from clinic.models import VisitKind, Weekday
from patients.models import Language, ReminderChannel

RIVERSIDE = "Riverside Pain Clinic"
ROCKET_CITY = "Rocket City Pain & Spine"

# Two clinics about two hours apart by road, on either side of the Eastern/Central line.
LOCATIONS: list[dict[str, Any]] = [
    {
        "name": RIVERSIDE,
        "timezone": "America/New_York",
        "address": "1200 Riverside Drive, Suite 310\nChattanooga, TN 37406",
        "phone": "(423) 555-0100",
        "email": "riverside@example.com",
        "rooms": ["Procedure Room 1", "Procedure Room 2", "Exam Room A"],
    },
    {
        "name": ROCKET_CITY,
        "timezone": "America/Chicago",
        "address": "4800 Whitesburg Drive SW, Suite 200\nHuntsville, AL 35802",
        "phone": "(256) 555-0100",
        "email": "rocketcity@example.com",
        "rooms": ["Procedure Room 1", "Exam Room A"],
    },
]

VISIT_TYPES: list[dict[str, Any]] = [
    {
        "slug": "evaluation",
        "name": "Evaluation",
        "kind": VisitKind.EVALUATION,
        "duration_minutes": 45,
        "buffer_after_minutes": 5,
        "needs_room": True,
    },
    {
        "slug": "tpi-session",
        "name": "Trigger point injection session",
        "kind": VisitKind.PROCEDURE,
        "duration_minutes": 30,
        "buffer_after_minutes": 5,
        "needs_room": True,
    },
    {
        "slug": "follow-up",
        "name": "Follow-up",
        "kind": VisitKind.FOLLOW_UP,
        "duration_minutes": 15,
        "buffer_after_minutes": 0,
        "needs_room": False,
    },
]
BOOKING_RULES = {"min_notice_minutes": 120, "horizon_days": 90, "slot_step_minutes": 15, "bookable_online": True}

MON, TUE, WED, THU, FRI = Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY
ALL_WEEK = (MON, TUE, WED, THU, FRI)


def _day(morning: tuple[str, str], afternoon: tuple[str, str]) -> tuple[tuple[time, time], ...]:
    """A working day with a lunch break: two ranges."""
    return tuple((time.fromisoformat(start), time.fromisoformat(end)) for start, end in (morning, afternoon))


# (display name, credentials, visit type slugs, [(location, weekdays, ranges), ...])
PROVIDERS: list[tuple[str, str, list[str], list[tuple[str, tuple[int, ...], tuple[tuple[time, time], ...]]]]] = [
    (
        "Maria Alvarez",
        "MD",
        ["evaluation", "tpi-session", "follow-up"],
        [
            (RIVERSIDE, (MON, WED, FRI), _day(("08:00", "12:00"), ("13:00", "17:00"))),
            (ROCKET_CITY, (TUE, THU), _day(("08:00", "12:00"), ("13:00", "16:30"))),
        ],
    ),
    (
        "James Whitfield",
        "DO",
        ["evaluation", "tpi-session", "follow-up"],
        [(RIVERSIDE, ALL_WEEK, _day(("07:30", "11:30"), ("12:30", "16:00")))],
    ),
    (
        "Priya Raman",
        "NP",
        ["evaluation", "tpi-session", "follow-up"],
        [(RIVERSIDE, ALL_WEEK, _day(("09:00", "12:30"), ("13:30", "17:30")))],
    ),
    (
        "Daniel Okafor",
        "MD",
        ["evaluation", "tpi-session", "follow-up"],
        [
            (ROCKET_CITY, (MON, TUE, WED, THU), _day(("08:00", "12:00"), ("13:00", "17:00"))),
            (ROCKET_CITY, (FRI,), _day(("08:00", "12:00"), ("12:45", "15:00"))),
        ],
    ),
    (
        "Hannah Kowalski",
        "NP",
        ["tpi-session", "follow-up"],
        [
            (ROCKET_CITY, (MON, WED, FRI), _day(("08:30", "12:00"), ("12:45", "16:30"))),
            (RIVERSIDE, (TUE, THU), _day(("09:30", "12:30"), ("13:15", "17:00"))),
        ],
    ),
]

TIME_OFF_PROVIDER = "James Whitfield"
TIME_OFF_REASON = "CME conference (demo)"

ENGLISH_SPEAKERS = [
    ("Laura", "Bennett"), ("Michael", "Thompson"), ("Jennifer", "Walsh"), ("Robert", "Hayes"),
    ("Linda", "Carter"), ("David", "Nguyen"), ("Susan", "Patel"), ("William", "Brooks"),
    ("Karen", "O'Neill"), ("Thomas", "Reed"), ("Nancy", "Kim"), ("Christopher", "Bailey"),
    ("Lisa", "Chen"), ("Matthew", "Foster"), ("Betty", "Coleman"), ("Anthony", "Russo"),
    ("Sandra", "Jenkins"), ("Mark", "Sullivan"), ("Ashley", "Powell"), ("Steven", "Murphy"),
    ("Kimberly", "Price"), ("Paul", "Henderson"), ("Donna", "Wright"), ("Kevin", "Doyle"),
    ("Michelle", "Fisher"), ("Brian", "Washington"), ("Emily", "Stewart"), ("George", "Petrov"),
    ("Amanda", "Hughes"), ("Joshua", "Palmer"), ("Melissa", "Grant"), ("Ryan", "Hoffman"),
    ("Deborah", "Young"), ("Jason", "Abernathy"), ("Stephanie", "Lowe"), ("Gregory", "Bishop"),
    ("Rebecca", "Stein"), ("Tyrone", "Jackson"), ("Megan", "Callahan"), ("Nicole", "Ramirez"),
]  # fmt: skip
SPANISH_SPEAKERS = [
    ("José", "Hernández"), ("Guadalupe", "Ramírez"), ("Juan Carlos", "Martínez"), ("Carmen", "López"),
    ("Luis", "Gutiérrez"), ("Ana Sofía", "Torres"), ("Jorge", "Castillo"), ("Rosa", "Morales"),
    ("Miguel Ángel", "Reyes"), ("Lucía", "Flores"), ("Alejandro", "Jiménez"), ("Verónica", "Cruz"),
    ("Francisco", "Medina"), ("Beatriz", "Salazar"), ("Raúl", "Domínguez"), ("Marisol", "Vargas"),
    ("Héctor", "Aguilar"), ("Elena", "Castañeda"), ("Ramón", "Espinoza"), ("Yolanda", "Navarro"),
]  # fmt: skip
EMERGENCY_CONTACT_FIRST_NAMES = ["Chris", "Pat", "Sam", "Jordan", "Alex", "Taylor", "Morgan", "Jamie"]
REMINDER_CYCLE = [ReminderChannel.EMAIL, ReminderChannel.SMS, ReminderChannel.BOTH, ReminderChannel.SMS]
# Phones are in the 555-0100..0199 block that US numbering reserves for fiction, in each
# clinic's real area code, so a demo text can never reach a real person.
AREA_CODES = ["423", "256"]

# (username, first name, last name, role, is_staff, password). Demo only: the command
# refuses to run in production, and prints these at the end.
DEMO_USERS = [
    ("admin", "Alex", "Morgan", roles.CLINIC_ADMIN, True, "admin-demo-only"),
    ("desk", "Dana", "Brooks", roles.FRONT_DESK, False, "desk-demo-only"),
    ("provider", "Maria", "Alvarez", roles.PROVIDER, False, "provider-demo-only"),
    ("patient", "Laura", "Bennett", roles.PATIENT, False, "patient-demo-only"),
]
DEMO_PROVIDER = "Maria Alvarez"
DEMO_PATIENT = ("Laura", "Bennett")


def _observed(day: date) -> date:
    """US rule: a holiday on Saturday is kept on Friday, one on Sunday on Monday."""
    if day.weekday() == Weekday.SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == Weekday.SUNDAY:
        return day + timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def us_clinic_holidays(year: int) -> list[tuple[date, date, str]]:
    """The federal holidays a small clinic usually closes for, as (first day, last day, name)."""
    thanksgiving = _nth_weekday(year, 11, Weekday.THURSDAY, 4)
    return [
        (_observed(date(year, 1, 1)), _observed(date(year, 1, 1)), "New Year's Day"),
        (_last_weekday(year, 5, Weekday.MONDAY), _last_weekday(year, 5, Weekday.MONDAY), "Memorial Day"),
        (_observed(date(year, 7, 4)), _observed(date(year, 7, 4)), "Independence Day"),
        (_nth_weekday(year, 9, Weekday.MONDAY, 1), _nth_weekday(year, 9, Weekday.MONDAY, 1), "Labor Day"),
        (thanksgiving, thanksgiving + timedelta(days=1), "Thanksgiving"),
        (_observed(date(year, 12, 25)), _observed(date(year, 12, 25)), "Christmas Day"),
    ]


def upcoming_holidays(today: date, count: int = 3) -> list[tuple[date, date, str]]:
    """The next `count` clinic holidays starting after today."""
    candidates = us_clinic_holidays(today.year) + us_clinic_holidays(today.year + 1)
    return sorted(h for h in candidates if h[0] > today)[:count]


def email_local_part(first_name: str, last_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", f"{first_name}.{last_name}").encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum() or ch == ".")


def demo_patients() -> list[dict[str, Any]]:
    """Sixty patients, every third one Spanish-speaking; all values fixed, none random."""
    people = []
    for k in range(len(SPANISH_SPEAKERS)):
        people += [(*ENGLISH_SPEAKERS[2 * k], Language.ENGLISH), (*ENGLISH_SPEAKERS[2 * k + 1], Language.ENGLISH)]
        people.append((*SPANISH_SPEAKERS[k], Language.SPANISH))
    patients = []
    for i, (first_name, last_name, language) in enumerate(people):
        area = AREA_CODES[i % 2]
        has_email = i % 10 != 7
        channel = REMINDER_CYCLE[i % len(REMINDER_CYCLE)] if has_email else ReminderChannel.SMS
        if i % 20 == 19:
            channel = ReminderChannel.NONE
        patient = {
            "first_name": first_name,
            "last_name": last_name,
            "date_of_birth": date(1948 + (i * 17) % 53, (i * 5) % 12 + 1, (i * 11) % 28 + 1),
            "phone": f"+1{area}5550{101 + i}",
            "email": f"{email_local_part(first_name, last_name)}@example.com" if has_email else "",
            "preferred_language": language,
            "reminder_channel": channel,
            "emergency_contact_name": "",
            "emergency_contact_phone": "",
        }
        if i % 4 == 0:
            contact_first = EMERGENCY_CONTACT_FIRST_NAMES[(i // 4) % len(EMERGENCY_CONTACT_FIRST_NAMES)]
            patient["emergency_contact_name"] = f"{contact_first} {last_name}"
            patient["emergency_contact_phone"] = f"+1{area}5550{170 + i // 4}"
        patients.append(patient)
    return patients


DEMO_DEVICE = "Demo authenticator"
