"""One declaration per endpoint validates its requests and writes the OpenAPI 3.1 document.

Library: spectree (pydantic v2 models). It decorates the existing Flask blueprints in place:
no new app or blueprint class (APIFlask), no marshmallow schemas beside pydantic
(flask-smorest); it validates query and body with the same models it writes into the
document, and writes OpenAPI 3.1.0. Its own doc pages load Swagger UI from a CDN, so they
are not registered: api/views/docs.py serves Swagger UI from an installed package.

How a route declares its schemas (see api/schemas/ for the models)::

    @bp.post("/things")
    @operation(body=ThingCreate, responses={201: Thing}, errors=(404, 409))
    def create():
        thing = request.context.json        # the validated ThingCreate
        ...

Query models are read from `request.context.query`. Error statuses the declaration does not
list are added from what the endpoint can meet anyway: 401/403 (keys), 400/413/415 (a
body), 422 (input), 503 (an outage); every error is the `Problem` schema as
application/problem+json. Precise messages come from the models' own checks (api/validation.py),
which raise the API's 4xx before pydantic's generic ones are reached.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, current_app, request
from pydantic import BaseModel, RootModel, ValidationError as PydanticValidationError
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.utils import get_multidict_items

from api.errors import ValidationError
from api.schemas.common import Problem
from api.validation import as_object, json_body
from forecasting.store.caches import Lru

#: Statuses every described error may carry, with what they mean here.
ERROR_TEXT = {
    400: "Malformed request: the body is no JSON, is empty, or nests too deep",
    401: "No API key, or an unknown or revoked one (`WWW-Authenticate: Bearer`)",
    403: "The API key lacks the scope this endpoint needs",
    404: "Not found",
    405: "Method not allowed (`Allow` lists the methods the path takes)",
    406: "None of the media types the `Accept` header takes is available; `available` lists them",
    409: "Conflict with the current state",
    413: "The body is larger than MAX_CONTENT_LENGTH",
    415: "The body is not sent as application/json",
    422: "Invalid input: the detail names the field and the problem",
    503: "A part the service needs is down; retry after `Retry-After` seconds",
}

RETRY_AFTER = {"description": "Seconds to wait before asking again", "schema": {"type": "integer", "minimum": 1}}
LOCATION = {"description": "The job to poll", "schema": {"type": "string"}}

#: Where a 202 that queued a job leads: its polling and its cancelling.
JOB_LINKS = {"GetJob": ("jobs.get_job", {"job_id": "$response.body#/job_id"}),
             "CancelJob": ("jobs.cancel", {"job_id": "$response.body#/job_id"})}

#: Query strings whose validated query each app keeps (per query model), the least recently used dropped.
VALIDATED_QUERIES = 256

#: Operation id -> what spectree does not write: media types, headers, examples of responses.
_EXTRAS: dict[str, dict[str, Any]] = {}


class _Plugin(FlaskPlugin):
    """Spectree's Flask plugin, without validating responses at run time.

    A response that strayed from its schema would become a 500 for the client; the contract
    test (tests/api/test_contract.py) checks every response against the document instead.
    """

    def request_validation(self, request, query, json, form, headers, cookies):
        if headers is not None or cookies is not None or form is not None:
            return super().request_validation(request, query, json, form, headers, cookies)
        # No route declares headers, cookies or a form: spectree would still copy every header and
        # parse the cookies of each request (a third of what a saved forecast GET cost the plugin).
        body = json is not None and request.method not in ("GET", "DELETE") \
            and request.mimetype not in self.FORM_MIMETYPE
        request.context = Context(
            self._validated_query(request, query) if query else None,
            self.model_adapter.validate_obj(json, request.get_json(silent=True) or {}) if body else None,
            None, None, None,
        )

    def _validated_query(self, request, query: type[BaseModel]) -> BaseModel:
        # A query model reads only the query string and the app's settings, so the same string
        # validates to the same value in one app: parsing and validating it again took about
        # 20 us of a saved forecast GET's 0.22 ms (bench.request_cost). Only what validates is
        # kept (an error is raised again each time, the same way); views read
        # request.context.query and never change it, so one value is shared.
        memo = current_app.extensions.get("validated_queries")
        if memo is None:
            memo = current_app.extensions.setdefault("validated_queries", Lru(VALIDATED_QUERIES))
        key = (query, request.query_string)
        validated = memo.get(key, None)
        if validated is None:
            validated = self.model_adapter.validate_obj(query, get_multidict_items(request.args, query))
            memo.put(key, validated)
        return validated

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        if self.is_app_response(resp):
            # A response the view built itself (a streamed export) is passed on as it is: the
            # plugin would read it whole into memory to rebuild it.
            return resp, None
        return super().validate_response(resp, resp_model, True, False)


def _before(req, resp, req_validation_error, instance, model_adapter=None) -> None:
    # A model's own checks raise the API's errors with their precise messages; what pydantic
    # still finds is answered as a 422 problem too, naming the field.
    if req_validation_error is not None:
        raise ValidationError(*_sentence(req_validation_error))


def _sentence(error: PydanticValidationError) -> tuple[str, str | None]:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return (f"'{field}': {first['msg']}." if field else f"{first['msg']}."), field


spec = SpecTree(
    "flask", backend=_Plugin, mode="strict", title="Demand forecasting API", version="1",
    description="Per-product demand forecasts. Every error is application/problem+json; "
                "see /api/v1/docs/problems for each problem type.",
    path="api/v1/docs", validation_error_status=422, validation_error_model=Problem,
    naming_strategy=lambda model: model.__name__, nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
    security={"bearer": []}, before=_before,
)


def operation(
    *,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    body_optional: bool = False,
    responses: Mapping[int, type[BaseModel] | None],
    errors: Iterable[int] = (),
    headers: Mapping[int, Mapping[str, dict[str, Any]]] | None = None,
    media: Mapping[int, str] | None = None,
    public: bool = False,
    tag: str | None = None,
    links: Mapping[int, Mapping[str, tuple[str, Mapping[str, str]]]] | None = None,
    header_parameters: Iterable[dict[str, Any]] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an endpoint: its query and body models, its answers and the error statuses it can give.

    `responses` maps a success status to its model (None: no body); `errors` lists the
    endpoint's own error statuses (404, 409...); `headers` and `media` add response headers
    and non-JSON media types by status; `public` marks an endpoint open without a key;
    `links` names, by status, the operations an answer leads to:
    ``{201: {"GetProduct": ("products.get_one", {"product_id": "$response.body#/id"})}}``;
    `header_parameters` documents request headers the view reads itself (OpenAPI parameter objects).
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        group = tag or view.__module__.rsplit(".", 1)[-1]
        op_id = f"{group}.{view.__name__}"
        statuses = set(errors) | {503}
        if not public:
            statuses |= {401, 403}
        if query is not None or body is not None:
            statuses.add(422)
        if body is not None:
            statuses |= {400, 413, 415}
        models = {f"HTTP_{code}": model for code, model in responses.items()}
        models.update({f"HTTP_{code}": Problem for code in statuses if code not in responses})
        validated = spec.validate(
            query=query, json=body, resp=Response(**models), tags=(group,), operation_id=op_id,
            security={} if public else None,
        )(view)
        _EXTRAS[op_id] = {"headers": dict(headers or {}), "media": dict(media or {}), "statuses": statuses,
                           "links": dict(links or {}), "header_parameters": list(header_parameters)}
        object_body = body is not None and not issubclass(body, RootModel)

        @functools.wraps(validated)
        def run(*args: Any, **kwargs: Any) -> Any:
            if body is not None and request.method in ("POST", "PUT", "PATCH"):
                _read_body(optional=body_optional, want_object=object_body)
            return validated(*args, **kwargs)

        return run

    return decorate


def _read_body(*, optional: bool, want_object: bool) -> None:
    # Read here with the API's precise 4xx (media type, size, syntax, depth, shape), then handed
    # to spectree through Flask's JSON cache, which it reads.
    if optional and not request.get_data(cache=True):
        value: Any = {}
    else:
        value = json_body(request)
        if want_object:
            as_object(value)
    request._cached_json = (value, value)


_BUILDING = threading.Lock()


def document(app: Flask) -> dict[str, Any]:
    """Return the app's OpenAPI document, built once per app (one build at a time: spectree's registry is shared)."""
    with _BUILDING:
        return _document(app)


def _document(app: Flask) -> dict[str, Any]:
    built = app.extensions.get("openapi")
    if built is None:
        spec.app = app
        # Spectree lifts nested models out of its registry while generating: each app's document
        # starts from an untouched copy, so a second app (tests, workers) gets them too.
        models = copy.deepcopy(spec.models)
        try:
            with app.test_request_context():
                built = _finish(copy.deepcopy(spec._generate_spec()), app.config)
        finally:
            spec.models = models
        app.extensions["openapi"] = built
    return built


def _finish(doc: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    # What spectree leaves out: problem+json for errors, response headers and media types,
    # limits that come from settings, unique operation ids, integer path ids.
    doc["servers"] = [{"url": "/"}]
    seen: set[str] = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            op_id = op["operationId"]
            extras = _EXTRAS.get(op_id, {"headers": {}, "media": {}})
            if op_id in seen:
                op["operationId"] = f"{op_id}.{path.rsplit('.', 1)[-1]}"
            seen.add(op["operationId"])
            for param in op["parameters"]:
                if param["in"] == "path" and param["name"] == "product_id":
                    param["schema"] = {"type": "integer", "minimum": 1, "maximum": 2147483647}
                    param["description"] = "A product id, written without leading zeros"
            for code, answer in op["responses"].items():
                status = int(code)
                content = answer.get("content", {}).get("application/json")
                if status >= 400 and content and content["schema"]["$ref"].endswith("/Problem"):
                    answer["description"] = ERROR_TEXT.get(status, answer["description"])
                    answer["content"] = {"application/problem+json": content}
                    if status == 503:
                        answer["headers"] = {"Retry-After": RETRY_AFTER}
                    elif status == 401:
                        answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
                    elif status == 405:
                        answer["headers"] = {"Allow": {"schema": {"type": "string"}}}
                    _example(answer, "application/problem+json", f"{op['operationId']} {status}")
                    continue
                media = extras["media"].get(status)
                if media:
                    # One view may serve several suffixes (forecast.svg, forecast.png): each path its own.
                    kinds = media.split("|")
                    suffix = path.rsplit(".", 1)[-1]
                    chosen = [kind for kind in kinds if kind.split("/")[-1].startswith(suffix)] or kinds
                    # A model's JSON keeps its schema; other media types are text.
                    described = answer.get("content", {})
                    answer["content"] = {kind: described.get(kind, {"schema": {"type": "string"}})
                                         for kind in chosen}
                if status in extras.get("links", {}):
                    answer["links"] = {name: {"operationId": target, "parameters": dict(params)}
                                       for name, (target, params) in extras["links"][status].items()}
                if status in extras["headers"]:
                    answer["headers"] = extras["headers"][status]
                _example(answer, "application/json", f"{op['operationId']} {status}")
            op["parameters"].extend(copy.deepcopy(extras.get("header_parameters", [])))
            for param in op["parameters"]:
                param["schema"] = _not_null(param.get("schema", {}))
                _set_limits(param["schema"], config)
            if 422 not in extras.get("statuses", {422}) and not any(
                    p["in"] == "path" and p["name"] == "product_id" for p in op["parameters"]):
                # Spectree lists 422 on every operation; one without input cannot answer it.
                op["responses"].pop("422", None)
            if "requestBody" in op:
                _example(op["requestBody"], "application/json", f"{op['operationId']} request")
    for schema in doc["components"]["schemas"].values():
        for prop in schema.get("properties", {}).values():
            _set_limits(prop, config)
    return doc


def _example(part: dict[str, Any], media: str, key: str) -> None:
    # A real answer (or request) recorded by tests/api/record_examples.py, shown under its media type.
    from api.schemas.examples import EXAMPLES

    if key in EXAMPLES and media in part.get("content", {}):
        part["content"][media]["example"] = EXAMPLES[key]


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    # A query parameter is absent or a value, never null: keep the value's schema alone.
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if "anyOf" in schema and len(options) == 1:
        rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
        return {**rest, **options[0]}
    if schema.get("default", 0) is None:
        return {key: value for key, value in schema.items() if key != "default"}
    return schema


def _set_limits(schema: dict[str, Any], config: Mapping[str, Any]) -> None:
    # A limit set by a setting is written into the document as this service's value.
    for marker, keyword in (("x-maximum-setting", "maximum"), ("x-maximum-items-setting", "maxItems")):
        setting = schema.pop(marker, None)
        if setting is not None:
            schema[keyword] = config[setting]
    for sub in schema.get("anyOf", []):
        _set_limits(sub, config)
