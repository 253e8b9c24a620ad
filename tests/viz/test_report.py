"""The HTML report: one self-contained file, a picture per section, non-image runs without image sections."""

from __future__ import annotations

import base64
import io
import json
import re
import time

from PIL import Image

from vaekit.cli import main
from vaekit.viz.report import write_report

IMAGE_SECTIONS = ["Samples", "Reconstructions", "Interpolations", "Latent traversals", "2-D manifold"]


def sections(page: str) -> dict[str, str]:
    """{title: body} of each <section>."""
    return dict(re.findall(r"<section><h2>(.*?)</h2>(.*?)</section>", page, flags=re.S))


def assert_self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, flags=re.I)
    assert "<link" not in page and "<script" not in page and "@import" not in page and "url(" not in page
    for uri in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        Image.open(io.BytesIO(base64.b64decode(uri))).verify()  # every embedded picture is a valid PNG


def test_report_of_an_image_run(run_dir, tmp_path):
    evaluated = run_dir / "metrics.json"  # as `vaekit evaluate` writes it
    evaluated.write_text(json.dumps({"elbo": -31.5, "log_likelihood": -30.25, "k": 20}))
    try:
        start = time.perf_counter()
        out = write_report(run_dir, tmp_path / "r" / "report.html")
        assert time.perf_counter() - start < 20  # a few seconds on a quiet machine
    finally:
        evaluated.unlink()
    assert out == tmp_path / "r" / "report.html" and list(out.parent.iterdir()) == [out]
    page = out.read_text()
    assert_self_contained(page)
    found = sections(page)
    for title in ["Loss curves", *IMAGE_SECTIONS, "Latent scatter"]:
        assert "data:image/png;base64," in found[title], title
    assert page.count("data:image/png;base64,") == 8  # curves, samples, recon, 2 interpolations, traversal, ...
    assert '"latent_dim": 3' in found["Config"]
    assert "val_elbo" in found["Metrics"] and "-30.2500" in found["Metrics"]  # last epoch and metrics.json


def test_report_command_writes_into_the_run_folder(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file() and str(run_dir / "report.html") in capsys.readouterr().out


def test_report_of_a_non_image_run_skips_the_image_sections(array_run_dir):
    page = write_report(array_run_dir).read_text()
    assert_self_contained(page)
    found = sections(page)
    assert {"Config", "Metrics", "Loss curves", "Latent scatter"} <= set(found)
    assert not set(IMAGE_SECTIONS) & set(found)
    assert "not images" in found["Pictures"] and "(6,)" in found["Pictures"]
    assert page.count("data:image/png;base64,") == 2  # curves and scatter
