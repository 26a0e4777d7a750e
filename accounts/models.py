"""Which sessions belong to which user, so that logout elsewhere, deactivation or a role change
can end them on the server (Django's session table has no user column)."""

from django.conf import settings
from django.db import models


class UserSession(models.Model):
    """One row per login: the session key it got. Written at login, never per request."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="accounts_usersession_user_idx")]

    def __str__(self) -> str:
        return f"session of user {self.user_id}"
