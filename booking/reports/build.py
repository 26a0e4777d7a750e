"""Reports per provider and location for a period: utilisation, no-shows, late cancellations, series.

Definitions (docs/providers.md has the reasons):
- Working hours: each day of the period in the location's local wall time, the provider's
  working-hour ranges there for that weekday, minus days the location is closed, minus the
  provider's time off (instants) that overlaps them.
- Booked hours: the visit time (start to end, without buffers) of visits that kept the slot:
  booked, checked in, completed or no-show. Utilisation = booked / working hours.
- No-show rate: no-shows / visits that were due (start before now; booked, checked in, completed,
  no-show).
- Late-cancellation rate: visits cancelled later than the location's cutoff for patients' own
  changes (`Location.patient_change_cutoff_hours`, 24 by default) before their start / all
  visits of the period that were booked (the four statuses above plus cancelled).
- Series started: the earliest session still on the books lies in the period. Series completed:
  status completed, dated by its last completed session.
Days and visits belong to the period by their local date at the location.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Max, Min, OuterRef, Q, Subquery
from django.utils import timezone

from booking.models import Appointment, AppointmentEvent, EventAction, Series, SeriesStatus, Status
from clinic.models import Closure, Location, Provider, TimeOff, WorkingHours

KEPT = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED, Status.NO_SHOW)
MAX_DAYS = 366


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


def subtract(interval: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """The parts of `interval` not covered by any hole."""
    pieces = [interval]
    for hole in holes:
        next_pieces = []
        for piece in pieces:
            if hole.end <= piece.start or hole.start >= piece.end:
                next_pieces.append(piece)
                continue
            if hole.start > piece.start:
                next_pieces.append(Interval(piece.start, hole.start))
            if hole.end < piece.end:
                next_pieces.append(Interval(hole.end, piece.end))
        pieces = next_pieces
    return pieces


def working_seconds(
    days: Iterable[date],
    ranges_by_weekday: dict[int, list[tuple[time, time]]],
    closed: set[date],
    time_off: list[Interval],
    tz: ZoneInfo,
) -> float:
    """Working time over these local days: wall-time ranges made instants per day, minus closures and time off."""
    # In UTC: Python compares and subtracts datetimes of one tzinfo as wall times, ignoring DST.
    holes = [Interval(hole.start.astimezone(UTC), hole.end.astimezone(UTC)) for hole in time_off]
    total = 0.0
    for day in days:
        if day in closed:
            continue
        for start, end in ranges_by_weekday.get(day.weekday(), []):
            wall_start, wall_end = datetime.combine(day, start, tzinfo=tz), datetime.combine(day, end, tzinfo=tz)
            shift = Interval(wall_start.astimezone(UTC), wall_end.astimezone(UTC))
            total += sum(piece.seconds for piece in subtract(shift, holes))
    return total


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class ReportRow:
    provider: Provider
    location: Location
    working_seconds: float = 0.0
    booked_seconds: float = 0.0
    visits: int = 0  # booked in the period, including cancelled
    due: int = 0
    no_shows: int = 0
    late_cancellations: int = 0
    series_started: int = 0
    series_completed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def working_hours(self) -> float:
        return self.working_seconds / 3600

    @property
    def booked_hours(self) -> float:
        return self.booked_seconds / 3600

    @property
    def utilisation(self) -> float | None:
        return self.booked_seconds / self.working_seconds if self.working_seconds else None

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.no_shows, self.due)

    @property
    def late_cancellation_rate(self) -> float | None:
        return rate(self.late_cancellations, self.visits)


def _local_day(instant: datetime, tz: ZoneInfo) -> date:
    return timezone.localtime(instant, tz).date()


def build_report(
    first: date, last: date, *, location: Location | None = None, now: datetime | None = None
) -> list[ReportRow]:
    """One row per provider and location with working hours or visits in [first, last] (local dates)."""
    now = now or timezone.now()
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    low = datetime.combine(first, time.min, tzinfo=UTC) - timedelta(hours=14)
    high = datetime.combine(last, time.max, tzinfo=UTC) + timedelta(hours=14)
    locations = {loc.pk: loc for loc in Location.objects.all() if location is None or loc.pk == location.pk}
    providers = {p.pk: p for p in Provider.objects.all()}
    rows: dict[tuple[int, int], ReportRow] = {}

    def row(provider_id: int, location_id: int) -> ReportRow:
        key = (provider_id, location_id)
        if key not in rows:
            rows[key] = ReportRow(providers[provider_id], locations[location_id])
        return rows[key]

    hours: dict[tuple[int, int], dict[int, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
    for wh in WorkingHours.objects.filter(location_id__in=list(locations)):
        hours[(wh.provider_id, wh.location_id)][wh.weekday].append((wh.start, wh.end))
    closed: dict[int, set[date]] = defaultdict(set)
    for closure in Closure.objects.filter(location_id__in=list(locations), end_date__gte=first, start_date__lte=last):
        closed[closure.location_id].update(closure.days())
    away: dict[int, list[Interval]] = defaultdict(list)
    for off in TimeOff.objects.filter(start__lt=high, end__gt=low):
        away[off.provider_id].append(Interval(off.start, off.end))
    for (provider_id, location_id), by_weekday in hours.items():
        tz = locations[location_id].tz
        seconds = working_seconds(days, by_weekday, closed[location_id], away[provider_id], tz)
        if seconds:
            row(provider_id, location_id).working_seconds = seconds

    cancelled_at = AppointmentEvent.objects.filter(appointment=OuterRef("pk"), action=EventAction.CANCELLED)
    visits = (
        Appointment.objects.filter(location_id__in=list(locations), start__gte=low, start__lte=high)
        .filter(status__in=[*KEPT, Status.CANCELLED])
        .annotate(cancelled_at=Subquery(cancelled_at.order_by("-at").values("at")[:1]))
        .only("provider_id", "location_id", "start", "end", "status")
    )
    for visit in visits:
        tz = locations[visit.location_id].tz
        if not first <= _local_day(visit.start, tz) <= last:
            continue
        entry = row(visit.provider_id, visit.location_id)
        entry.visits += 1
        if visit.status == Status.CANCELLED:
            # django-stubs drops annotate()'s fields when a custom QuerySet subclass is iterated.
            at: datetime | None = visit.cancelled_at  # type: ignore[attr-defined]
            cutoff = timedelta(hours=locations[visit.location_id].patient_change_cutoff_hours)
            if at is not None and visit.start - at < cutoff:
                entry.late_cancellations += 1
            continue
        entry.booked_seconds += (visit.end - visit.start).total_seconds()
        if visit.start < now:
            entry.due += 1
            entry.no_shows += visit.status == Status.NO_SHOW

    kept = Q(appointments__status__in=list(KEPT))
    series = Series.objects.filter(location_id__in=list(locations)).annotate(
        first_session=Min("appointments__start", filter=kept),
        last_done=Max("appointments__start", filter=Q(appointments__status=Status.COMPLETED)),
    )
    for one in series.only("provider_id", "location_id", "status"):
        tz = locations[one.location_id].tz
        started = one.first_session
        if started is not None and first <= _local_day(started, tz) <= last:
            row(one.provider_id, one.location_id).series_started += 1
        done = one.last_done
        if one.status == SeriesStatus.COMPLETED and done is not None and first <= _local_day(done, tz) <= last:
            row(one.provider_id, one.location_id).series_completed += 1
    return sorted(rows.values(), key=lambda r: (r.location.name, r.provider.display_name))
