"""POST /tag (zero-shot tags of an uploaded clip or a catalog track) and GET /labels (label sets, genres)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep, read_access
from api.routers import error_responses, split_list
from api.schemas import LabelScore, LabelSets, TagResponse
from api.services.analysis import resolve_labels, tag_vector
from api.services.errors import ApiError
from api.services.search import embed_wave, get_track, track_vector
from api.uploads import read_clip

router = APIRouter(tags=["tags"], dependencies=[Depends(read_access)], responses=error_responses(401, 503))


@router.post("/tag", response_model=TagResponse, summary="Zero-shot tags of a clip or a track",
             responses=error_responses(400, 404, 409, 413, 422))
async def tag(
    state: StateDep,
    file: Annotated[UploadFile | None, File(description="an audio clip (or give track_id)")] = None,
    track_id: Annotated[str | None, Form(max_length=512, description="a catalog track (or upload a file)")] = None,
    label_set: Annotated[str | None, Form(max_length=200, description="a label set the server loaded")] = None,
    labels: Annotated[str | None, Form(max_length=20000, description="your own labels, comma-separated")] = None,
    top: Annotated[int, Form(ge=1, le=1000, description="how many labels to return")] = 5,
    abstain_below: Annotated[float | None, Form(ge=0, le=1, description="no label (abstained) when the top "
                                                "probability is below this; default: the server's setting")] = None,
) -> TagResponse:
    """Score the labels of a label set (or your own) against the clip: prompt-ensembled zero-shot tagging."""
    if (file is None) == (not track_id):
        raise ApiError(422, "give exactly one of: an audio file (field 'file') or a catalog track_id")
    name, label_list = resolve_labels(state, label_set, split_list(labels))
    if file is not None:
        clip = await read_clip(state, file)
        vec = (await run_in_threadpool(embed_wave, state, clip.wave)).tracks[0]
    else:
        record = await run_in_threadpool(get_track, state, track_id)
        vec = await run_in_threadpool(track_vector, state, record)
    tagging = await run_in_threadpool(tag_vector, state, vec, name, label_list, top, abstain_below)
    return TagResponse(label_set=name, source="upload" if file is not None else "track",
                       track_id=track_id if file is None else None, label=tagging.label, abstained=tagging.abstained,
                       abstain_below=tagging.abstain_below, temperature=tagging.temperature,
                       calibration=tagging.calibration, results=[LabelScore(**vars(s)) for s in tagging.results])


@router.get("/labels", response_model=LabelSets, summary="Label sets and filter values")
async def label_sets(state: StateDep) -> LabelSets:
    """The label sets /tag knows, the genres the catalog holds and the attributes it can filter on."""
    genres = await run_in_threadpool(state.genres)
    return LabelSets(label_sets=state.label_sets, genres=genres,
                     attribute_fields=list(state.catalog.db.attribute_fields))
