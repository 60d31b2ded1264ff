"""The hotline: an agent acts for a caller who read back the code sent to the line."""
