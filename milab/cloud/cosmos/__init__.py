"""Cosmos DB for NoSQL: the data plane at ``https://<account>.documents.azure.com`` (the gateway),
the one model of databases and containers it shares with ARM, its query language, its own
data-plane RBAC and its key signatures."""
from .gateway import CosmosGateway

__all__ = ["CosmosGateway"]
