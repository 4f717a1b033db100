#!/usr/bin/env python3
"""moto's server app (`moto_server`), answering one request at a time.

DynamoDB applies a conditional write atomically: of two `PutItem`s with
`attribute_not_exists(pk)` for one key, exactly one succeeds. moto's threaded server does not
guarantee that (it reads the item, evaluates the condition, then writes, and another request's
thread can run in between), so a test of two concurrent sign-ins with one token would pass or
fail by chance. Serialising the requests gives moto the atomicity the real service has; nothing
else about moto changes.

Usage: moto_serialized.py -H 127.0.0.1 -p PORT (run with the Python that has moto installed).
"""
import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

parser = argparse.ArgumentParser()
parser.add_argument("-H", "--host", default="127.0.0.1")
parser.add_argument("-p", "--port", type=int, required=True)
args = parser.parse_args()

moto = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def serialised(environ, start_response):
    with one_at_a_time:
        # The whole answer is produced inside the lock.
        return list(moto(environ, start_response))


run_simple(args.host, args.port, serialised, threaded=True, request_handler=MotoRequestHandler)
