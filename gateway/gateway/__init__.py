"""UCF REST gateway."""
