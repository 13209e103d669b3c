"""Sizes the CLI's end-to-end homes are set up with."""

ROWS = "4000"  # enough rows for a real gate decision, few enough to train in a second
