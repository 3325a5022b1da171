"""Models: the LLMs Parley can answer with."""

from __future__ import annotations

from litestar import Controller, get

from api.bootstrap import Parley
from api.controllers._common import API, LIST
from api.limits import MAX_JSON_BYTES
from api.schemas import Model

DESCRIPTIONS = {
    "extractive": (
        "Extractive (offline)",
        "Built-in offline model: selects and cites the context sentences that best answer the question. "
        "It generates no text of its own and declines when the documents do not contain the answer.",
    ),
}


class ModelController(Controller):
    path = f"{API}/models"
    tags = ["models"]
    request_max_body_size = MAX_JSON_BYTES

    @get("/", status_code=200, operation_id="list_models", responses=LIST, sync_to_thread=True)
    def list_models(self, parley: Parley) -> list[Model]:
        models = []
        for spec in parley.answerer.model_specs():
            display, description = DESCRIPTIONS.get(spec.name, (spec.name, f"served by the {spec.backend!r} backend"))
            models.append(
                Model(
                    id=spec.name,
                    display_name=display,
                    description=description,
                    backend=spec.backend,
                    generates_text=spec.generative,
                    context_size=spec.context_size,
                    default=spec.name == parley.settings.default_llm,
                )
            )
        return models
