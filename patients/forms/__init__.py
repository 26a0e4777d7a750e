"""Forms of the patients app.

account: sign-up, profile, safety screening and the desk's review; procedure: the procedure record.
"""
