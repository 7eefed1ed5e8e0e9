"""Every domain's tables, imported in one place for Alembic and the metadata."""

from app.communities.models import Channel, Community
from app.core.db import Base
from app.core.events import OutboxEvent
from app.orgs.models import ApiKey, Organisation
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Channel",
    "Community",
    "Organisation",
    "OutboxEvent",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
