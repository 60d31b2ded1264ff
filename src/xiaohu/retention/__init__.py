"""Retention (停机保号) and reactivation (复机): keeping a number cheaply, and coming back."""
