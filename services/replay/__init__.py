"""Replay: rebuild every read model from the event history, verify it, swap it in."""
