"""A clinical thermometer's readings, classified."""
