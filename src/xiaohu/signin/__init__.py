"""Signing in, as the routes offer it: by one-time code (`identity.service`), and to a cancelled
number by its cancellation's reference. Above cancellation, whose records the second reads."""
