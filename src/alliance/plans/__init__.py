"""Analysis plans shipped with the package (TOML)."""
