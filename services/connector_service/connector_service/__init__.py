"""UCF connector service."""
