"""Helpers shared by test modules and contract suites (no tests here)."""
