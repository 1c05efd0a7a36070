"""An exact, ordered HTTP conversation for unit tests of the client alone.

Each expected call names the method, the URL (query string included) and what to answer: a
status with JSON body and headers, or an exception to raise. One call too many or too few fails.
"""
import io
import json

import requests


class Expect:
    def __init__(self, method, url, status=200, body=None, headers=None, raises=None,
                 json_body=None):
        self.method, self.url, self.status = method, url, status
        self.body, self.headers, self.raises = body, headers or {}, raises
        self.json_body = json_body


class Conversation(requests.Session):
    """A ``requests.Session`` that answers from a script instead of the network."""

    def __init__(self, *expected):
        super().__init__()
        self.expected = list(expected)
        self.sent = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        assert self.expected, f"unexpected extra request {request.method} {request.url}"
        step = self.expected.pop(0)
        assert (request.method, request.url) == (step.method, step.url), \
            f"expected {step.method} {step.url}, got {request.method} {request.url}"
        if step.json_body is not None:
            assert json.loads(request.body) == step.json_body
        if step.raises is not None:
            raise step.raises
        response = requests.Response()
        response.status_code = step.status
        response.headers.update(step.headers)
        if isinstance(step.body, (dict, list)):
            content = json.dumps(step.body).encode()
        elif isinstance(step.body, bytes):
            content = step.body
        else:
            content = (step.body or "").encode()
        # the body is read as a stream, as from the network (the client asks stream=True)
        response.raw = io.BytesIO(content)
        response._content = False
        response.url = request.url
        response.request = request
        return response

    def finished(self):
        return not self.expected
