// The class of a class-conditional picture or sound run (explore/classes.py): the selector every decode uses,
// the upload's class, the conversion row (one code decoded with every class), and the sliders' "random" (a
// draw from the prior, decoded with the selected class on every run). Loaded before the page's own script;
// these functions use its helpers ($, api, postJSON, latestOnly, showMedia, decode, ...) when they are called.
"use strict";

// a request body with the selected class, for a conditional model only: other runs' bodies stay as they were
const withLabel = (body) => (info.n_classes ? {...body, label: chosenLabel()} : body);

function classOptions(id) {
  const select = $(id);
  info.class_names.forEach((name, c) => { select.add(new Option(name, String(c))); });
}

function startClasses() {
  convertItem = latestOnly(convertTask);
  classOptions("class");
  classOptions("upload-label");
  ["class-box", "upload-label-box", "convert-panel"].forEach((id) => { $(id).hidden = false; });
  $("class").addEventListener("change", () => { decode(media()); interpolate(media()); });
}

// one column per class: its picture (and its player, for sounds) and the class's name
function showConversions(row, what) {
  $("convert-what").textContent = what;
  const box = $("convert-row");
  box.innerHTML = "";
  row.forEach((c, k) => {
    const col = document.createElement("div");
    col.className = "col";
    col.innerHTML = `<img id="conv-${k}" class="pix mid"><audio id="conv-audio-${k}" controls hidden></audio><span></span>`;
    col.querySelector("img").alt = `as ${c.name}`;
    col.querySelector("span").textContent = c.name;
    box.appendChild(col);
    showMedia(c, `conv-${k}`, `conv-audio-${k}`, false);
  });
}

// test item i's conversion row, the newest pick only (made by `latestOnly` once the page's script has run)
let convertItem = null;
async function convertTask(i) {
  const r = await api(`/api/convert/${i}`);
  showConversions(r.conversions, `test item ${i} (A, class ${r.name}) read with its class, E[z|x, y], decoded with ` +
                                 "every class");
}

// "random": z ~ p(z) from the server (seeded, within the sliders' ranges) set on the sliders, then decoded
let randomSeed = 0;
async function randomDraw() {
  try {
    const r = await postJSON("/api/random", withLabel({seed: randomSeed++}));
    r.z.forEach((v, d) => { z[d] = v; $(`z${d}`).value = v; $(`z${d}-out`).textContent = v.toFixed(2); });
    decode(media());
  } catch (e) { showError(e.message); }
}
