"""Fake cloud services on 127.0.0.1 that tests talk to instead of the real ones."""
