"""Servicers for the job and webhook families, whose behaviour arrives with
issue 6. Every RPC answers `unimplemented` (HTTP 501 at the gateway): an
honest "not yet", never a fake success. Registering them now keeps the
services visible through reflection and their scopes enforced.
"""

from __future__ import annotations

from typing import Any

import grpc
from ucf.connector.v1 import jobs_pb2_grpc, resources_pb2_grpc, webhooks_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError


def _unimplemented(what: str) -> UcfError:
    return UcfError(ErrorCode.UNIMPLEMENTED, f"{what} are not available yet")


class PendingJobServicer(jobs_pb2_grpc.JobServiceServicer):
    async def CreateJob(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("jobs")

    async def GetJob(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("jobs")

    async def ListJobs(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("jobs")

    async def CancelJob(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("jobs")

    async def ListRecords(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("job records")


class PendingWebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    async def RegisterWebhook(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("webhooks")

    async def UnregisterWebhook(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("webhooks")

    async def ReceiveWebhook(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("webhook deliveries")

    async def ListDeadLetters(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("webhook dead letters")


class PendingResourceServicer(resources_pb2_grpc.ResourceServiceServicer):
    """Stands in only while no connector implementations are installed."""

    async def ListContainers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("resources")

    async def ListItems(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("resources")

    async def GetItem(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("resources")

    async def ListComments(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("resources")

    async def CreateItem(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("resources")

    async def CreateComment(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise _unimplemented("resources")
