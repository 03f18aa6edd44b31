"""The ``webhook`` sink: POST each failed result as JSON, retrying with exponential backoff, bounded."""

from __future__ import annotations

import json
import logging

import gevent
import gevent.pool
import requests
from marshmallow import Schema, fields, validate

from healthcrawl import Result, RunInfo, Sink, Summary

log = logging.getLogger("healthcrawl.webhook")

RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class WebhookOptions(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                     metadata={"description": "Where each failed result is POSTed."})
    headers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict,
                          metadata={"description": "Extra request headers, e.g. Authorization: Bearer ${TOKEN}."})
    max_attempts = fields.Integer(load_default=4, validate=validate.Range(min=1, max=10, error="must be 1 to 10"),
                                  metadata={"description": "Tries per result, the first one included."})
    backoff = fields.Float(load_default=0.5, validate=validate.Range(min=0, max=60, error="must be 0 to 60"),
                           metadata={"description": "Seconds before the first retry; doubled before each next one."})
    timeout = fields.Float(load_default=5.0, validate=validate.Range(min=0, min_inclusive=False, error="must be more than 0"),
                           metadata={"description": "Seconds per POST."})
    concurrency = fields.Integer(load_default=4, validate=validate.Range(min=1, max=64, error="must be 1 to 64"),
                                 metadata={"description": "POSTs in flight at once."})
    give_up_after = fields.Integer(load_default=10, validate=validate.Range(min=1, error="must be at least {min}"),
                                   metadata={"description": "Stop posting after this many results in a row could not be delivered."})


class WebhookSink(Sink):
    """Delivers each failed result (``ok`` false) as one JSON result record per POST.

    A POST is retried on a connection error, a timeout or a 408/425/429/5xx answer, waiting
    ``backoff``, then twice that, and so on, for at most ``max_attempts`` tries. Deliveries run in a
    pool of ``concurrency`` greenlets, so a slow webhook slows the writer down instead of piling up
    work; once ``give_up_after`` results in a row were not delivered, the webhook counts as down and
    the rest are only counted. ``close`` waits for the deliveries still running.
    """

    type_name = "webhook"
    Options = WebhookOptions

    def open(self, run: RunInfo) -> None:
        self.delivered = 0
        self.undelivered = 0
        self._failures_in_a_row = 0
        self._pool = gevent.pool.Pool(self.options["concurrency"])
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.headers.update({"Content-Type": "application/json", **self.options["headers"]})

    def write(self, results: list[Result]) -> None:
        for result in results:
            if result.ok:
                continue
            if self._webhook_down:
                self.undelivered += 1
            else:
                self._pool.spawn(self._deliver, result)  # waits while `concurrency` POSTs are in flight

    def close(self, run: RunInfo, summary: Summary, state: str) -> None:
        self._pool.join()
        self._session.close()
        if self.undelivered:
            log.warning("webhook %s: %d failed result(s) delivered, %d not delivered",
                        self.options["url"], self.delivered, self.undelivered)

    @property
    def _webhook_down(self) -> bool:
        return self._failures_in_a_row >= self.options["give_up_after"]

    def _deliver(self, result: Result) -> None:
        if self._webhook_down:
            self.undelivered += 1
            return
        body = json.dumps(result.to_record(), ensure_ascii=False).encode()
        problem = self._post_with_retries(body)
        if problem is None:
            self.delivered += 1
            self._failures_in_a_row = 0
            return
        self.undelivered += 1
        self._failures_in_a_row += 1
        log.warning("webhook %s: could not deliver the result of %s: %s", self.options["url"], result.target, problem)

    def _post_with_retries(self, body: bytes) -> str | None:
        """POST ``body`` until it is accepted; returns None, or why the last try failed."""
        problem = None
        for attempt in range(self.options["max_attempts"]):
            if attempt:
                gevent.sleep(self.options["backoff"] * 2 ** (attempt - 1))
                if self._webhook_down:
                    return f"gave up with the webhook down: {problem}"
            try:
                response = self._post(body)
            except (requests.RequestException, _PostTimedOut) as error:
                problem = f"{type(error).__name__}: {error}"
                continue
            if response.status_code < 300:
                return None
            problem = f"answered {response.status_code}"
            if response.status_code not in RETRIED_STATUSES:
                return problem
        return f"{problem} (after {self.options['max_attempts']} tries)"

    def _post(self, body: bytes) -> requests.Response:
        """One POST under one hard deadline (requests' own timeout is per socket operation)."""
        deadline = gevent.Timeout(self.options["timeout"])
        deadline.start()
        try:
            response = self._session.post(self.options["url"], data=body, timeout=self.options["timeout"])
            response.close()
            return response
        except gevent.Timeout as timeout:
            if timeout is not deadline:
                raise
            raise _PostTimedOut(f"no answer within {self.options['timeout']} s") from None
        finally:
            deadline.cancel()


class _PostTimedOut(Exception):
    """A POST did not finish within the sink's ``timeout``."""
