"""The one exception type of :mod:`plumbing.mqtt`."""


class MqttError(Exception):
    """A broker could not be reached, refused something, or the connection broke."""
