"""gunicorn's settings for a webleads web node (deploy/webleads-web.service).

    gunicorn --config deploy/gunicorn.conf.py 'app.factory:create_app()'

Two can be changed from /etc/webleads/env without editing this file:
WEBLEADS_BIND (default 127.0.0.1:8000, where nginx's upstream points; 0.0.0.0:8000 on a
web node that nginx reaches over the network) and WEB_CONCURRENCY (the worker processes,
default 2 a core + 1). Options given on gunicorn's command line override this file.
"""

import multiprocessing
import os

bind = os.environ.get("WEBLEADS_BIND", "127.0.0.1:8000")
# Sync workers: a webhook only waits on the database (the provider calls happen in
# `webleads worker`), so a request is short and a process a request is enough.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Longer than nginx's proxy_read_timeout (30 s): nginx gives up first and answers 504.
# A request that waits on the photo bucket gives up well before: 15 s at most for the SMS
# link page's HEAD and PUT (services/storage.py), then the breaker answers at once.
timeout = 35
graceful_timeout = 20
# nginx keeps its connections to the nodes open (upstream keepalive).
keepalive = 65
# A worker is replaced after this many requests (a leak cannot grow for ever).
max_requests = 2000
max_requests_jitter = 200
# nginx keeps the access log (masked, nginx-site.conf); gunicorn's errors go to the journal
# (masked too, app/access_log.py).
accesslog = None
errorlog = "-"
loglevel = "info"
# X-Forwarded-* are handled by the app (PROXY_FIX_HOPS=1), not by gunicorn.
forwarded_allow_ips = "127.0.0.1"
proc_name = "webleads-web"
