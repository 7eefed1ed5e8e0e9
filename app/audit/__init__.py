"""The audit log's read side: the list, its filters and CSV export (the writer is
`app.core.audit`, which every domain's services call)."""
