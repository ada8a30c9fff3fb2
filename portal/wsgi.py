import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# Garbage collection tuned for request latency (measured, docs/BENCHMARKS.md). A 100-row
# page builds a few thousand objects in reference cycles (model instances and their
# caches, querysets); with the default thresholds they are promoted to the oldest
# generation while the request still uses them, and one request in about seventeen then
# paused 20-40 ms in a full collection. Start-up objects (all of Django and the app, views
# imported now) are frozen out of those collections, and a young generation of 7,000
# objects lets a request's garbage die young: one such pause in about 300 requests.
get_resolver().url_patterns  # noqa: B018 - loads the URLconf and the views it names
gc.freeze()
gc.set_threshold(7_000, 10, 10)
