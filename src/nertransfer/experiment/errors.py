"""The error of a config that is wrong, apart so that every module of the experiment layer can raise it."""


class ConfigError(ValueError):
    """A config value that is wrong or names something that does not exist; the message starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config key '{key}': {message}")
