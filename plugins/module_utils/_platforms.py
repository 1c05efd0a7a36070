# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The five platforms: public names, environment variables, endpoints, auth and error bodies."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import namedtuple

from ansible_collections.tokenops.tokens.plugins.module_utils._client import decode_json_error

PlatformInfo = namedtuple('PlatformInfo', 'title token_env url_env default_url')

PLATFORMS = {
    'pactflow': PlatformInfo('PactFlow', 'PACT_BROKER_TOKEN', 'PACT_BROKER_BASE_URL', None),
    'tfe': PlatformInfo('HCP Terraform / Terraform Enterprise', 'TFE_TOKEN', 'TFE_ADDRESS',
                        'https://app.terraform.io'),
    'cloudflare': PlatformInfo('Cloudflare', 'CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_BASE_URL',
                               'https://api.cloudflare.com/client/v4'),
    'pulumi': PlatformInfo('Pulumi Cloud', 'PULUMI_ACCESS_TOKEN', 'PULUMI_BACKEND_URL',
                           'https://api.pulumi.com'),
    'cloudtruth': PlatformInfo('CloudTruth', 'CLOUDTRUTH_API_KEY', 'CLOUDTRUTH_SERVER_URL',
                               'https://api.cloudtruth.io'),
}


class ApiSpec:
    """How to talk to one platform: auth scheme, media types, path prefix, error body."""

    def __init__(self, platform, auth_scheme, decode_error, path_prefix='',
                 accept='application/json', content_type='application/json',
                 trailing_slash=False, content_type_on=(), rate_limit=(8, 1.0), concurrency=4):
        self.platform = platform
        self.auth_scheme = auth_scheme
        self.decode_error = decode_error
        self.path_prefix = path_prefix
        self.accept = accept
        self.content_type = content_type
        self.trailing_slash = trailing_slash
        #: methods that carry Content-Type even without a body, as the vendor's clients send it
        self.content_type_on = content_type_on
        #: the rotation role's default request budget per credential, ``(requests, seconds)``,
        #: set below the platform's published limit (conservative where it publishes none)
        self.rate_limit = rate_limit
        #: the rotation role's default number of requests in flight per credential
        self.concurrency = concurrency


def _tfe_error(body):
    """JSON:API ``errors``: objects with title/detail, or plain strings."""
    parts = []
    for error in body.get('errors') or []:
        if isinstance(error, dict):
            parts.append(error.get('detail') or error.get('title') or '')
        else:
            parts.append(str(error))
    return '; '.join(p for p in parts if p) or None, None


def _cloudflare_error(body):
    """``errors: [{code, message, error_chain}]``."""
    parts = []
    for error in body.get('errors') or []:
        text = '%s (code %s)' % (error.get('message'), error.get('code'))
        chain = [c.get('message') for c in error.get('error_chain') or [] if c.get('message')]
        if chain:
            text += ': ' + '; '.join(chain)
        parts.append(text)
    return '; '.join(parts) or None, None


def _pulumi_error(body):
    """``{code, message}``."""
    return body.get('message'), None


def _drf_error(body):
    """Django REST framework: ``{"detail": ...}`` or ``{"field": ["message", ...]}``."""
    if isinstance(body, dict) and 'detail' in body:
        return str(body['detail']), None
    if isinstance(body, dict):
        return '; '.join('%s: %s' % (field, ' '.join(map(str, msgs)) if isinstance(msgs, list)
                                     else msgs) for field, msgs in body.items()) or None, None
    return str(body), None


def _pactflow_error(body):
    """``{"error": {"message"}}`` or ``{"errors": {field: [...]} | [...]}``."""
    error = body.get('error')
    if isinstance(error, dict) and error.get('message'):
        return error['message'], body.get('reference')
    errors = body.get('errors')
    if isinstance(errors, dict):
        return '; '.join('%s: %s' % (k, ' '.join(v) if isinstance(v, list) else v)
                         for k, v in errors.items()), body.get('reference')
    if isinstance(errors, list):
        return '; '.join(map(str, errors)), body.get('reference')
    return None, None


API = {
    'pactflow': ApiSpec('pactflow', 'Bearer', decode_json_error(_pactflow_error),
                        accept='application/hal+json, application/json'),
    # TFE answers 415 to a POST, PATCH or DELETE without its media type, bodiless or not
    # (go-tfe sets it on those methods unconditionally).
    'tfe': ApiSpec('tfe', 'Bearer', decode_json_error(_tfe_error), path_prefix='/api/v2',
                   accept='application/vnd.api+json', content_type='application/vnd.api+json',
                   content_type_on=('POST', 'PATCH', 'PUT', 'DELETE'),
                   # "30 requests per second" per user (HCP Terraform API docs, Rate limiting:
                   # developer.hashicorp.com/terraform/cloud-docs/api-docs#rate-limiting)
                   rate_limit=(25, 1.0), concurrency=8),
    # "1,200 requests per five minutes" per user (developers.cloudflare.com/fundamentals/api/
    # reference/limits/): the budget is cumulative, so a short run may go at full speed.
    'cloudflare': ApiSpec('cloudflare', 'Bearer', decode_json_error(_cloudflare_error),
                          rate_limit=(1100, 300.0), concurrency=4),
    # Pulumi documents Content-Type as required on every call; its CLI, provider and SDK send
    # it (and Accept) on GET and DELETE too.
    'pulumi': ApiSpec('pulumi', 'token', decode_json_error(_pulumi_error),
                      accept='application/vnd.pulumi+8',
                      content_type_on=('GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE'),
                      # Pulumi publishes no number, only that the service applies "generous rate
                      # limits on various endpoints" and answers 429 (pulumi/pulumi#7963):
                      # assume 10 requests per second per token, and stay below it.
                      rate_limit=(8, 1.0), concurrency=4),
    # CloudTruth publishes no number; its 429 is Django REST framework's throttle ("Request was
    # throttled. Expected available in N seconds."): assume 10 requests per second per key.
    'cloudtruth': ApiSpec('cloudtruth', 'Api-Key', decode_json_error(_drf_error),
                          trailing_slash=True, rate_limit=(8, 1.0), concurrency=4),
}
