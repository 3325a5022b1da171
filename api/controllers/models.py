"""Models: the LLMs Parley can answer with."""

from __future__ import annotations

from litestar import Controller, get

from api.bootstrap import Parley
from api.controllers._common import API
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

    @get("/", status_code=200, operation_id="list_models", sync_to_thread=True)
    def list_models(self, parley: Parley) -> list[Model]:
        models = []
        for name in parley.answerer.models():
            display, description = DESCRIPTIONS.get(name, (name, ""))
            models.append(
                Model(id=name, display_name=display, description=description, backend="builtin", generates_text=False)
            )
        return models
