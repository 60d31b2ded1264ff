"""Runs on schedule: one holder of a job at a time, and a run that resumes where it stopped."""
