"""mlm-explorer: look inside masked language models and fine-tune them on your documents."""

__version__ = "0.1.0"
