"""Writing outputs safely: folders as one transaction, and output paths that never hit an input."""
