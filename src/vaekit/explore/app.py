"""The explorer's web app: one hand-written page and a small JSON API over `ExplorerState`.

FastAPI validates the request bodies against the pydantic models below, answers in JSON and hands the
blocking model calls of plain `def` endpoints to its thread pool, so the page stays responsive.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vaekit.explore import classes, media, videos
from vaekit.explore.images import MAX_BYTES, data_url, image_to_input, parse_data_url, png_bytes
from vaekit.explore.state import ExplorerState, RequestError, to_pixels
from vaekit.explore.typed import check_label, item_json, typed_answer


class DecodeRequest(BaseModel):
    z: list[float] = Field(description="one value per latent dimension, in model order (not slider order)")
    label: int | None = Field(None, description="class-conditional model: the class to decode with (required "
                                                "there; refused on other models)")


class TypedRequest(BaseModel):
    text: str = Field(description="what the person typed: one item (a sentence)")
    label: int | None = Field(None, description="class-conditional model: the class of the typed item")
    k: int = Field(5, description="how many nearest test items to return")


class InterpolateRequest(BaseModel):
    i: int = Field(description="index of the first test image")
    j: int = Field(description="index of the second test image")
    t: float = Field(description="0 gives image i's posterior mean, 1 image j's")
    label: int | None = Field(None, description="class-conditional model: the class to decode with (each end is "
                                                "encoded with its own class)")


class VideoDecodeRequest(BaseModel):
    f: list[float] = Field(description="video model: the content code f, static_dim values")
    zs: list[list[float]] = Field(description="video model: the motion code z_1:T, frames rows of frame_dim values")
    shift: list[float] | None = Field(None, description="frame_dim values added to every z_t (default: none)")


class PriorRequest(BaseModel):
    seed: int = Field(0, description="seed of the draw from the model's prior")


class RandomRequest(BaseModel):
    seed: int = Field(0, description="seed of the draw z ~ p(z)")
    label: int | None = Field(None, description="class-conditional model: the class to decode the draw with")


def _state(source: Any, which: str, device: str, limit: int) -> ExplorerState:
    if isinstance(source, ExplorerState):
        return source
    from vaekit.runs import Run, load_run

    run = source if isinstance(source, Run) else load_run(source, which, device)
    return ExplorerState.from_run(run, limit)


def _validation_message(exc: RequestValidationError) -> str:
    """One readable line from pydantic's errors. Only locations and messages: the offending input may be
    NaN, which JSON cannot carry."""
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            parts.append(f"the request body is not valid JSON ({err.get('ctx', {}).get('error', 'cannot parse')})")
            continue
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)


def _add_class_routes(app: FastAPI, state: ExplorerState) -> None:
    """The page's class controls (a script served beside it), a conditional run's conversion row, and the
    sliders' random draw (every run)."""
    script = resources.files("vaekit.explore").joinpath("classes.js").read_text(encoding="utf-8")

    @app.get("/classes.js", responses={200: {"content": {"text/javascript": {}}}})
    def classes_script() -> Response:
        return Response(script, media_type="text/javascript")

    @app.post("/api/random")
    def random(req: RandomRequest) -> dict[str, Any]:
        return classes.prior_answer(state, req.seed, req.label)

    @app.get("/api/convert/{i}")
    def convert(i: int) -> dict[str, Any]:
        return classes.convert_answer(state, i)


def create_app(source: str | Path | Any, *, which: str = "best", device: str = "cpu", limit: int = 10000) -> FastAPI:
    """The explorer for a run folder, a loaded `vaekit.runs.Run` or a prepared `ExplorerState`.

    Everything the page needs that does not change (posterior means of the test set, dimension order,
    the latent map) is computed here, once."""
    state = _state(source, which, device, limit)
    page = resources.files("vaekit.explore").joinpath("page.html").read_text(encoding="utf-8")
    # no /docs or /redoc: they load their scripts from a CDN, and the explorer must work offline
    app = FastAPI(title="vaekit latent explorer", docs_url=None, redoc_url=None)
    app.state.explorer = state
    _add_error_handlers(app)
    _add_class_routes(app, state)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page


    # a video model's content and motion controls: their sizes and the shift sliders' ranges, found once
    video = videos.video_info(state) if state.media and videos.has_motion(state) else None

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return {**state.info(), "video": video} if video else state.info()

    @app.get("/api/map")
    def latent_map() -> dict[str, Any]:
        return state.map_json()

    @app.get("/api/image/{i}", responses={200: {"content": {"image/png": {}}}})
    def test_image(i: int) -> Response:
        if state.media:  # the kind's picture of the item (a sound's spectrogram)
            return Response(media.picture_png(state, i), media_type="image/png")
        return Response(png_bytes(to_pixels(state.images[state.check_index(i)])), media_type="image/png")

    @app.get("/api/item/{i}")
    def test_item(i: int) -> dict[str, Any]:
        if not state.media:
            raise RequestError("this run's test items have no media: GET /api/image/{i} (images) or POST "
                               "/api/typed (sentences)", 404)
        return media.item_answer(state, i)

    @app.post("/api/decode")
    def decode(req: DecodeRequest) -> dict[str, Any]:
        z = state.check_z(req.z)
        y = check_label(state, req.label)
        if state.media:
            return media.decode_answer(state, z, y)
        if state.typed:  # the item as the run's kind shows it
            return {**item_json(state, state.decode_item(z, y), "decode(z)"), "point": state.point(z)}
        return {"image": data_url(to_pixels(state.decode_item(z, y))), "point": state.point(z)}

    @app.get("/api/video/code/{i}")
    def video_code(i: int) -> dict[str, Any]:
        return videos.code_answer(state, i)

    @app.post("/api/video/prior")
    def video_prior(req: PriorRequest) -> dict[str, Any]:
        return videos.prior_answer(state, req.seed)

    @app.post("/api/video/decode")
    def video_decode(req: VideoDecodeRequest) -> dict[str, Any]:
        return videos.decode_answer(state, req.f, req.zs, req.shift)

    @app.post("/api/typed")
    def typed(req: TypedRequest) -> dict[str, Any]:
        return typed_answer(state, req.text, req.label, req.k)

    @app.post("/api/interpolate")
    def interpolate(req: InterpolateRequest) -> dict[str, Any]:
        y = check_label(state, req.label)
        if state.media:
            return media.interpolate_answer(state, req.i, req.j, req.t, y)
        z, pixels = state.interpolate(req.i, req.j, req.t, y)
        return {"image": data_url(pixels), "z": z.tolist(), "point": state.point(z)}

    @app.post("/api/reconstruct")
    async def reconstruct(file: Annotated[UploadFile | None, File()] = None,
                          data_url_field: Annotated[str | None, Form(alias="data_url")] = None,
                          label: Annotated[int | None, Form(description="class-conditional model: the upload's "
                                                                        "class (required there)")] = None
                          ) -> dict[str, Any]:
        if state.typed:
            raise RequestError("this run's items are typed, not images: POST /api/typed with the text", 404)
        y = check_label(state, label)
        if file is not None:
            raw = await file.read(MAX_BYTES + 1)
        elif data_url_field is not None:
            raw = parse_data_url(data_url_field)
        elif state.media:
            raise RequestError(f"send a file as a multipart form: field `file` ({', '.join(state.kind.file_types)})",
                               400)
        else:
            raise RequestError("send an image as a multipart form: field `file` (an image file) or "
                               "`data_url` (a canvas's toDataURL())", 400)
        if state.media:
            return await run_in_threadpool(media.reconstruct_answer, state, raw, file and file.filename, y)
        return await run_in_threadpool(_reconstruct, state, raw, y)

    return app


def _reconstruct(state: ExplorerState, raw: bytes, y: int | None = None) -> dict[str, Any]:
    """The upload as the model sees it, its reconstruction decode(E[z|x]), and where E[z|x] is on the map;
    a conditional model reads it with its class y and adds E[z|x, y] decoded with every class."""
    x = image_to_input(raw, state.event_shape)
    z = state.encode(x, y)
    answer = {"input": data_url(to_pixels(x)), "image": data_url(to_pixels(state.decode_item(z, y))),
              "z": z.tolist(), "point": state.point(z)}
    return answer if y is None else {**answer, "conversions": classes.conversion_row(state, z)}
