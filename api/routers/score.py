"""POST /score: quality (trained heads) and text alignment of an uploaded clip."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep, read_access
from api.routers import error_responses
from api.schemas import ScoreResponse
from api.services.analysis import score_wave
from api.services.errors import ApiError
from api.uploads import read_clip

router = APIRouter(tags=["score"], dependencies=[Depends(read_access)], responses=error_responses(401, 503))


@router.post("/score", response_model=ScoreResponse, summary="Quality and prompt alignment of a clip",
             responses=error_responses(400, 413, 422))
async def score(
    state: StateDep,
    file: Annotated[UploadFile, File(description="an audio clip: wav, flac, ogg or mp3")],
    prompt: Annotated[str | None, Form(max_length=4096, description="text the clip should match")] = None,
) -> ScoreResponse:
    """Trained quality axes when the server has heads (--heads); with a prompt, the clip-prompt cosine and
    its alignment in [0, 1] (calibrated when the checkpoint or heads carry a calibration, else (cos + 1) / 2).
    """
    prompt = prompt.strip() if prompt else None
    limit = state.settings.serve.max_query_chars
    if prompt and len(prompt) > limit:
        raise ApiError(422, f"the prompt is {len(prompt)} characters; this server takes at most {limit} "
                            "(serve.max_query_chars)")
    clip = await read_clip(state, file)
    result = await run_in_threadpool(score_wave, state, clip.wave, prompt)
    return ScoreResponse(prompt=prompt, **result)
