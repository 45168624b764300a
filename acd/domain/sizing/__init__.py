"""Sizing a contact centre: queueing formulas and the replay of real traffic (pure)."""
