"""Users, roles, API tokens and passwords."""
