import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# Import every view now, then hide what start-up built from the garbage collector: a full
# collection would otherwise walk all of Django and the app, which measured 35-50 ms pauses
# in 100-row list pages (8-10 ms after this; docs/BENCHMARKS.md).
get_resolver().url_patterns  # noqa: B018 - loads the URLconf and the views it names
gc.freeze()
