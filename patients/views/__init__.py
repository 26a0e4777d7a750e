"""Pages of the patients app.

account: sign-up, profile and the desk's screening reviews; provider: the daily list and the
procedure record.
"""
