"""Who looked at which patients: one row per staff request or API call that showed patient data.

Written by audit.middleware from what the view noted with clinic.access.patients_viewed().
Rows are never changed: the admin is read-only and on PostgreSQL a trigger refuses UPDATE and
DELETE. The user is kept as id and username (no foreign key), so the row outlives the login.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AccessLog(models.Model):
    at = models.DateTimeField(_("when (UTC)"), db_index=True)
    user_id = models.BigIntegerField(_("user id"), null=True)
    username = models.CharField(_("username"), max_length=150, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=400)
    status = models.PositiveSmallIntegerField(_("answer"))
    # ",12,57," so that one patient's rows are found with a plain LIKE on every database.
    patient_ids = models.TextField(_("patients shown"))
    request_id = models.CharField(_("request id"), max_length=128, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("patient data access")
        verbose_name_plural = _("patient data accesses")
        indexes = [models.Index(fields=["username", "at"], name="audit_access_user_idx")]

    def __str__(self) -> str:
        return f"{self.username or '?'} {self.method} {self.path} at {self.at:%Y-%m-%d %H:%M} UTC"

    @property
    def patients(self) -> list[int]:
        return [int(pk) for pk in self.patient_ids.strip(",").split(",") if pk]

    @staticmethod
    def key_for(patient_ids: "list[int] | set[int]") -> str:
        return "," + ",".join(str(pk) for pk in sorted(patient_ids)) + ","
