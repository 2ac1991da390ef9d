"""UCF token vault service."""
