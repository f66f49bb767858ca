"""keysweep: find leaked AWS credentials and other high-value secrets."""

__version__ = "0.1.0"
