"""Projections: fold the event log into read models and the vector index, and keep them current."""
