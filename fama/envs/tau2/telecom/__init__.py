"""The tau2 telecom domain (dual control): agent tools, the user's phone tools, DBs and sync."""
