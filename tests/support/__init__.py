"""Helpers shared by test suites: live Kassa processes and their CLI."""
