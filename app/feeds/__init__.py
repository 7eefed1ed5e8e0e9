"""The public launcher feed: a launcher_feed channel's live items, for players."""
