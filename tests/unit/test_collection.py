from domain import collection
from domain.collection import CreateCollection, DeleteCollection, ReplaceCollectionSettings, UpdateCollection
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import (
    ChatSettings,
    CollectionCreated,
    CollectionDeleted,
    CollectionSettings,
    CollectionSettingsReplaced,
    CollectionUpdated,
)
from tests.unit.scenario import given

CREATED = CollectionCreated(
    collection_id="c1",
    name="Docs",
    description="d",
    embedding_model="all-MiniLM-L6-v2",
    settings=CollectionSettings(),
    chat_settings=ChatSettings(),
    rag_type=None,
    owner="ann",
)


def create(**changes: object) -> CreateCollection:
    values: dict[str, object] = {
        "collection_id": "c1",
        "name": "Docs",
        "description": "d",
        "embedding_model": "all-MiniLM-L6-v2",
        "owner": "ann",
    }
    values.update(changes)
    return CreateCollection(**values)  # type: ignore[arg-type]


def test_create_records_the_collection() -> None:
    given(collection).when(create()).then(CREATED)


def test_create_trims_the_name() -> None:
    given(collection).when(create(name="  Docs ")).then(CREATED)


def test_create_twice_is_refused() -> None:
    given(collection, CREATED).when(create()).then_error(AlreadyExists, "already exists")


def test_create_needs_a_name() -> None:
    given(collection).when(create(name="  ")).then_error(InvalidCommand, "non-empty name")


def test_create_refuses_an_unknown_rag_type() -> None:
    given(collection).when(create(rag_type="magic")).then_error(InvalidCommand, "rag_type")


def test_chunk_size_must_be_sensible() -> None:
    settings = CollectionSettings(max_tokens_per_chunk=4)
    given(collection).when(create(settings=settings)).then_error(InvalidCommand, "max_tokens_per_chunk")


def test_overlap_must_be_smaller_than_the_chunk() -> None:
    settings = CollectionSettings(max_tokens_per_chunk=100, chunk_overlap_tokens=100)
    given(collection).when(create(settings=settings)).then_error(InvalidCommand, "chunk_overlap_tokens")


def test_unknown_ocr_model_is_refused() -> None:
    settings = CollectionSettings(ocr_model="doctr")
    given(collection).when(create(settings=settings)).then_error(InvalidCommand, "ocr_model")


def test_update_records_only_a_change() -> None:
    given(collection, CREATED).when(UpdateCollection(collection_id="c1", name="New")).then(
        CollectionUpdated(collection_id="c1", name="New", description="d", rag_type=None)
    )
    given(collection, CREATED).when(UpdateCollection(collection_id="c1", name="Docs")).then()


def test_update_of_a_missing_collection_is_not_found() -> None:
    given(collection).when(UpdateCollection(collection_id="c1", name="x")).then_error(NotFound, "c1")


def test_settings_are_replaced_whole() -> None:
    settings = CollectionSettings(max_tokens_per_chunk=128, chunk_by_page=True)
    given(collection, CREATED).when(ReplaceCollectionSettings(collection_id="c1", settings=settings)).then(
        CollectionSettingsReplaced(collection_id="c1", settings=settings)
    )


def test_delete_then_anything_is_not_found() -> None:
    given(collection, CREATED).when(DeleteCollection(collection_id="c1")).then(CollectionDeleted(collection_id="c1"))
    deleted = CollectionDeleted(collection_id="c1")
    given(collection, CREATED, deleted).when(DeleteCollection(collection_id="c1")).then_error(NotFound, "c1")
    given(collection, CREATED, deleted).when(UpdateCollection(collection_id="c1", name="x")).then_error(NotFound, "c1")
