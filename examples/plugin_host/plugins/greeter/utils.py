"""The plugin's own ``utils``; the host has a different module of the same name."""

WHO = "the plugin's utils"
