"""Request and response schemas of the API, one module per resource, declared once.

Each model both validates (through `api.openapi.operation`) and is written into
`/api/v1/openapi.json`. A new route declares its schemas beside its view::

    from api.openapi import operation
    from api.schemas.things import ThingCreate, Thing

    @bp.post("/things")
    @operation(body=ThingCreate, responses={201: Thing}, errors=(409,))
    def create(): ...

A request model that needs the API's precise messages runs the checks of api/validation.py
in a `model_validator(mode="before")` (see `ForecastRequest`); those raise the API's own
4xx, which pass through pydantic unchanged. Add real answers to examples.json
(`python -m api.schemas.record_examples`) so the document shows them.
"""
