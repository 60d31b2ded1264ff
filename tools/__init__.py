"""Development tools that are not part of the service: a live server for browser tests, the
screenshots of the pages."""
