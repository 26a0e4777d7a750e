"""`make loadtest`: see loadtest/run.py."""
