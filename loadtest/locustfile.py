"""Locust flows for `make loadtest`; loadtest/run.py starts the stack, runs these and reads the results.

Users (pick them on the command line, e.g. `locust -f loadtest/locustfile.py PatientUser DeskUser`):
- PatientUser: logs in through /accounts/login/ (GET the form, POST it with its CSRF token), then
  reads availability (3 in 4 tasks) and books one of the slots it saw (1 in 4) with its session
  cookie and X-CSRFToken. 201 and 409 (taken meanwhile) are successes; anything else, and every
  5xx, is a failure. It never picks a time it already booked (a patient cannot be in two visits).
- DeskUser: front desk with a bearer token, reads one day's appointments at the location.
- StampedeUser: every user logs in, reads the hot provider's day (exactly 8 free slots), waits
  until all have read, then all book at once, one attempt each. Recorded per outcome: winners
  (201), losers answered 409 with alternatives, and anything else (5xx, 409 without
  alternatives, other codes) as failures.

The flows behave like a browser behind the TLS proxy: X-Forwarded-Proto: https (Django then
treats the request as secure, as in production) and an Origin header on writes.

Measuring: stats are reset when the last user has logged in (a login is a deliberately slow
password hash), then the run ends by itself LOADTEST_MEASURE_SECONDS later (the stampede: as
soon as every user has booked); `-t` is only a safety limit. The results (window, status
counts, stampede outcomes) are written as JSON to LOADTEST_RESULTS.

Environment (set by run.py): LOADTEST_DATA (JSON written by run.py: ids, dates, logins, token),
LOADTEST_RESULTS, LOADTEST_MEASURE_SECONDS (60), LOADTEST_PATIENT_OFFSET (first login to use),
LOADTEST_HOSTS (comma-separated base URLs: each request goes to one of them at random; default
--host), LOADTEST_WAIT_MIN / LOADTEST_WAIT_MAX (think time between tasks, seconds).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from collections import Counter
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gevent
from gevent.event import Event
from locust import FastHttpUser, between, constant, events, task
from locust.exception import StopUser

DATA: dict[str, Any] = (
    json.loads(Path(os.environ["LOADTEST_DATA"]).read_text()) if "LOADTEST_DATA" in os.environ else {}
)
HOSTS = [h.strip().rstrip("/") for h in os.environ.get("LOADTEST_HOSTS", "").split(",") if h.strip()]
MEASURE_SECONDS = float(os.environ.get("LOADTEST_MEASURE_SECONDS", "60"))
WAIT_MIN = float(os.environ.get("LOADTEST_WAIT_MIN", "0.1"))
WAIT_MAX = float(os.environ.get("LOADTEST_WAIT_MAX", "0.8"))
BARRIER_TIMEOUT = 180  # seconds a user waits for the others (logins, the stampede's reads)
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_next_login = itertools.count(int(os.environ.get("LOADTEST_PATIENT_OFFSET", "0")))


class Run:
    """What all users of this locust process share: barriers, the window, outcome counts."""

    ready = 0  # users logged in (or holding a token)
    all_ready = Event()
    stampede_read = 0
    all_read = Event()
    stampede_done = 0
    measure_started: float | None = None
    measure_ended: float | None = None
    book_status: Counter[str] = Counter()
    conflicts_without_alternatives = 0
    stampede: Counter[str] = Counter()
    stampede_slots_seen: set[str] = set()
    samples: list[str] = []  # the first few unexpected answers, for the report


def _expected_users(environment: Any) -> int:
    return int(getattr(environment.parsed_options, "num_users", 0) or 1)


def _user_ready(environment: Any) -> None:
    Run.ready += 1
    if Run.ready >= _expected_users(environment) and not Run.all_ready.is_set():
        environment.runner.stats.reset_all()
        Run.measure_started = time.time()
        Run.all_ready.set()
        if environment.runner.user_classes and all(cls is not StampedeUser for cls in environment.runner.user_classes):
            gevent.spawn_later(MEASURE_SECONDS, environment.runner.quit)


def _sample(text: str) -> None:
    if len(Run.samples) < 5:
        Run.samples.append(text[:300])


@events.test_stop.add_listener
def _write_results(environment: Any, **kwargs: Any) -> None:
    Run.measure_ended = Run.measure_ended or time.time()
    target = os.environ.get("LOADTEST_RESULTS")
    if not target:
        return
    started = Run.measure_started
    results = {
        "users_ready": Run.ready,
        "users_expected": _expected_users(environment),
        "measure_started": started,
        "measure_ended": Run.measure_ended,
        "measured_seconds": round(Run.measure_ended - started, 3) if started else None,
        "book_status": dict(Run.book_status),
        "conflicts_without_alternatives": Run.conflicts_without_alternatives,
        "stampede": dict(Run.stampede),
        "stampede_slots_seen": sorted(Run.stampede_slots_seen),
        "samples": Run.samples,
    }
    Path(target).write_text(json.dumps(results, indent=2))


class ClinicUser(FastHttpUser):
    abstract = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Production cookies are Secure; TLS ends at the (simulated) proxy, so send them over http.
        self.client.cookiejar.set_policy(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))

    def base(self) -> str:
        return random.choice(HOSTS) if HOSTS else str(self.host).rstrip("/")

    @staticmethod
    def via_proxy(base: str, **extra: str) -> dict[str, str]:
        """Headers the TLS proxy and the browser would add: the scheme, and the page's origin."""
        return {"X-Forwarded-Proto": "https", "Origin": base.replace("http://", "https://", 1), **extra}

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.client.cookiejar if c.name == name), "")

    def log_in(self) -> None:
        username = DATA["patients"][next(_next_login)]
        base = self.base()
        with self.client.get(
            f"{base}/accounts/login/", name="login page", headers=self.via_proxy(base), catch_response=True
        ) as page:
            found = CSRF_FIELD.search(page.text or "")
            if page.status_code != 200 or not found:
                page.failure(f"login page answered {page.status_code}")
                self.give_up(f"login page {page.status_code}: {page.text}")
        form = {"username": username, "password": DATA["password"], "csrfmiddlewaretoken": found.group(1)}
        with self.client.post(
            f"{base}/accounts/login/",
            data=urlencode(form),
            name="login",
            headers=self.via_proxy(base, **{"Content-Type": "application/x-www-form-urlencoded"}),
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"login answered {answer.status_code}")
                self.give_up(f"login {answer.status_code}: {answer.text}")
        # Rotated by the login; production names it with the __Host- prefix (clinic/settings.py).
        self.csrf = self.cookie("__Host-csrftoken") or self.cookie("csrftoken")

    def give_up(self, why: str) -> None:
        """A user that cannot log in would hold up the barrier: end the whole run now."""
        _sample(why)
        gevent.spawn(self.environment.runner.quit)
        raise StopUser()

    def availability(self, *, first: str, last: str, provider: int | None, name: str) -> list[dict[str, Any]]:
        query = {"visit_type": DATA["visit_type"], "location": DATA["location"], "start": first, "end": last}
        if provider is not None:
            query["provider"] = provider
        base = self.base()
        with self.client.get(
            f"{base}/api/v1/availability?{urlencode(query)}",
            name=name,
            headers=self.via_proxy(base),
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"availability answered {answer.status_code}")
                _sample(f"availability {answer.status_code}: {answer.text}")
                return []
            return json.loads(answer.content)["slots"]

    def post_booking(self, slot: dict[str, Any], name: str) -> tuple[int, dict[str, Any]]:
        """POST /api/v1/appointments as the logged-in patient; (status, body) with the outcome recorded."""
        payload = {
            "provider": slot["provider"],
            "visit_type": DATA["visit_type"],
            "location": DATA["location"],
            "start": slot["start"],
        }
        base = self.base()
        with self.client.post(
            f"{base}/api/v1/appointments",
            json=payload,
            name=name,
            headers=self.via_proxy(base, **{"X-CSRFToken": self.csrf}),
            catch_response=True,
        ) as answer:
            status = answer.status_code
            try:
                body = json.loads(answer.content or b"{}")
            except ValueError:
                body = {}
            Run.book_status[str(status)] += 1
            if status == 201:
                answer.success()
            elif status == 409:
                if not body.get("alternatives"):
                    Run.conflicts_without_alternatives += 1
                answer.success()  # someone else was quicker: the expected answer in a rush
            else:
                answer.failure(f"booking answered {status}")
                _sample(f"booking {status}: {answer.text}")
            return status, body


class PatientUser(ClinicUser):
    """Logs in, then 3 availability reads to 1 booking of a slot it saw."""

    weight = 9
    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.mine: set[str] = set()
        self.log_in()
        _user_ready(self.environment)
        Run.all_ready.wait(timeout=BARRIER_TIMEOUT)

    @task(3)
    def read_availability(self) -> None:
        days = DATA["window_days"]
        if random.random() < 0.5:  # my provider, the next two weeks from some day
            first = random.randrange(len(days))
            span, provider, name = days[first : first + 10], random.choice(DATA["providers"]), "availability 1 provider"
        else:  # anyone, a couple of days
            first = random.randrange(len(days))
            span, provider, name = days[first : first + 2], None, "availability all providers"
        self.seen = self.availability(first=span[0], last=span[-1], provider=provider, name=name)

    @task(1)
    def book(self) -> None:
        choices = [s for s in self.seen if s["start"] not in self.mine]
        if not choices:
            self.read_availability()
            choices = [s for s in self.seen if s["start"] not in self.mine]
            if not choices:
                return
        slot = random.choice(choices)
        self.seen.remove(slot)
        status, _ = self.post_booking(slot, name="book")
        if status == 201:
            self.mine.add(slot["start"])


class DeskUser(ClinicUser):
    """The front desk's day view, with a bearer token."""

    weight = 1
    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        _user_ready(self.environment)
        Run.all_ready.wait(timeout=BARRIER_TIMEOUT)

    @task
    def day_view(self) -> None:
        day = random.choice(DATA["window_days"])
        base = self.base()
        with self.client.get(
            f"{base}/api/v1/appointments?{urlencode({'location': DATA['location'], 'date': day})}",
            name="day view",
            headers={**self.via_proxy(base), "Authorization": f"Bearer {DATA['desk_token']}"},
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"day view answered {answer.status_code}")
                _sample(f"day view {answer.status_code}: {answer.text}")


class StampedeUser(ClinicUser):
    """All users read the hot provider's 8 free slots, then all book at once, one attempt each."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.log_in()
        _user_ready(self.environment)
        Run.all_ready.wait(timeout=BARRIER_TIMEOUT)
        day = DATA["stampede_day"]
        self.slots = self.availability(first=day, last=day, provider=DATA["hot_provider"], name="stampede availability")
        Run.stampede_slots_seen.update(s["start"] for s in self.slots)
        Run.stampede_read += 1
        if Run.stampede_read >= _expected_users(self.environment):
            Run.all_read.set()
        Run.all_read.wait(timeout=BARRIER_TIMEOUT)

    @task
    def grab_a_slot(self) -> None:
        if not self.slots:
            Run.stampede["saw_no_slot"] += 1
        else:
            status, body = self.post_booking(random.choice(self.slots), name="stampede book")
            if status == 201:
                Run.stampede["winners"] += 1
            elif status == 409 and body.get("alternatives"):
                Run.stampede["losers_409_with_alternatives"] += 1
            elif status == 409:
                Run.stampede["losers_409_without_alternatives"] += 1
            elif status >= 500:
                Run.stampede["server_errors"] += 1
            else:
                Run.stampede[f"other_{status}"] += 1
        Run.stampede_done += 1
        if Run.stampede_done >= _expected_users(self.environment):
            Run.measure_ended = time.time()
            gevent.spawn_later(0.2, self.environment.runner.quit)
        raise StopUser()
