"""Notifications: where each user's alerts go (Apprise URLs, signed webhooks) and their delivery."""
