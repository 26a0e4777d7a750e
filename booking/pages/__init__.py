"""Page helpers that both audiences use: a series plan shown as rows, waitlist entries with their offers."""
