"""The HTML report: one self-contained file, a picture per section, non-image runs without image sections."""

from __future__ import annotations

import base64
import html
import io
import json
import re

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
        out = write_report(run_dir, tmp_path / "r" / "report.html")
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
    assert "have no picture" in found["Pictures"] and "(6,)" in found["Pictures"]
    assert page.count("data:image/png;base64,") == 2  # curves and scatter
    text = summary(page)  # a Gaussian p(x|z) is a density: no bits/dim
    assert "Gaussian likelihood" in text and "on array (6)" in text and "bits/dim" not in text


def summary(page: str) -> str:
    return html.unescape(re.search(r'<p class="summary">(.*?)</p>', page, flags=re.S).group(1))


def last_epoch_record(run_dir) -> dict:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "epoch"][-1]


def test_report_opens_with_the_key_figures_then_samples_and_ends_with_the_folded_config(run_dir, tmp_path):
    ev = {"elbo": -31.47, "log_likelihood": -30.21, "bits_per_dim": 0.1234, "active_units": 2, "latent_dim": 3,
          "k": 20, "n": 120, "split": "test"}
    (run_dir / "metrics.json").write_text(json.dumps(ev))
    try:
        page = write_report(run_dir, tmp_path / "report.html").read_text()
    finally:
        (run_dir / "metrics.json").unlink()
    titles = re.findall(r"<section><h2>(.*?)</h2>", page)
    assert titles[:2] == ["Samples", "Reconstructions"] and titles[-1] == "Config"
    assert page.index('<p class="summary">') < page.index("<section>")  # the sentence comes before every section
    config = sections(page)["Config"]
    assert re.fullmatch(r"\s*<details><summary>[^<]*</summary><pre>.*</pre></details>\s*", config, flags=re.S)
    assert json.loads(html.unescape(re.search(r"<pre>(.*)</pre>", config, flags=re.S).group(1)))["model"][
        "latent_dim"] == 3

    last, text = last_epoch_record(run_dir), summary(page)
    assert text.startswith("MLP VAE (hidden 32), 3 latent dimensions, Bernoulli likelihood, trained 1 epoch (")
    assert f"on shapes (1x16x16); test log p(x) {ev['log_likelihood']:.1f} nats ({ev['bits_per_dim']:.3g} " \
           f"bits/dim, k = 20), test ELBO {ev['elbo']:.1f} nats" in text
    assert f"validation ELBO {last['val_elbo']:.1f} nats ({last['val_bits_per_dim']:.3g} bits/dim)" in text
    assert f"{last['wall_seconds']:.0f} s" in text and text.endswith("active units 2 of 3.")


def test_report_metrics_are_a_labelled_table_not_a_dump_of_the_record(run_dir, tmp_path):
    page = write_report(run_dir, tmp_path / "report.html").read_text()
    metrics, last = sections(page)["Metrics"], last_epoch_record(run_dir)
    shown = dict(re.findall(r"<tr><th[^>]*>(.*?)</th><td>(.*?)</td></tr>", metrics))
    assert shown["validation ELBO"] == f"{last['val_elbo']:.4f} nats"
    assert shown["validation rate, KL(q(z|x) || p(z))"] == f"{last['val_rate']:.4f} nats"
    assert shown["epochs trained"] == "1" and shown["speed (last epoch)"] == f"{last['images_per_s']:.0f} items/s"
    assert "kind" not in metrics and ">epoch<" not in metrics and ">val_elbo<" not in metrics
    assert "vaekit evaluate" in summary(page)  # no metrics.json: the sentence says how to get the test figures


def test_report_shows_items_as_their_kind_shows_them(run_dir, tmp_path, monkeypatch):
    """Every item section goes through the kind's html_grid (a sentence kind shows lines, a sound kind
    players): the report itself draws no item."""
    from vaekit.kinds.images import ImageKind

    shown = []

    def html_grid(self, items, alt, per_row=None, stats=None):
        shown.append((alt, len(items), per_row))
        return f'<p class="shown">{alt}</p>'

    monkeypatch.setattr(ImageKind, "html_grid", html_grid)
    found = sections(write_report(run_dir, tmp_path / "report.html").read_text())
    for title in IMAGE_SECTIONS:
        assert '<p class="shown">' in found[title] and "data:image/png" not in found[title], title
    assert ("samples", 64, 8) in shown and ("reconstructions", 64, 8) in shown  # 32 pairs, 8 a row
