"""The documents people have, as text: one reader per format, a registry that picks one,
an extraction cache, and the dedup of files and repeated lines. `collect` is the way in."""
