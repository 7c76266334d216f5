"""Tool calls in flight and what a client's ``notifications/cancelled`` does to them, telling the
truth as the LSP face does (``Session.run_request``): a call cancelled before its work started never
runs and gets no answer (MCP: a cancelled request gets no response); a call whose work started
finishes and is answered, since it may have written. The transport asks ``may_cancel`` before it
lets a cancellation through to the SDK (which then drops the call's answer)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.shared.dispatcher import coerce_request_id
from mcp_types import CallToolResult

from groundhog.errors import ContextError
from groundhog.mcp import answers
from groundhog.session import Session

T = TypeVar("T")
CANCELLED_KEPT = 1024  # cancellations remembered for calls that had not reached the worker yet
CANCEL_ARRIVES_S = 2.0  # a cancellation the transport let through reaches the SDK well within this


class CallCancelled(Exception):
    """The call was cancelled before its work started: it changed nothing."""


class Calls:
    def __init__(self) -> None:
        self._jobs: dict[Any, Future[Any]] = {}  # request id -> the call's work on the session worker
        self._cancelled: OrderedDict[Any, None] = OrderedDict()  # cancelled before being queued

    def may_cancel(self, request_id: Any) -> bool:
        """Whether the call ``request_id`` may be cancelled: yes when its work has not started,
        and then it never will; no once it runs (or ran): it is answered."""
        job = self._jobs.get(request_id)
        if job is not None:
            return job.cancel()
        self._cancelled[request_id] = None  # not queued yet: it must not be queued now
        while len(self._cancelled) > CANCELLED_KEPT:
            self._cancelled.popitem(last=False)
        return True

    async def run(self, request_id: Any, session: Session, work: Callable[[], T]) -> T:
        """``work`` on the session's worker, for the call ``request_id`` (CallCancelled if the
        client cancelled it before it started)."""
        try:
            if request_id in self._cancelled:
                raise CallCancelled
            job = session.submit(work)
            self._jobs[request_id] = job
            try:
                return await _outcome(job)
            finally:
                self._jobs.pop(request_id, None)
        finally:
            self._cancelled.pop(request_id, None)


async def _outcome(job: Future[T]) -> T:
    """The result of ``job``. Cancelled while queued, it never runs; once it runs, it finishes and
    its result is answered even if the connection is being torn down (it may have written)."""
    waiting = asyncio.wrap_future(job)
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling() == 0:  # the job was cancelled, not this task
            raise CallCancelled from None
        if job.cancel():
            raise
    with anyio.CancelScope(shield=True):
        result = await waiting
    return result


async def cancelled_answer() -> CallToolResult:
    """A call cancelled before it ran: the client's cancellation, on its way to the SDK, ends the
    call unanswered; should it be late, the answer says what happened."""
    await anyio.sleep(CANCEL_ARRIVES_S)
    error = ContextError("The call was cancelled before it ran; nothing was changed.")
    return answers.failure(error, kind="RequestCancelled", code=-32800)


def request_id(context: Context[Any, Any] | None) -> Any:
    """The call's request id as the SDK's dispatcher correlates it ("7" and 7 alike), else None."""
    try:
        ident = context.request_context.request_id if context is not None else None
    except ValueError:  # a context outside a request
        return None
    return None if ident is None else coerce_request_id(ident)
