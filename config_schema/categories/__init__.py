"""Setting definitions by category; each module exposes a ``SETTINGS`` list collected by the registry."""
