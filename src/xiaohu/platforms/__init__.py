"""Internet platforms: API keys and the recycled-number check (二次号)."""
