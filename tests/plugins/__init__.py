"""Channels that exist only for tests (never shipped): proof that a channel is a package."""
