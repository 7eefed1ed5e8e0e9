"""Every domain's tables, imported in one place for Alembic and the metadata."""

from app.communities.models import Channel, Community
from app.core.audit import AuditEntry
from app.core.db import Base
from app.core.events import OutboxEvent
from app.feeds.models import FeedEvent
from app.forum.models import (
    Category,
    InboxItem,
    Member,
    Post,
    Reaction,
    SavedReply,
    Thread,
)
from app.moderation.models import (
    Appeal,
    AutomodRule,
    MemberNote,
    Report,
    ReviewItem,
    Sanction,
    Strike,
)
from app.orgs.models import ApiKey, Organisation
from app.schedule.models import Asset, ContentAsset, ContentChannel, ContentItem, Delivery
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Appeal",
    "Asset",
    "AuditEntry",
    "AutomodRule",
    "Category",
    "Channel",
    "Community",
    "ContentAsset",
    "ContentChannel",
    "ContentItem",
    "Delivery",
    "FeedEvent",
    "InboxItem",
    "Member",
    "MemberNote",
    "Organisation",
    "OutboxEvent",
    "Post",
    "Reaction",
    "Report",
    "ReviewItem",
    "Sanction",
    "SavedReply",
    "Strike",
    "Thread",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
