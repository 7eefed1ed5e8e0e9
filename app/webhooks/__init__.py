"""Outbound webhooks for internal tools: endpoints, signed deliveries, retries, a delivery log."""
