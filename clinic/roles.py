"""The four staff and patient roles, as Django groups created by a migration."""

PATIENT = "Patient"
FRONT_DESK = "Front desk"
PROVIDER = "Provider"
CLINIC_ADMIN = "Clinic admin"
STAFF_ROLES = (FRONT_DESK, PROVIDER, CLINIC_ADMIN)
ALL_ROLES = (PATIENT, *STAFF_ROLES)

# Model permissions per role, as "app_label.codename" prefixes; object scoping happens in views.
PERMISSIONS: dict[str, list[str]] = {
    PATIENT: [],
    FRONT_DESK: [
        "clinic.view_location",
        "clinic.view_room",
        "clinic.view_provider",
        "clinic.view_visittype",
        "clinic.view_workinghours",
        "clinic.view_timeoff",
        "clinic.view_closure",
        "patients.view_patient",
        "patients.add_patient",
        "patients.change_patient",
        "booking.view_appointment",
        "booking.view_series",
        "booking.view_appointmentevent",
        "booking.view_reminder",  # what went out and what failed; resend is on /desk/messages/
    ],
    PROVIDER: [
        "clinic.view_location",
        "clinic.view_room",
        "clinic.view_provider",
        "clinic.view_visittype",
        "clinic.view_workinghours",
        "clinic.view_timeoff",
        "clinic.view_closure",
        "patients.view_patient",
        "patients.view_muscle",
        "patients.view_procedurerecord",
        "booking.view_appointment",
        "booking.view_series",
    ],
    CLINIC_ADMIN: [
        f"clinic.{verb}_{model}"
        for model in ("location", "room", "provider", "visittype", "workinghours", "timeoff", "closure")
        for verb in ("view", "add", "change", "delete")
    ]
    + ["patients.view_patient", "patients.add_patient", "patients.change_patient"]
    + [f"patients.{verb}_muscle" for verb in ("view", "add", "change", "delete")]
    + ["patients.view_procedurerecord"]
    + ["booking.view_appointment", "booking.view_series", "booking.view_appointmentevent"]
    # The audit trail (read-only screens), unlocking a locked-out login, resetting a lost phone.
    + ["audit.view_accesslog", "auditlog.view_logentry", "axes.view_accessattempt", "axes.delete_accessattempt"]
    + ["otp_totp.view_totpdevice", "otp_totp.delete_totpdevice"]
    # Patient message texts (edited in the admin with a preview) and the messages sent.
    + [f"booking.{verb}_messagetemplate" for verb in ("view", "add", "change", "delete")]
    + ["booking.view_reminder"],
}
