"""Entities, states, errors and pure rules. No SQL, no HTTP, no clock reads."""
