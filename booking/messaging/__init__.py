"""Patient messages through a transactional outbox: rows written with the booking, sent by Celery.

- policy.py: which channel a message takes (the patient's choice, opt-out) and when it may go
  (wall-clock reminder times, quiet hours); pure.
- planning.py: the outbox rows each booking change writes, inside the booking service's
  transaction (schedule, reschedule, cancel, aftercare, series summary, waitlist offers, resend).
- delivery.py: the sweep that hands due rows to Celery, and deliver: claim, re-check, issue the
  manage link, render, send by e-mail or SMS, mark; the send errors.
- texts.py: message templates and built-in texts, the plain values they see, rendering (no writes).
- words.py: the clinical-word filter that keeps what a visit is for out of message texts.
- sms.py: the SMS backends; ics.py: the calendar file on confirmations; aftercare.py: the
  location's aftercare advice.

docs/reminders.md has the policy and its reasons.
"""
