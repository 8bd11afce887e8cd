"""Errors that mean the user has to change something; the CLI prints them as one line."""


class ConfigurationError(ValueError):
    """A missing key, data root, model or option value."""
