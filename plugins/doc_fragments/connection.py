# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # validate_certs, timeout, max_retry_wait, max_verify_wait: every module. Use it with one platform's fragment
    # below, which documents api_token and api_url with that platform's environment variables.
    DOCUMENTATION = r'''
options:
  validate_certs:
    description:
      - Verify the TLS certificate of O(api_url). Only turn this off for a test server you control.
    type: bool
    default: true
  timeout:
    description:
      - Seconds one HTTP request may take from start to end, wall clock, whatever the server does,
        for connecting, TLS, the status line and headers, and the whole body. A server that answers
        one byte at a time is cut off when the time is up; no single read may wait longer either.
      - A read or delete that timed out is sent once more (not again after that); a request that may
        create or replace a secret never is, since the platform may have acted.
      - Every answer's body is read up to O(max_body_mib) (after decompression); a larger one fails
        with an error naming that limit, and so does JSON nested deeper than 64 levels.
    type: float
    default: 30
  max_body_mib:
    description:
      - The most MiB of an answer's body (after decompression) the module reads. A larger answer,
        declared or streamed (a body that never ends included), fails with an error naming this
        limit, instead of using the controller's memory; the platforms' answers about tokens are a
        few KiB.
    type: int
    default: 16
    version_added: 1.1.0
  max_retry_wait:
    description:
      - The most seconds one request may spend, after its first attempt, on repeating it (the
        waits and the repeated attempts together). A request therefore ends within O(timeout) plus
        O(max_retry_wait) seconds, not counting the time it waits for its turn under a rate limit
        the platform stated.
      - Reads and deletes are repeated after HTTP 425, 429, any 5xx, and connection errors (refused,
        reset, dropped, timed out). A request that may create or replace a secret is repeated only
        after a 425 or 429 (the platform refused it before acting) or when it provably never
        reached the platform; otherwise the module looks at the platform before deciding, and never
        mints a duplicate.
      - Waits follow the platform's rate-limit headers (C(Retry-After) in seconds or as an HTTP date,
        C(X-RateLimit-Reset) in seconds or as a Unix time, C(X-RateLimit-Limit) and
        C(X-RateLimit-Remaining), and the IETF C(RateLimit) and C(RateLimit-Policy) fields), else
        back off exponentially with jitter. No single wait is longer than 60 seconds; a header that
        asks for longer than that gives up at once, one with an impossible value (negative, not a
        number, a date in the year 99999) is ignored.
      - V(0) disables repeating.
    type: float
    default: 120
  max_verify_wait:
    description:
      - The most seconds the module waits in total while it asks again whether a secret works,
        when a platform's answer may still change.
      - A newly issued secret that the platform refuses (HTTP 401 or 403) is checked again with
        growing pauses (0.25, 0.5, 1, 2, ... seconds) before it counts as refused, because platforms
        take a moment to accept a secret they have just issued.
      - A lookup of who O(api_token) is, made before rotating or deleting a token that may be
        O(api_token) itself, is asked again the same way when its answer says nothing; when it still
        says nothing, the change is refused rather than risk locking the play out. After such a
        rotation, a refusal of O(api_token) itself is asked again the same way before later requests
        change to the new secret.
      - V(0) asks once.
    type: float
    default: 10
    version_added: 1.1.0
  seal_key:
    description:
      - Set by the collection's action plugin for every task; do not set it yourself (a value you give
        is replaced).
      - A one-time random key with which the module seals every secret in its result before printing
        it, so that the module's raw output (C(ANSIBLE_DEBUG=1), C(ANSIBLE_KEEP_REMOTE_FILES=1)) never
        holds a secret in plaintext. The action plugin unseals the result on the controller, and
        hides any result that carries a secret from every output; O(seal_key) itself is never
        logged.
      - With C(ANSIBLE_KEEP_REMOTE_FILES=1) ansible-core keeps the module's arguments on the target,
        O(api_token) and O(seal_key) included, as it does for every C(no_log) option of every module.
    type: str
requirements:
  - requests
'''

    PACTFLOW = r'''
options:
  api_token:
    description:
      - The credential the module calls the PactFlow API with. When not set, E(PACT_BROKER_TOKEN) is used.
      - It is never printed, logged or returned.
    type: str
  api_url:
    description:
      - Base URL of the API. When not set, E(PACT_BROKER_BASE_URL) is used. PactFlow has no public endpoint, so one of the two is required.
      - An C(https://) (or C(http://)) URL without user name, password, query or fragment.
      - A value of the environment variable that is a URL of another scheme (for example a Pulumi
        self-managed backend such as C(s3://bucket)) is ignored with a warning; a value with no scheme fails.
    type: str
'''

    TFE = r'''
options:
  api_token:
    description:
      - The credential the module calls the HCP Terraform / Terraform Enterprise API with. When not set, E(TFE_TOKEN) is used.
      - It is never printed, logged or returned.
    type: str
  api_url:
    description:
      - Base URL of the API. When not set, E(TFE_ADDRESS) is used. When neither is set, V(https://app.terraform.io).
      - An C(https://) (or C(http://)) URL without user name, password, query or fragment.
      - A value of the environment variable that is a URL of another scheme (for example a Pulumi
        self-managed backend such as C(s3://bucket)) is ignored with a warning; a value with no scheme fails.
    type: str
'''

    CLOUDFLARE = r'''
options:
  api_token:
    description:
      - The credential the module calls the Cloudflare API with. When not set, E(CLOUDFLARE_API_TOKEN) is used.
      - It is never printed, logged or returned.
    type: str
  api_url:
    description:
      - Base URL of the API. When not set, E(CLOUDFLARE_BASE_URL) is used. When neither is set, V(https://api.cloudflare.com/client/v4).
      - An C(https://) (or C(http://)) URL without user name, password, query or fragment.
      - A value of the environment variable that is a URL of another scheme (for example a Pulumi
        self-managed backend such as C(s3://bucket)) is ignored with a warning; a value with no scheme fails.
    type: str
'''

    PULUMI = r'''
options:
  api_token:
    description:
      - The credential the module calls the Pulumi Cloud API with. When not set, E(PULUMI_ACCESS_TOKEN) is used.
      - It is never printed, logged or returned.
    type: str
  api_url:
    description:
      - Base URL of the API. When not set, E(PULUMI_BACKEND_URL) is used. When neither is set, V(https://api.pulumi.com).
      - An C(https://) (or C(http://)) URL without user name, password, query or fragment.
      - A value of the environment variable that is a URL of another scheme (for example a Pulumi
        self-managed backend such as C(s3://bucket)) is ignored with a warning; a value with no scheme fails.
    type: str
'''

    CLOUDTRUTH = r'''
options:
  api_token:
    description:
      - The credential the module calls the CloudTruth API with. When not set, E(CLOUDTRUTH_API_KEY) is used.
      - It is never printed, logged or returned.
    type: str
  api_url:
    description:
      - Base URL of the API. When not set, E(CLOUDTRUTH_SERVER_URL) is used. When neither is set, V(https://api.cloudtruth.io).
      - An C(https://) (or C(http://)) URL without user name, password, query or fragment.
      - A value of the environment variable that is a URL of another scheme (for example a Pulumi
        self-managed backend such as C(s3://bucket)) is ignored with a warning; a value with no scheme fails.
    type: str
'''
