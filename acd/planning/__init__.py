"""Seat and line sizing from the centre's own history: forecasts, plans, the check by replay."""
