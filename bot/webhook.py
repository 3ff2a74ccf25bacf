"""Webhook mode's HTTP server (tornado, which python-telegram-bot[webhooks] brings): the webhook
route, checked against the secret token, and a health endpoint for load balancers and probes.

PTB's own run_webhook has no room for a health route, so this follows PTB's custom-webhook
pattern instead: the server puts each update on application.update_queue, once the journal has it (our 200
tells Telegram to forget it) and only if it is new (not in hand or answered, here or at another replica).
"""

from __future__ import annotations

import hmac
import json
import logging
from http import HTTPStatus

import tornado.web
from telegram import Update
from telegram.ext import Application
from tornado.httpserver import HTTPServer

from newsbot.bot.journal import Journal
from newsbot.bot.service import Service

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class _WebhookHandler(tornado.web.RequestHandler):
    def initialize(self, bot_app: Application, secret: str, journal: Journal) -> None:
        self.bot_app = bot_app
        self.secret = secret
        self.journal = journal

    async def post(self) -> None:
        sent = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(sent.encode(), self.secret.encode()):
            log.warning("webhook request from %s without the right secret token; refused", self.request.remote_ip)
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        update, data = _update_from(self.request.body, self.bot_app)
        if update is None:
            log.warning("webhook request with a body that is not an update; refused")
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST)
        if await self.journal.received([data]):  # before our 200 tells Telegram it arrived
            await self.bot_app.update_queue.put(update)
        else:
            log.info("update %s was delivered again; it is in hand or answered already", update.update_id)


def _update_from(body: bytes, application: Application) -> tuple[Update | None, dict]:
    """The update a body holds, or None. Anything can be posted here (with the secret, but still), and
    PTB's parser raises whatever a malformed shape makes it raise, so every failure means "not an update"."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            return None, {}
        return Update.de_json(data, application.bot), data
    except Exception:  # RecursionError from deep nesting, AttributeError or TypeError from odd shapes...
        return None, {}


class _HealthHandler(tornado.web.RequestHandler):
    def initialize(self, bot_app: Application, service: Service) -> None:
        self.bot_app = bot_app
        self.service = service

    def get(self) -> None:
        manifest = self.service.retriever.manifest
        healthy = self.bot_app.running
        self.set_status(HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE)
        self.write({"status": "ok" if healthy else "stopping", "articles": manifest.articles,
                    "sentences": manifest.sentences, "rebuilding": self.service.building})


def start_webhook_server(application: Application, service: Service, journal: Journal, *, path: str,
                         secret: str, listen: str, port: int) -> HTTPServer:
    """Listen for Telegram's POSTs on `path` and health probes on /healthz; returns the server to stop."""
    app = tornado.web.Application([
        (HEALTH_PATH, _HealthHandler, {"bot_app": application, "service": service}),
        (path, _WebhookHandler, {"bot_app": application, "secret": secret, "journal": journal}),
    ], log_function=lambda handler: None)  # no access log: a webhook path may embed a secret
    server = HTTPServer(app)
    server.listen(port, address=listen)
    return server
