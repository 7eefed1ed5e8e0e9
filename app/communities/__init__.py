"""Communities (tone, locales, member secret) and their channels (where posts go)."""
