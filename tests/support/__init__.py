"""Test support: databases and real clew server processes."""
