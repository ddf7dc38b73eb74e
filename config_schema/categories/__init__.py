"""Setting definitions by category; each module exposes a ``SETTINGS`` list, listed in ``config_schema.registry``."""
