"""Moderation: automod, the review queue, sanctions, appeals and the audit log."""
