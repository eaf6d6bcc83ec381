"""One module per revision, oldest first; each names its ``down_revision``."""
