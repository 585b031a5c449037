"""Bots: signed webhook deliveries out, handoff requests in."""
