import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
# Serving requests: settings then insist on a real SECRET_KEY unless DEBUG is on.
os.environ["LUTETIA_WSGI"] = "1"
application = get_wsgi_application()
